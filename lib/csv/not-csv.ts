import { formatBytes } from '../format'

/**
 * The checks a file's first bytes can pass or fail without parsing them: shared by the
 * server's sniffer and the browser, which runs them before it sends a byte, so that a 10 GB
 * video is refused at once instead of after an hour of uploading. No Node modules: this runs in
 * the browser too.
 */

// Byte-order marks: a UTF-16 file is full of NUL bytes and still text.
const BOMS = [
  { bytes: [0xef, 0xbb, 0xbf], encoding: 'utf-8' },
  { bytes: [0xff, 0xfe], encoding: 'utf-16le' },
  { bytes: [0xfe, 0xff], encoding: 'utf-16be' },
] as const

// The first bytes of the files people most often drop by mistake.
const SIGNATURES: Array<{ bytes: number[]; kind: string }> = [
  { bytes: [0x89, 0x50, 0x4e, 0x47], kind: 'a PNG image' },
  { bytes: [0xff, 0xd8, 0xff], kind: 'a JPEG image' },
  { bytes: [0x47, 0x49, 0x46, 0x38], kind: 'a GIF image' },
  { bytes: [0x25, 0x50, 0x44, 0x46], kind: 'a PDF document' },
  { bytes: [0x50, 0x4b, 0x03, 0x04], kind: 'a ZIP archive (or an Excel workbook: save it as CSV first)' },
  { bytes: [0x1f, 0x8b], kind: 'a gzip archive: unpack it first' },
  { bytes: [0x7f, 0x45, 0x4c, 0x46], kind: 'an executable program' },
  { bytes: [0x4d, 0x5a], kind: 'a Windows program' },
  { bytes: [0xd0, 0xcf, 0x11, 0xe0], kind: 'an old Office document (save it as CSV first)' },
  { bytes: [0x53, 0x51, 0x4c, 0x69, 0x74, 0x65], kind: 'an SQLite database' },
]

const startsWith = (buf: Uint8Array, bytes: readonly number[]) => bytes.every((b, i) => buf[i] === b)

/** The byte-order mark the sample starts with, if any. */
export const bomOf = (sample: Uint8Array) => BOMS.find((b) => startsWith(sample, b.bytes))

// Binary data shows in its first bytes; reading more only costs time. Also what the browser reads.
export const FIRST_BYTES = 64 * 1024

/** Why a sample without a byte-order mark is not text: a known binary format, a NUL byte, or many control bytes. */
export function binaryReason(sample: Uint8Array): string | null {
  const signature = SIGNATURES.find((s) => startsWith(sample, s.bytes))
  if (signature) return `This file is ${signature.kind}, not a CSV file`
  if (looksBinary(sample)) return 'This file holds binary data, not text: it is not a CSV file'
  return null
}

/** A NUL byte, or more than 1% of bytes that are control characters other than tab, CR, LF and FF. */
function looksBinary(sample: Uint8Array): boolean {
  const n = Math.min(sample.length, FIRST_BYTES)
  let controls = 0
  for (let i = 0; i < n; i++) {
    const b = sample[i]!
    if (b === 0) return true
    if (b < 0x20 && b !== 0x09 && b !== 0x0a && b !== 0x0d && b !== 0x0c) controls++
  }
  return controls > n / 100
}

/**
 * Why the browser should not send a file, from its size and its first FIRST_BYTES bytes: empty,
 * over the server's limit, not text, or no line end where a CSV file would have had many.
 */
export function whyNotToUpload(first: Uint8Array, size: number, maxBytes: number): string | null {
  if (size === 0) return 'The file is empty: there is no header and no data'
  if (size > maxBytes) return `The file is ${formatBytes(size)}, larger than the limit of ${formatBytes(maxBytes)}`
  if (!bomOf(first)) {
    const binary = binaryReason(first)
    if (binary) return binary
  }
  if (size > FIRST_BYTES && !first.subarray(0, FIRST_BYTES).some((b) => b === 0x0a || b === 0x0d)) {
    return `No line ends in the first ${formatBytes(FIRST_BYTES)} of this file: it is not a CSV file of records`
  }
  return null
}
