import { parse, type CsvError } from 'csv-parse/sync'
import type { ColumnType } from './column-types'
import { dateOrderOf, fitsColumn, sniffColumns, type DateOrder, type SniffedColumn } from './conventions'
import { decodeText, detectEncoding, NotCsvError, type Encoding } from './encoding'

/** How a CSV file is written: what the detail page shows and what COPY is told. */
export type Dialect = {
  encoding: Encoding
  /** Bytes of the byte-order mark at the start of the file (0 when it has none). */
  bom: number
  delimiter: ',' | ';' | '\t' | '|'
  quote: '"' | "'"
  /** The character that escapes a quote inside quotes: the quote itself ("") or a backslash. */
  escape: '"' | "'" | '\\'
  newline: '\n' | '\r\n' | '\r'
  /** Whether the first record names the columns. */
  header: boolean
  /** The order of the file's dates that are not ISO (31.01.2024 is DMY), for PostgreSQL's DateStyle; absent when it has none. */
  dateOrder?: DateOrder
}

export type Sniffed = {
  dialect: Dialect
  /** Column names as the file has them (for a file without a header, empty). */
  headers: string[]
  types: ColumnType[]
  /** Each column's type with the conventions its values are written in (conventions.ts). */
  columns: SniffedColumn[]
}

const DELIMITERS = [',', ';', '\t', '|'] as const
const QUOTINGS = [
  { quote: '"', escape: '"' },
  { quote: '"', escape: '\\' },
  { quote: "'", escape: "'" },
  { quote: "'", escape: '\\' },
] as const
// Records read per candidate dialect, and for the column types (DuckDB's sniffer reads 20,480).
const DIALECT_SAMPLE_RECORDS = 200
const DIALECT_SAMPLE_BYTES = 256 * 1024
const TYPE_SAMPLE_RECORDS = 20_000
const SAMPLE_BYTES = 4 * 1024 * 1024

/**
 * Detects a CSV file's encoding, dialect, header and column types from its first bytes, the
 * way DuckDB's CSV sniffer does: each candidate dialect parses the sample, and the one whose
 * records most often agree on a number of fields (more than one) wins, earlier candidates on a
 * tie. The first record is a header unless its values fit the types the other records give
 * their columns. Throws NotCsvError with the reason when the sample is not CSV.
 *
 * Hand-written on purpose: no well-kept JavaScript library sniffs more than the delimiter
 * (papaparse guesses that alone); csv-parse does the parsing.
 * `complete` says the sample is the whole file.
 */
export function sniffCsv(file: Buffer, wholeFile: boolean): Sniffed {
  // Bounded, so that sniffing costs the same few milliseconds whatever the batch size.
  const sample = file.subarray(0, SAMPLE_BYTES)
  const complete = wholeFile && sample.length === file.length
  const { encoding, bom } = detectEncoding(sample, complete)
  // The dialect is decided on the first records; the types on many more.
  const dialectBytes = sample.subarray(bom, bom + DIALECT_SAMPLE_BYTES)
  const dialectText = decodeText(dialectBytes, encoding)
  const dialectComplete = complete && bom + dialectBytes.length === sample.length
  if (!/\S/.test(dialectText)) throw new NotCsvError('The file has no records: it holds only blank lines')

  const candidates = QUOTINGS.flatMap(({ quote, escape }) => {
    // Line breaks are counted outside quotes; a quote that never closes turns inside and outside
    // around, so the count that ignores quotes is a candidate too (when it differs).
    const newlines = [...new Set([detectNewline(dialectText, quote), detectNewline(dialectText, null)])]
    return newlines.flatMap((newline) =>
      DELIMITERS.map((delimiter) => {
        const parsed = parseSample(dialectText, { delimiter, quote, escape, newline, complete: dialectComplete, limit: DIALECT_SAMPLE_RECORDS })
        return parsed?.records.length ? { ...parsed, quote, escape, delimiter, newline, ...mostCommonFieldCount(parsed.records) } : null
      }),
    )
  }).filter((c) => c !== null)
  // A quote character the file does not use as one can swallow the rest of the sample in one
  // open quoted value: such a dialect, reading far fewer records than another, is not the file's.
  const mostRecords = Math.max(0, ...candidates.map((c) => c.records.length))
  // Ranked by the share of records that agree, then by whether the quote character opens a
  // field anywhere (a file without any reads the same with every quote), then by whether the
  // whole file leaves no quote open, then by fields.
  const rank = (c: (typeof candidates)[number]) => [
    c.fields > 1 ? c.agreeing / c.records.length : 0,
    opensFields(dialectText, c) ? 1 : 0,
    dialectComplete && c.unclosed ? 0 : 1,
    c.fields,
  ]
  let best: (typeof candidates)[number] | null = null
  for (const c of candidates) {
    if (c.unclosed && c.records.length * 2 < mostRecords) continue
    if (!best || isGreater(rank(c), rank(best))) best = c
  }
  if (!best) throw new NotCsvError('The file is not CSV: its quotes never balance in any usual CSV dialect')
  if (best.records.length >= 3 && best.agreeing * 2 < best.records.length) {
    const counts = best.records.slice(0, 5).map((r, i) => `line ${i + 1} has ${r.length}`)
    throw new NotCsvError(`The lines of this file do not agree on a number of columns (${counts.join(', ')}, …): it does not look like CSV`)
  }
  const { quote, escape, delimiter, newline } = best
  // csv-parse reads UTF-8 bytes: the file's own when it is UTF-8.
  const typeSample = encoding === 'utf-8' ? sample.subarray(bom) : Buffer.from(decodeText(sample.subarray(bom), encoding))
  const { records } = parseSample(typeSample, { delimiter, quote, escape, newline, complete, limit: TYPE_SAMPLE_RECORDS }) ?? best
  const fields = best.fields > 1 ? best.fields : Math.max(...records.slice(0, DIALECT_SAMPLE_RECORDS).map((r) => r.length))
  const [first = [], ...rest] = records
  if (first.length > fields) {
    throw new NotCsvError(`The first line has ${first.length} fields but the lines after it have ${fields}: it does not look like CSV`)
  }
  const agreeing = rest.filter((r) => r.length === fields)
  const afterFirst = sniffColumns(agreeing, fields, delimiter)
  // A header names its columns: in a column of numbers, dates or booleans, it is the value that does not fit.
  const typed = afterFirst.map((c, i) => ({ c, v: first[i] ?? '' })).filter(({ c }) => c.type !== 'text')
  const header = typed.length === 0 || typed.some(({ c, v }) => v !== '' && !fitsColumn(v, c.type, c.format))
  const columns = header ? afterFirst : sniffColumns(records.filter((r) => r.length === fields), fields, delimiter)
  const dateOrder = dateOrderOf(columns)
  return {
    dialect: { encoding, bom, delimiter, quote, escape, newline, header, ...(dateOrder ? { dateOrder } : {}) },
    headers: header ? Array.from({ length: fields }, (_, i) => first[i] ?? '') : [],
    types: columns.map((c) => c.type),
    columns,
  }
}

