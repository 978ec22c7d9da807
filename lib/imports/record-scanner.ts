/**
 * Finds where CSV records end and how many fields each has, without decoding a single value.
 *
 * Hand-written on purpose: PostgreSQL's COPY parses the values (the fast path in design.md),
 * and Node only needs record boundaries (for the byte checkpoint) and field counts (so that a
 * ragged record becomes a reject instead of failing its whole batch). No CSV library exposes
 * byte offsets of records; papaparse counts characters and csv-parse is four times slower
 * than COPY itself. The quote rule is PostgreSQL's own (CopyReadLineText in CSV mode): every
 * quote character toggles "inside quotes", so `""` inside a quoted field toggles twice and a
 * quote in the middle of an unquoted field opens a quoted section, exactly as COPY reads it.
 */

const LF = 0x0a
const CR = 0x0d
const COMMA = 0x2c
const QUOTE = 0x22

/** A record left out of the COPY stream: rejected (with a reason) or blank (skipped). */
export type ExcludedRecord = { start: number; end: number; line: number; reason: string | null }

export type ScanResult = {
  /** Bytes consumed: just past the newline of the last complete record. */
  end: number
  /** Complete records scanned, blank lines not included. */
  records: number
  /** Line number of the first record after `end` (newlines inside quoted values count). */
  nextLine: number
  /** Records kept out of COPY, in file order. */
  excluded: ExcludedRecord[]
}

export type ScanOptions = {
  /** Fields every record must have; null scans without checking (the header). */
  fields: number | null
  /** Line number of the first record in the buffer. */
  line: number
  /** The buffer ends at the end of the file: a last record without a newline is complete. */
  final: boolean
  /** Stop after this many records (1 for the header). */
  maxRecords?: number
}

/** Scans whole records from the start of `buf`; an incomplete last record is left for the next read. */
export function scanRecords(buf: Uint8Array, opts: ScanOptions): ScanResult {
  const { fields, final } = opts
  const max = opts.maxRecords ?? Infinity
  const excluded: ExcludedRecord[] = []
  let records = 0
  let end = 0 // start of the current record
  let line = opts.line
  let inQuotes = false
  let delimiters = 0
  let recordNewlines = 0
  const n = buf.length

  const finishRecord = (stop: number, next: number) => {
    // A line with nothing on it is not a record (COPY would read it as one empty field).
    const blank = stop === end || (stop === end + 1 && buf[end] === CR)
    if (blank) excluded.push({ start: end, end: next, line, reason: null })
    else {
      records++
      const found = delimiters + 1
      if (fields !== null && found !== fields) {
        excluded.push({ start: end, end: next, line, reason: `expected ${fields} fields, found ${found}` })
      }
    }
    line += recordNewlines
    end = next
    delimiters = 0
    recordNewlines = 0
  }

  for (let i = 0; i < n && records < max; i++) {
    const c = buf[i]
    if (c === QUOTE) inQuotes = !inQuotes
    else if (inQuotes) {
      if (c === LF) recordNewlines++
    } else if (c === COMMA) delimiters++
    else if (c === LF) {
      recordNewlines++
      finishRecord(i, i + 1)
    }
  }

  if (final && end < n && records < max) {
    if (inQuotes) {
      records++
      excluded.push({ start: end, end: n, line, reason: 'a quoted field is not closed before the end of the file' })
      end = n
    } else finishRecord(n, n)
  }
  return { end, records, nextLine: line, excluded }
}
