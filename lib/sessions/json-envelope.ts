import { SluiceError } from '../http/errors'
import type { RecordColumns } from './batch-records'
import { numberEnd, RecordTranscoder, skipSpace, stringEnd } from './record-transcoder'
import { BatchEnvelope } from './schemas'

/** Where a JSON batch's records are in its body, unparsed: the bytes between `[` and `]`, and how many elements. */
export type RecordSpan = { start: number; end: number; count: number }

/** A JSON batch's records as the CSV lines COPY reads. */
export type Transcoded = { records: number; csv: Buffer }

export type ScannedEnvelope = { records: RecordSpan; sequence?: number; written?: Transcoded | null }

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
 * its records lie. With the session's `columns` the records are transcoded to CSV in the same
 * pass (`written`; null when the transcoder declined one); without, they are only skipped
 * (strings and brackets), so a body this accepts may still be malformed inside them. Null for
 * anything but the plain envelope (another key, a key twice, a sequence zod would refuse):
 * parseEnvelope then reads the body and says what is wrong.
 */
export function scanEnvelope(bytes: Buffer, columns?: RecordColumns): ScannedEnvelope | null {
  const end = bytes.length
  let p = skipSpace(bytes, 0, end)
  if (bytes[p] !== 0x7b /* { */) return null
  let records: RecordSpan | undefined
  let written: Transcoded | null = null
  let sequence: number | undefined
  for (p = skipSpace(bytes, p + 1, end); ; ) {
    const keyEnd = bytes[p] === 0x22 ? stringEnd(bytes, p, end) : -1
    if (keyEnd < 0) return null
    const key = bytes.toString('latin1', p + 1, keyEnd - 1)
    p = skipSpace(bytes, keyEnd, end)
    if (bytes[p] !== 0x3a /* : */) return null
    p = skipSpace(bytes, p + 1, end)
    if (key === 'records' && !records) {
      const read = columns ? transcodeArray(bytes, p, columns) : null
      written = read?.written ?? null
      records = read?.span ?? skipArray(bytes, p) ?? undefined
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
    const scanned: ScannedEnvelope = columns ? { records, written } : { records }
    if (sequence !== undefined) scanned.sequence = sequence
    return scanned
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
export function transcodeRecords(bytes: Buffer, span: RecordSpan, columns: RecordColumns): Transcoded | null {
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

/**
 * The array of records opening at p transcoded as it is read, so that the body is read once
 * (skipping it first to find its end cost a third of a JSON batch's CPU); null as soon as the
 * transcoder declines a record or the array does not end as JSON's does.
 */
function transcodeArray(bytes: Buffer, p: number, columns: RecordColumns): { span: RecordSpan; written: Transcoded } | null {
  if (bytes[p] !== 0x5b /* [ */) return null
  const transcoder = new RecordTranscoder(columns)
  const start = p + 1
  const end = bytes.length
  // A record's line takes at most its bytes and maxLineBytes(0) more: the room left is checked against what is left to read.
  const lineRoom = transcoder.maxLineBytes(0)
  let out = Buffer.allocUnsafe(end - start + lineRoom)
  let o = 0
  let records = 0
  p = skipSpace(bytes, start, end)
  if (bytes[p] !== 0x5d /* ] */) {
    for (;;) {
      if (out.length - o < end - p + lineRoom) {
        const larger = Buffer.allocUnsafe(Math.max(2 * out.length, o + end - p + lineRoom))
        out.copy(larger, 0, 0, o)
        out = larger
      }
      o = transcoder.transcode(bytes, p, end, out, o, false)
      if (o < 0) return null
      records++
      p = skipSpace(bytes, transcoder.recordEnd, end)
      if (bytes[p] !== 0x2c /* , */) break
      p = skipSpace(bytes, p + 1, end)
    }
    if (bytes[p] !== 0x5d) return null
  }
  return { span: { start, end: p, count: records }, written: { records, csv: out.subarray(0, o) } }
}
