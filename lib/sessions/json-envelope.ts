import { SluiceError } from '../http/errors'
import type { RecordColumns } from './batch-records'
import { numberEnd, RecordTranscoder, skipSpace, stringEnd } from './record-transcoder'
import { BatchEnvelope } from './schemas'

/** Where a JSON batch's records are in its body, unparsed: the bytes between `[` and `]`, and how many elements. */
export type RecordSpan = { start: number; end: number; count: number }

/** A JSON batch body (`{"records": […], "sequence": n}`) parsed whole with zod: the general route. */
export function parseEnvelope(bytes: Buffer): { records: unknown[]; sequence?: number | undefined } {
  let body: unknown
  try {
    body = JSON.parse(bytes.toString('utf8'))
  } catch {
    throw new SluiceError('BAD_REQUEST', 'The body is not valid JSON')
  }
  return BatchEnvelope.parse(body)
}

/**
 * The envelope of a JSON batch body read without parsing its records: its sequence and where
 * its records lie, for RecordTranscoder to read each once. Null for anything but the plain
 * envelope (another key, a key twice, a sequence zod would refuse): parseEnvelope then reads
 * the body and says what is wrong. The records are only skipped here (strings and brackets),
 * so a body this accepts may still be malformed inside them; the transcoder then declines.
 */
export function scanEnvelope(bytes: Buffer): { records: RecordSpan; sequence?: number } | null {
  const end = bytes.length
  let p = skipSpace(bytes, 0, end)
  if (bytes[p] !== 0x7b /* { */) return null
  let records: RecordSpan | undefined
  let sequence: number | undefined
  for (p = skipSpace(bytes, p + 1, end); ; ) {
    const keyEnd = bytes[p] === 0x22 ? stringEnd(bytes, p, end) : -1
    if (keyEnd < 0) return null
    const key = bytes.toString('latin1', p + 1, keyEnd - 1)
    p = skipSpace(bytes, keyEnd, end)
    if (bytes[p] !== 0x3a /* : */) return null
    p = skipSpace(bytes, p + 1, end)
    if (key === 'records' && !records) {
      records = skipArray(bytes, p) ?? undefined
      if (!records) return null
      p = records.end + 1
    } else if (key === 'sequence' && sequence === undefined) {
      const numberAt = numberEnd(bytes, p, end)
      if (numberAt < 0) return null
      sequence = Number(bytes.toString('latin1', p, numberAt))
      if (!Number.isSafeInteger(sequence) || sequence < 0) return null
      p = numberAt
    } else return null
    p = skipSpace(bytes, p, end)
    if (bytes[p] === 0x2c /* , */) {
      p = skipSpace(bytes, p + 1, end)
      continue
    }
    if (bytes[p] !== 0x7d /* } */ || skipSpace(bytes, p + 1, end) !== end || !records) return null
    return sequence === undefined ? { records } : { records, sequence }
  }
}

/** The array opening at p, skipped: where its elements are and how many (commas at its own depth, plus one). */
function skipArray(bytes: Buffer, p: number): RecordSpan | null {
  if (bytes[p] !== 0x5b /* [ */) return null
  const start = p + 1
  // The closing bracket each open one needs, innermost last.
  const closers: number[] = []
  let commas = 0
  for (let i = p; i < bytes.length; i++) {
    const b = bytes[i]!
    if (b === 0x22) {
      const after = stringEnd(bytes, i, bytes.length)
      if (after === -1) return null
      i = Math.abs(after) - 1
    } else if (b === 0x5b || b === 0x7b) closers.push(b + 2) // ] and } follow [ and { by two
    else if (b === 0x5d || b === 0x7d) {
      if (closers.pop() !== b) return null
      if (closers.length === 0) {
        const empty = skipSpace(bytes, start, i) === i
        return { start, end: i, count: empty ? 0 : commas + 1 }
      }
    } else if (b === 0x2c && closers.length === 1) commas++
  }
  return null
}

/**
 * A JSON batch's records as CSV for COPY, each read once by the transcoder; null as soon as it
 * declines one (the caller then parses the batch, which refuses or takes it exactly).
 */
export function transcodeRecords(bytes: Buffer, span: RecordSpan, columns: RecordColumns): { records: number; csv: Buffer } | null {
  const transcoder = new RecordTranscoder(columns)
  // Room for every line: each takes at most maxLineBytes of its record's length.
  const out = Buffer.allocUnsafe(span.end - span.start + span.count * transcoder.maxLineBytes(0))
  let o = 0
  let records = 0
  for (let p = skipSpace(bytes, span.start, span.end); p < span.end; records++) {
    o = transcoder.transcode(bytes, p, span.end, out, o, false)
    if (o < 0) return null
    p = skipSpace(bytes, transcoder.recordEnd, span.end)
    if (p < span.end) {
      if (bytes[p] !== 0x2c /* , */) return null
      p = skipSpace(bytes, p + 1, span.end)
      if (p >= span.end) return null
    }
  }
  return { records, csv: out.subarray(0, o) }
}
