/**
 * Finds where CSV records end and how many fields each has, without decoding a single value:
 * the slow path of a batch, taken when COPY refused the batch for its shape (see
 * record-boundaries.ts for the fast one).
 *
 * Hand-written on purpose: PostgreSQL's COPY parses the values (the fast path in design.md),
 * and Node only needs record boundaries (for the byte checkpoint) and field counts (so that a
 * ragged record becomes a reject instead of failing its whole batch). No CSV library exposes
 * byte offsets of records; papaparse counts characters and csv-parse is four times slower
 * than COPY itself. The quote rule is PostgreSQL's own (CopyReadLineText in CSV mode): every
 * quote character toggles "inside quotes", so `""` inside a quoted field toggles twice and a
 * quote in the middle of an unquoted field opens a quoted section, exactly as COPY reads it.
 */

import { formatBytes } from '../format'
import { DEFAULT_SYNTAX, type RecordSyntax } from './record-boundaries'

const LF = 0x0a
const CR = 0x0d

/** A record left out of the COPY stream: rejected (with a reason) or blank (skipped). */
export type ExcludedRecord = { start: number; end: number; line: number; reason: string | null }

export type ScanResult = {
  /** Bytes consumed: just past the line break of the last complete record. */
  end: number
  /** Complete records scanned, blank lines not included. */
  records: number
  /** Line number of the first record after `end` (line breaks inside quoted values count). */
  nextLine: number
  /** Records kept out of COPY, in file order. */
  excluded: ExcludedRecord[]
}

export type ScanOptions = {
  /** Fields every record must have. */
  fields: number
  /** Line number of the first record in the buffer. */
  line: number
  /** The buffer ends at the end of the file: a last record without a line break is complete. */
  final: boolean
  syntax?: RecordSyntax
  /** A record with a longer field (in bytes as written, quotes included) is rejected. */
  maxFieldBytes?: number
}

/** Scans whole records from the start of `buf`; an incomplete last record is left for the next read. */
export function scanRecords(buf: Uint8Array, opts: ScanOptions): ScanResult {
  const { fields, final } = opts
  const { delimiter: DELIMITER, quote: QUOTE, escape: ESCAPE, newline: NEWLINE } = opts.syntax ?? DEFAULT_SYNTAX
  const maxField = opts.maxFieldBytes ?? Infinity
  const escapes = ESCAPE !== QUOTE
  const excluded: ExcludedRecord[] = []
  // Plain locals, no closure over them: this loop runs once per byte of the file.
  let records = 0
  let start = 0 // start of the current record
  let fieldStart = 0
  let longField = 0 // 1-based number of the first field over the limit, 0 for none
  let line = opts.line
  let inQuotes = false
  let delimiters = 0
  let recordNewlines = 0
  const n = buf.length

  for (let i = 0; i < n; i++) {
    const c = buf[i]
    if (escapes && inQuotes && c === ESCAPE && (buf[i + 1] === QUOTE || buf[i + 1] === ESCAPE)) i++
    else if (c === QUOTE) {
      inQuotes = !inQuotes
      // A quote that closes on a later line in the middle of a field: the quote opened on the
      // record's first line never closed there. That line is rejected and reading goes on at
      // the next, so one stray quote costs one line, not the rest of the file.
      const after = buf[i + 1]
      if (!inQuotes && recordNewlines > 0 && i + 1 < n && after !== DELIMITER && after !== NEWLINE && after !== QUOTE && after !== LF && after !== CR) {
        const lineEnd = buf.indexOf(NEWLINE, start)
        records++
        excluded.push({ start, end: lineEnd + 1, line, reason: 'a quoted field opened on this line is not closed on it: the next quote, on a later line, is in the middle of a field' })
        line++
        i = lineEnd
        start = fieldStart = lineEnd + 1
        delimiters = longField = recordNewlines = 0
      }
    } else if (c === NEWLINE) {
      recordNewlines++
      if (inQuotes) continue
      if (!longField && i - fieldStart > maxField) longField = delimiters + 1
      // A line with nothing on it is not a record (COPY would read it as one empty field).
      if (i === start || (NEWLINE === LF && i === start + 1 && buf[start] === CR)) excluded.push({ start, end: i + 1, line, reason: null })
      else {
        records++
        const reason = delimiters + 1 !== fields ? wrongCount(fields, delimiters + 1) : longField ? tooLong(longField, maxField) : null
        if (reason) excluded.push({ start, end: i + 1, line, reason })
      }
      line += recordNewlines
      start = fieldStart = i + 1
      delimiters = longField = recordNewlines = 0
    } else if (c === DELIMITER && !inQuotes) {
      delimiters++
      if (!longField && i - fieldStart > maxField) longField = delimiters
      fieldStart = i + 1
    }
  }

  if (final && start < n) {
    records++
    if (!longField && n - fieldStart > maxField) longField = delimiters + 1
    // Lines after the one the quote opened on; the file's own last line break ends no line of its own.
    const linesAfter = recordNewlines - (buf[n - 1] === NEWLINE ? 1 : 0)
    const reason = inQuotes
      ? linesAfter > 0
        ? `a quoted field opened on this line is not closed before the end of the file, so the ${linesAfter} line${linesAfter === 1 ? '' : 's'} after it ${linesAfter === 1 ? 'was' : 'were'} read into this record`
        : 'a quoted field is not closed before the end of the file'
      : delimiters + 1 !== fields
        ? wrongCount(fields, delimiters + 1)
        : longField
          ? tooLong(longField, maxField)
          : null
    if (reason) excluded.push({ start, end: n, line, reason })
    start = n
  }
  return { end: start, records, nextLine: line, excluded }
}

const wrongCount = (expected: number, found: number) => `expected ${expected} fields, found ${found}`
const tooLong = (field: number, max: number) => `field ${field} is longer than ${formatBytes(max)}, the longest this server takes`
