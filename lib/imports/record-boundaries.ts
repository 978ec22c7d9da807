const LF = 0x0a
const QUOTE = 0x22

/**
 * Where the last whole record in `buf` ends, and the line number after it, found with the
 * native `indexOf` (memchr) over line feeds and quotes only: about one call per line. This is
 * the fast path of a batch: PostgreSQL's COPY then parses every value and checks every
 * record's field count itself. Only a batch that COPY refuses for its shape (a ragged record,
 * a blank line) is scanned byte by byte, by scanRecords, to set those records aside.
 * A line feed ends a record when the quotes before it are balanced: every quote toggles, as
 * in PostgreSQL's CSV reader.
 */
export function findRecordsEnd(buf: Buffer, line: number, final: boolean): { end: number; nextLine: number } {
  let end = 0
  let nextLine = line
  let lines = 0
  let inQuotes = false
  let quote = buf.indexOf(QUOTE)
  let lf = buf.indexOf(LF)
  while (lf !== -1) {
    while (quote !== -1 && quote < lf) {
      inQuotes = !inQuotes
      quote = buf.indexOf(QUOTE, quote + 1)
    }
    lines++
    if (!inQuotes) {
      end = lf + 1
      nextLine = line + lines
    }
    lf = buf.indexOf(LF, lf + 1)
  }
  if (final && end < buf.length) {
    // The last record has no line feed: complete if its quotes are balanced.
    while (quote !== -1) {
      inQuotes = !inQuotes
      quote = buf.indexOf(QUOTE, quote + 1)
    }
    if (!inQuotes) end = buf.length
  }
  return { end, nextLine }
}

/** Where the first record (the header) ends, or 0 when `buf` holds no whole record yet. */
export function findFirstRecordEnd(buf: Buffer, line: number, final: boolean): { end: number; nextLine: number } {
  let inQuotes = false
  let lines = 0
  for (let i = 0; i < buf.length; i++) {
    const c = buf[i]
    if (c === QUOTE) inQuotes = !inQuotes
    else if (c === LF) {
      lines++
      if (!inQuotes) return { end: i + 1, nextLine: line + lines }
    }
  }
  return final && !inQuotes ? { end: buf.length, nextLine: line + lines } : { end: 0, nextLine: line }
}
