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

/**
 * Whole records with the values of the planned columns rewritten as COPY reads them: a marker
 * becomes an empty value (NULL), `1.234,56` becomes `1234.56`. A value that does not keep its
 * convention (a group of two digits, a letter) is left as it was, so that COPY refuses it and
 * the record becomes a reject with its line. Records keep their lines, so COPY's line numbers
 * still name the file's records.
 *
 * Hand-written: a CSV library would decode and re-encode every value of every record; this
 * copies the bytes between planned values as they are, and reads the quotes as COPY does
 * (every quote character toggles "inside quotes"), as record-scanner.ts does.
 */
export function rewriteValues(records: Buffer, syntax: RecordSyntax, plan: ReadonlyArray<ValueRewrite | null>): Buffer {
  return rewriteRecords(records, 0, syntax, plan, Infinity).bytes
}

/**
 * The records rewritten in pieces of about `pieceBytes` that end where a record ends, one at a
 * time as COPY takes them: the next piece is rewritten while PostgreSQL parses the last.
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
  // A rewritten value is never longer than it was; the last record may run past maxBytes.
  let out: Buffer = Buffer.allocUnsafe(Math.min(n - from, maxBytes + 64 * 1024))
  const last = plan.reduce((at, r, i) => (r ? i : at), -1)
  // The bytes a field's scan stops at: anything else is skipped in a tight loop.
  const stops = new Uint8Array(256)
  for (const b of [delimiter, quote, escape, newline]) stops[b] = 1
  let o = 0
  let copied = from // records[copied, …) is not in `out` yet
  let i = from
  // The next quote at or after i (n when none): found once per quote, not once per record.
  let nextQuote = -1
  while (i < n && i - from < maxBytes) {
    // One record, read as COPY reads it: its fields up to the last planned one, then a jump to its end.
    let field = 0
    for (;;) {
      const start = i
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
      const rewrite = plan[field]
      if (rewrite) {
        let end = i
        if (records[end - 1] === CR && (records[end] === LF || end === n)) end-- // a CRLF record's last value
        if (o + end - copied > out.length) out = larger(out, o + end - copied)
        const written = rewriteValue(records, start, end, rewrite, quote, out, o + start - copied)
        if (written >= 0) {
          records.copy(out, o, copied, start)
          o = written
          copied = end
        }
      }
      if (i >= n || records[i] === newline) break
      i++ // the delimiter
      field++
      if (field > last) {
        // Past the last planned column: on to the line break, unless a quote opens before it.
        if (nextQuote < i) {
          nextQuote = records.indexOf(quote, i)
          if (nextQuote === -1) nextQuote = n
        }
        const end = records.indexOf(newline, i)
        if (end !== -1 && nextQuote > end) {
          i = end
          break
        }
      }
    }
    if (i < n) i++ // the line break
  }
  if (o + i - copied > out.length) out = larger(out, o + i - copied)
  records.copy(out, o, copied, i)
  o += i - copied
  return { bytes: out.subarray(0, o), end: i }
}

/** `out` copied into a buffer of at least `bytes` (twice as large at least, so that growing stays linear). */
function larger(out: Buffer, bytes: number): Buffer {
  const grown = Buffer.allocUnsafe(Math.max(bytes, 2 * out.length))
  out.copy(grown)
  return grown
}

/**
 * Writes the value in records[start, end) as COPY should read it at `o`; returns the new end,
 * or -1 when it stays as it was (not the column's convention, or nothing to change).
 */
function rewriteValue(records: Buffer, start: number, end: number, r: ValueRewrite, quote: number, out: Buffer, o: number): number {
  let s = start
  let e = end
  if (e - s >= 2 && records[s] === quote && records[e - 1] === quote) {
    s++
    e--
  }
  if (r.missing && e - s === r.missing.length && records.compare(r.missing, 0, r.missing.length, s, e) === 0) return o
  if (!r.thousands && !r.decimalComma) return -1
  const from = o
  let p = s
  if (records[p] === 0x2b /* + */ || records[p] === 0x2d /* - */) out[o++] = records[p++]!
  let digits = 0 // in the group being read
  let groups = 0 // thousands separators read
  const sep = r.thousands
  for (; p < e; p++) {
    const b = records[p]!
    if (b >= 0x30 && b <= 0x39) {
      out[o++] = b
      digits++
    } else if (sep && records[p] === sep[0] && records.compare(sep, 0, sep.length, p, Math.min(p + sep.length, e)) === 0) {
      // 1.234.567: one to three digits first, then groups of three.
      if (digits === 0 || digits > 3 || (groups > 0 && digits !== 3)) return -1
      groups++
      digits = 0
      p += sep.length - 1
    } else break
  }
  if (digits === 0 || (groups > 0 && digits !== 3)) return -1
  if (p < e) {
    if (records[p] !== (r.decimalComma ? 0x2c : 0x2e)) return -1
    out[o++] = 0x2e
    p++
    const fraction = p
    for (; p < e; p++) {
      const b = records[p]!
      if (b < 0x30 || b > 0x39) return -1
      out[o++] = b
    }
    if (p === fraction) return -1
  }
  return o === from ? -1 : o
}
