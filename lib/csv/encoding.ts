import { isUtf8 } from 'node:buffer'
import { binaryReason, bomOf } from './not-csv'

/** The encodings Sluice reads; everything is stored as UTF-8. */
export const ENCODINGS = ['utf-8', 'utf-16le', 'utf-16be', 'windows-1252'] as const
export type Encoding = (typeof ENCODINGS)[number]

/** A file Sluice will not read as CSV, with the reason a person should see. */
export class NotCsvError extends Error {}

/**
 * The file's encoding and the length of its byte-order mark, from its first bytes: a BOM
 * decides; otherwise valid UTF-8 is UTF-8 and anything else is Windows-1252 (what spreadsheets
 * on Windows write). A known binary format, or control bytes that no text has, is not CSV.
 * `complete` says the sample is the whole file (else a cut UTF-8 character at its end is fine).
 */
export function detectEncoding(sample: Uint8Array, complete: boolean): { encoding: Encoding; bom: number } {
  const bom = bomOf(sample)
  if (bom) return { encoding: bom.encoding, bom: bom.bytes.length }
  const binary = binaryReason(sample)
  if (binary) throw new NotCsvError(binary)
  return { encoding: isUtf8(complete ? sample : withoutCutCharacter(sample)) ? 'utf-8' : 'windows-1252', bom: 0 }
}

/** The sample without a UTF-8 character cut by its end. */
function withoutCutCharacter(sample: Uint8Array): Uint8Array {
  for (let i = sample.length - 1; i >= Math.max(0, sample.length - 4); i--) {
    const b = sample[i]!
    if (b < 0x80) return sample
    if (b >= 0xc0) {
      const length = b >= 0xf0 ? 4 : b >= 0xe0 ? 3 : 2
      return sample.length - i < length ? sample.subarray(0, i) : sample
    }
  }
  return sample
}

/** PostgreSQL's name for what COPY receives: UTF-16 is turned into UTF-8 before COPY (it reads no UTF-16). */
export const copyEncoding = (encoding: Encoding) => (encoding === 'windows-1252' ? 'WIN1252' : 'UTF8')

/** Text of bytes in the file's encoding (for the sample, the header and rejected records). */
export function decodeText(bytes: Uint8Array, encoding: Encoding): string {
  return new TextDecoder(encoding).decode(bytes)
}

/**
 * Bytes of the file as COPY receives them, and how many bytes of the file a prefix of them
 * came from (for the checkpoint). UTF-8 and Windows-1252 go to COPY as they are, so
 * PostgreSQL converts them at C speed; UTF-16 is decoded here.
 */
export function bytesForCopy(raw: Buffer, encoding: Encoding, final: boolean): { chunk: Buffer; fileBytes: (n: number) => number } {
  if (encoding !== 'utf-16le' && encoding !== 'utf-16be') return { chunk: raw, fileBytes: (n) => n }
  let units = raw.subarray(0, raw.length & ~1)
  // A surrogate pair cut by the end of the read waits for the next read.
  const last = encoding === 'utf-16le' ? units[units.length - 1] : units[units.length - 2]
  if (!final && last !== undefined && last >= 0xd8 && last <= 0xdb) units = units.subarray(0, units.length - 2)
  const chunk = Buffer.from(new TextDecoder(encoding, { ignoreBOM: true }).decode(units), 'utf8')
  // Records end at ASCII line breaks, so a prefix of `chunk` that fileBytes is asked about
  // is always whole characters: its UTF-16 length is two bytes per code unit.
  return { chunk, fileBytes: (n) => chunk.subarray(0, n).toString('utf8').length * 2 }
}

// Windows-1252's byte for each character it holds (0x81, 0x8d, 0x8f, 0x90 and 0x9d hold none).
const WINDOWS_1252 = new Map<string, number>()
for (let b = 0; b < 256; b++) {
  const ch = new TextDecoder('windows-1252').decode(Uint8Array.of(b))
  if (!WINDOWS_1252.has(ch)) WINDOWS_1252.set(ch, b)
}

/** Text as bytes of an encoding (a header written back as the file had it); a character Windows-1252 lacks becomes '?'. */
export function encodeText(text: string, encoding: Encoding): Buffer {
  if (encoding === 'utf-8') return Buffer.from(text, 'utf8')
  if (encoding === 'utf-16le') return Buffer.from(text, 'utf16le')
  if (encoding === 'utf-16be') return Buffer.from(text, 'utf16le').swap16()
  return Buffer.from(Array.from(text, (ch) => WINDOWS_1252.get(ch) ?? 0x3f))
}
