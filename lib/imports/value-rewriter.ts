import type { ColumnFormat } from '../csv/conventions'
import type { Encoding } from '../csv/encoding'
import type { RecordSyntax } from './record-boundaries'

/**
 * What COPY cannot read of a column's values by itself: a number's thousands separator and
 * decimal comma (PostgreSQL's numeric input knows neither), and the column's missing-value
 * marker. Dates need nothing here: the batch's DateStyle reads them.
 */
export type ValueRewrite = { thousands: Buffer | null; decimalComma: boolean; missing: Buffer | null }

/** Per column (by position) the rewrite its values need, or null when no column needs one. */
export function rewritesFor(columns: readonly { format?: ColumnFormat | undefined }[], encoding: Encoding): Array<ValueRewrite | null> | null {
  // The bytes COPY gets are UTF-8, or Windows-1252 (UTF-16 is made UTF-8 first): a separator is written in the same.
  const bytes = (text: string) => Buffer.from(text, encoding === 'windows-1252' ? 'latin1' : 'utf8')
  const plan = columns.map(({ format }) => {
    const number = format?.number
    const needs = (number && (number.thousands !== '' || number.decimal === ',')) || format?.missing !== undefined
    if (!needs) return null
    return {
      thousands: number?.thousands ? bytes(number.thousands) : null,
      decimalComma: number?.decimal === ',',
      missing: format?.missing === undefined ? null : bytes(format.missing),
    }
  })
  return plan.some((r) => r !== null) ? plan : null
}

const CR = 0x0d
const LF = 0x0a
const SPACE = 0x20

/**
 * Whole records with the values of the planned columns rewritten as COPY reads them, in place:
 * `1.234,56` becomes `1234.56 `, padded with spaces to its written length (numeric and bigint
 * input ignore them), so that the bytes after it stay where they are and nothing is copied; a
 * marker becomes an empty value (NULL), and the bytes after it move up. A value that does not
 * keep its convention (a group of two digits, a letter) is left as it was, so that COPY
 * refuses it and the record becomes a reject with its line. Records keep their lines, so
 * COPY's line numbers still name the file's records. `records` is changed: read the file
 * again for its own bytes.
 *
 * Hand-written: a CSV library would decode and re-encode every value of every record; this
 * touches only the planned values, and reads the quotes as COPY does (every quote character
 * toggles "inside quotes"), as record-scanner.ts does.
 */
export function rewriteValues(records: Buffer, syntax: RecordSyntax, plan: ReadonlyArray<ValueRewrite | null>): Buffer {
  return rewriteRecords(records, 0, syntax, plan, Infinity).bytes
}

/**
 * The records rewritten in place in pieces of about `pieceBytes` that end where a record ends,
 * one at a time as COPY takes them: the next piece is rewritten while PostgreSQL parses the last.
 */
export function* rewrittenPieces(records: Buffer, syntax: RecordSyntax, plan: ReadonlyArray<ValueRewrite | null>, pieceBytes: number): Generator<Buffer> {
  for (let from = 0; from < records.length; ) {
    const { bytes, end } = rewriteRecords(records, from, syntax, plan, pieceBytes)
    if (bytes.length) yield bytes
    from = end
  }
}