/** The line ending most records use: CRLF, LF or a lone CR (old Macs); line breaks inside quotes do not count. */
function detectNewline(text: string, quote: string | null): Dialect['newline'] {
  let crlf = 0
  let lf = 0
  let cr = 0
  let inQuotes = false
  for (let i = 0; i < Math.min(text.length, 1 << 20); i++) {
    const c = text[i]
    if (c === quote) inQuotes = !inQuotes
    else if (inQuotes) continue
    else if (c === '\n') lf++
    else if (c === '\r') {
      if (text[i + 1] === '\n') {
        crlf++
        i++
      } else cr++
    }
  }
  if (crlf > 0 && crlf >= lf && crlf >= cr) return '\r\n'
  return cr > lf ? '\r' : '\n'
}

type ParseOptions = Pick<Dialect, 'delimiter' | 'quote' | 'escape' | 'newline'> & { complete: boolean; limit: number }

// Records with a quote that does not close where it should, skipped per sample before a
// dialect counts as unable to read it.
const MAX_UNCLOSED_RECORDS = 3

/**
 * The sample's first records in one dialect, or null when the dialect cannot read them. A
 * record whose quote never closes (one bad record, or a sample cut inside a quoted value) would
 * swallow the rest of the sample: its first line is skipped and reading goes on after it, so
 * that one bad record cannot make the quote the other records use lose to one they do not.
 */
function parseSample(text: string | Buffer, opts: ParseOptions): { records: string[][]; unclosed: boolean } | null {
  const records: string[][] = []
  let unclosed = false
  let rest = typeof text === 'string' ? Buffer.from(text) : text
  for (let attempt = 0; rest.length > 0; attempt++) {
    let consumed = 0
    try {
      parse(rest, {
        delimiter: opts.delimiter,
        quote: opts.quote,
        escape: opts.escape,
        record_delimiter: opts.newline,
        relax_column_count: true,
        skip_empty_lines: true,
        to: opts.limit - records.length,
        on_record: (record: string[], context) => {
          records.push(record)
          consumed = context.bytes
          return null
        },
      })
      break
    } catch (error) {
      // An open quote that never closes ends the sample unclosed; one that closes on a later
      // line, in the middle of a field, ends in an invalid closing quote.
      const code = (error as CsvError).code
      if (code !== 'CSV_QUOTE_NOT_CLOSED' && code !== 'CSV_INVALID_CLOSING_QUOTE') return null
      unclosed = true
      if (attempt >= MAX_UNCLOSED_RECORDS) {
        if (code !== 'CSV_QUOTE_NOT_CLOSED') return null
        break
      }
      if (records.length >= opts.limit) break
      // Skip the first line of the record that never closes, and read on from the next one.
      const lineEnd = rest.indexOf(opts.newline, consumed)
      if (lineEnd < 0) break
      rest = rest.subarray(lineEnd + opts.newline.length)
    }
  }
  return { records: !opts.complete && records.length > 1 ? records.slice(0, -1) : records, unclosed }
}

/** Whether the quote character starts a field somewhere in the sample's first 64 KiB. */
function opensFields(text: string, c: { quote: string; delimiter: string }): boolean {
  const sample = text.slice(0, 1 << 16)
  return sample.startsWith(c.quote) || [c.delimiter, '\n', '\r'].some((before) => sample.includes(before + c.quote))
}

/** Lexicographic comparison of two rankings. */
function isGreater(a: number[], b: number[]): boolean {
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return a[i]! > b[i]!
  return false
}

function mostCommonFieldCount(records: string[][]): { fields: number; agreeing: number } {
  const counts = new Map<number, number>()
  for (const r of records) counts.set(r.length, (counts.get(r.length) ?? 0) + 1)
  let fields = 0
  let agreeing = 0
  for (const [n, count] of counts) if (count > agreeing || (count === agreeing && n > fields)) [fields, agreeing] = [n, count]
  return { fields, agreeing }
}
