import type { Dialect } from '../csv/sniff'

const LF = 0x0a
const CR = 0x0d

/** The bytes that shape a CSV record in a file's dialect: what the byte scanners look for. */
export type RecordSyntax = { delimiter: number; quote: number; escape: number; newline: number }

/** Comma, double quote doubled to escape it, records end at a line feed (CRLF ends there too). */
export const DEFAULT_SYNTAX: RecordSyntax = { delimiter: 0x2c, quote: 0x22, escape: 0x22, newline: LF }

export function recordSyntax(dialect: Pick<Dialect, 'delimiter' | 'quote' | 'escape' | 'newline'>): RecordSyntax {
  return {
    delimiter: dialect.delimiter.charCodeAt(0),
    quote: dialect.quote.charCodeAt(0),
    escape: dialect.escape.charCodeAt(0),
    newline: dialect.newline === '\r' ? CR : LF,
  }
}

export type RecordsEnd = {
  end: number
  nextLine: number
  /** Bytes of the longest whole record: only a record longer than a field limit can break it. */
  longest: number
  /**
   * A closing quote is followed by something other than a delimiter, a line break or another
   * quote: a quote opened on an earlier line and never closed there. COPY would read on, so
   * such a batch goes to the byte-by-byte scanner, which rejects that one line.
   */
  strayQuote: boolean
}

/** Whether the byte after a closing quote ends its field properly (or the buffer ends there). */
const endsField = (after: number | undefined, syntax: RecordSyntax) =>
  after === undefined || after === syntax.delimiter || after === syntax.newline || after === syntax.quote || after === LF || after === CR

/**
 * Where the last whole record in `buf` ends, and the line number after it, found with the
 * native `indexOf` (memchr) over line breaks and quotes only: about one call per line. This is
 * the fast path of a batch: PostgreSQL's COPY then parses every value and checks every
 * record's field count itself. Only a batch that COPY refuses for its shape (a ragged record,
 * a blank line) is scanned byte by byte, by scanRecords, to set those records aside.
 * A line break ends a record when the quotes before it are balanced: every quote toggles, as
 * in PostgreSQL's CSV reader. A dialect that escapes quotes with another character (a
 * backslash) needs to look at every byte, and takes findRecordsEndByteByByte.
 */
export function findRecordsEnd(buf: Buffer, line: number, final: boolean, syntax: RecordSyntax = DEFAULT_SYNTAX): RecordsEnd {
  if (syntax.escape !== syntax.quote) return findRecordsEndByteByByte(buf, line, final, syntax)
  const { quote: QUOTE, newline: NEWLINE } = syntax
  let end = 0
  let nextLine = line
  let lines = 0
  let longest = 0
  let inQuotes = false
  let strayQuote = false
  let quote = buf.indexOf(QUOTE)
  let lf = buf.indexOf(NEWLINE)
  while (lf !== -1) {
    while (quote !== -1 && quote < lf) {
      inQuotes = !inQuotes
      if (!inQuotes && !endsField(buf[quote + 1], syntax)) strayQuote = true
      quote = buf.indexOf(QUOTE, quote + 1)
    }
    lines++
    if (!inQuotes) {
      if (lf + 1 - end > longest) longest = lf + 1 - end
      end = lf + 1
      nextLine = line + lines
    }
    lf = buf.indexOf(NEWLINE, lf + 1)
  }
  if (final && end < buf.length) {
    // The last record has no line break: complete if its quotes are balanced.
    while (quote !== -1) {
      inQuotes = !inQuotes
      quote = buf.indexOf(QUOTE, quote + 1)
    }
    if (!inQuotes) {
      if (buf.length - end > longest) longest = buf.length - end
      end = buf.length
    }
  }
  return { end, nextLine, longest, strayQuote }
}

function findRecordsEndByteByByte(buf: Buffer, line: number, final: boolean, syntax: RecordSyntax): RecordsEnd {
  let end = 0
  let nextLine = line
  let lines = 0
  let longest = 0
  let inQuotes = false
  let strayQuote = false
  for (let i = 0; i < buf.length; i++) {
    const c = buf[i]
    if (inQuotes && c === syntax.escape && (buf[i + 1] === syntax.quote || buf[i + 1] === syntax.escape)) i++
    else if (c === syntax.quote) {
      inQuotes = !inQuotes
      if (!inQuotes && !endsField(buf[i + 1], syntax)) strayQuote = true
    } else if (c === syntax.newline) {
      lines++
      if (!inQuotes) {
        longest = Math.max(longest, i + 1 - end)
        end = i + 1
        nextLine = line + lines
      }
    }
  }
  if (final && end < buf.length && !inQuotes) {
    longest = Math.max(longest, buf.length - end)
    end = buf.length
  }
  return { end, nextLine, longest, strayQuote }
}

/** Where the first record (the header) ends, or 0 when `buf` holds no whole record yet. */
export function findFirstRecordEnd(
  buf: Buffer,
  line: number,
  final: boolean,
  syntax: RecordSyntax = DEFAULT_SYNTAX,
): { end: number; nextLine: number } {
  let inQuotes = false
  let lines = 0
  for (let i = 0; i < buf.length; i++) {
    const c = buf[i]
    if (inQuotes && c === syntax.escape && syntax.escape !== syntax.quote && (buf[i + 1] === syntax.quote || buf[i + 1] === syntax.escape)) i++
    else if (c === syntax.quote) inQuotes = !inQuotes
    else if (c === syntax.newline) {
      lines++
      if (!inQuotes) return { end: i + 1, nextLine: line + lines }
    }
  }
  return final && !inQuotes ? { end: buf.length, nextLine: line + lines } : { end: 0, nextLine: line }
}