/** The records from `from` on, rewritten, up to the first record that ends `maxBytes` or more past `from`; where that is. */
function rewriteRecords(records: Buffer, from: number, syntax: RecordSyntax, plan: ReadonlyArray<ValueRewrite | null>, maxBytes: number): { bytes: Buffer; end: number } {
  const { delimiter, quote, escape, newline } = syntax
  const n = records.length
  const last = plan.reduce((at, r, i) => (r ? i : at), -1)
  const first = plan.findIndex((r) => r !== null)
  // The bytes a field's scan stops at: anything else is skipped in a tight loop.
  const stops = new Uint8Array(256)
  for (const b of [delimiter, quote, escape, newline]) stops[b] = 1
  let w = from // records[from, w) is rewritten
  let moved = from // records[moved, …) is still to move up to w: the same place until a marker shortens a value
  let i = from
  // The next quote, delimiter and line break at or after i (n when none), each found with
  // indexOf (memchr) once per occurrence: a field with no quote before its end is found by
  // them alone, at a few nanoseconds a field instead of one per byte.
  let nextQuote = -1
  let nextDelimiter = -1
  let nextNewline = -1
  const next = (byte: number, at: number) => {
    const found = records.indexOf(byte, at)
    return found === -1 ? n : found
  }
  while (i < n && i - from < maxBytes) {
    // One record, read as COPY reads it: its fields up to the last planned one, then a jump to its end.
    let field = 0
    // The fields before the first planned one, while no quote or line break comes first: only counted.
    if (nextNewline < i) nextNewline = next(newline, i)
    if (nextQuote < i) nextQuote = next(quote, i)
    while (field < first) {
      if (nextDelimiter < i) nextDelimiter = next(delimiter, i)
      if (nextDelimiter > nextNewline || nextDelimiter > nextQuote) break
      i = nextDelimiter + 1
      field++
    }
    for (;;) {
      const start = i
      if (nextQuote < i) nextQuote = next(quote, i)
      if (nextDelimiter < i) nextDelimiter = next(delimiter, i)
      if (nextNewline < i) nextNewline = next(newline, i)
      const unquotedEnd = nextDelimiter < nextNewline ? nextDelimiter : nextNewline
      if (nextQuote > unquotedEnd) i = unquotedEnd
      else {
        // A quote in the field: byte by byte, every quote toggling "inside quotes".
        let inQuotes = false
        for (;;) {
          while (i < n && stops[records[i]!] === 0) i++
          if (i >= n) break
          const b = records[i]!
          if (inQuotes && b === escape && escape !== quote && (records[i + 1] === quote || records[i + 1] === escape)) i += 2
          else if (b === quote) {
            inQuotes = !inQuotes
            i++
          } else if (!inQuotes && (b === delimiter || b === newline)) break
          else i++
        }
      }
      const rewrite = plan[field]
      if (rewrite) {
        let end = i
        if (records[end - 1] === CR && (records[end] === LF || end === n)) end-- // a CRLF record's last value
        const reading = readingOf(records, start, end, rewrite, quote)
        if (reading !== KEEP) {
          if (w !== moved) records.copyWithin(w, moved, start)
          const at = w + start - moved
          let valueEnd = at
          if (reading === NUMBER) {
            valueEnd = writeNumber(records, start, end, rewrite, at)
            // Padded while nothing has moved, so that nothing has to.
            if (at === start) while (valueEnd < end) records[valueEnd++] = SPACE
          }
          w = valueEnd
          moved = end
        }
      }
      if (i >= n || records[i] === newline) break
      i++ // the delimiter
      field++
      if (field > last) {
        // Past the last planned column: on to the line break, unless a quote opens before it.
        if (nextQuote < i) nextQuote = next(quote, i)
        if (nextNewline < i) nextNewline = next(newline, i)
        if (nextQuote > nextNewline) {
          i = nextNewline
          break
        }
      }
    }
    if (i < n) i++ // the line break
  }
  if (w !== moved) records.copyWithin(w, moved, i)
  return { bytes: records.subarray(from, w + i - moved), end: i }
}

const KEEP = 0
const MISSING = 1
const NUMBER = 2

/** How the value in records[start, end) is read: the column's marker, a number of its convention, or neither (kept as written). */
function readingOf(records: Buffer, start: number, end: number, r: ValueRewrite, quote: number): typeof KEEP | typeof MISSING | typeof NUMBER {
  let s = start
  let e = end
  if (e - s >= 2 && records[s] === quote && records[e - 1] === quote) {
    s++
    e--
  }
  if (r.missing && e - s === r.missing.length && records.compare(r.missing, 0, r.missing.length, s, e) === 0) return MISSING
  if (!r.thousands && !r.decimalComma) return KEEP
  let p = s
  if (records[p] === 0x2b /* + */ || records[p] === 0x2d /* - */) p++
  let digits = 0 // in the group being read
  let groups = 0 // thousands separators read
  const sep = r.thousands
  const sep0 = sep ? sep[0] : -1
  for (; p < e; p++) {
    const b = records[p]!
    if (b >= 0x30 && b <= 0x39) digits++
    else if (b === sep0 && (sep!.length === 1 || records.compare(sep!, 0, sep!.length, p, Math.min(p + sep!.length, e)) === 0)) {
      // 1.234.567: one to three digits first, then groups of three.
      if (digits === 0 || digits > 3 || (groups > 0 && digits !== 3)) return KEEP
      groups++
      digits = 0
      p += sep!.length - 1
    } else break
  }
  if (digits === 0 || (groups > 0 && digits !== 3)) return KEEP
  if (p < e) {
    if (records[p] !== (r.decimalComma ? 0x2c : 0x2e)) return KEEP
    const fraction = ++p
    while (p < e && records[p]! >= 0x30 && records[p]! <= 0x39) p++
    if (p === fraction || p < e) return KEEP
  }
  return NUMBER
}

/**
 * Writes the number in records[start, end), which readingOf found of its convention, at `at`
 * (at or before `start`, so every byte is read before it is written over): its sign and
 * digits, a point for its decimal separator, no thousands separators or quotes. Its end.
 */
function writeNumber(records: Buffer, start: number, end: number, r: ValueRewrite, at: number): number {
  const decimal = r.decimalComma ? 0x2c : 0x2e
  let o = at
  for (let p = start; p < end; p++) {
    const b = records[p]!
    if ((b >= 0x30 && b <= 0x39) || b === 0x2b || b === 0x2d) records[o++] = b
    else if (b === decimal) records[o++] = 0x2e
  }
  return o
}
