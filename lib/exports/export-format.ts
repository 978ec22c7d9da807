import { Transform, type TransformCallback } from 'node:stream'
import { StringDecoder } from 'node:string_decoder'
import { stringify } from 'csv-stringify/sync'
import pg from 'pg'
import { datePatternSql } from '../csv/conventions'
import { encodeText, type Encoding } from '../csv/encoding'
import type { Dialect } from '../csv/sniff'
import { quoteIdent, type TypedColumn } from '../imports/column-names'

/**
 * The CSV an export writes: `standard` (UTF-8, comma, LF, ISO values), `as-written` (the
 * file's own delimiter, quotes, line endings, encoding, byte-order mark, number and date
 * conventions and missing markers, so that a file exported this way is the file again) and
 * `excel` (standard values as UTF-8 with a byte-order mark and CRLF, which Excel opens with
 * its accents intact).
 */
export const EXPORT_FORMATS = ['standard', 'as-written', 'excel'] as const
export type ExportFormat = (typeof EXPORT_FORMATS)[number]

/** How an export of one format writes: around, inside and after PostgreSQL's COPY … TO STDOUT. */
export type ExportWriting = {
  /** The options of COPY (…) TO STDOUT. */
  copyOptions: string
  /** The quote character of the output, and its records' line end: CsvRecordCounter counts them and writes that end. */
  quote: string
  lineEnd: string
  /** What comes before the rows: the byte-order mark and the header line, in the output's encoding. */
  preamble: (headers: string[]) => Buffer
  /** A column's value as SQL: its convention written back (as-written), or as COPY writes it. */
  value: (column: TypedColumn, v: string) => string
  /** What COPY's output goes through after the counter, for an encoding PostgreSQL cannot write (UTF-16); null for none. */
  encoder: () => Transform | null
  contentType: string
}

const BOMS: Record<Encoding, Buffer> = {
  'utf-8': Buffer.from([0xef, 0xbb, 0xbf]),
  'utf-16le': Buffer.from([0xff, 0xfe]),
  'utf-16be': Buffer.from([0xfe, 0xff]),
  'windows-1252': Buffer.alloc(0),
}

const STANDARD_DIALECT: Pick<Dialect, 'delimiter' | 'quote' | 'escape' | 'newline'> = { delimiter: ',', quote: '"', escape: '"', newline: '\n' }

/** How `format` writes an import read in `dialect` (null for a batch session's: it writes as standard). */
export function exportWriting(format: ExportFormat, dialect: Dialect | null): ExportWriting {
  const written = format === 'as-written' && dialect ? dialect : null
  const { delimiter, quote, escape, newline } = written ?? STANDARD_DIALECT
  const encoding: Encoding = written?.encoding ?? 'utf-8'
  const bom = format === 'excel' ? BOMS['utf-8'] : written && written.bom > 0 ? BOMS[encoding] : Buffer.alloc(0)
  const lineEnd = format === 'excel' ? '\r\n' : newline
  return {
    copyOptions: [
      'FORMAT csv',
      ...(written ? [`DELIMITER ${pg.escapeLiteral(delimiter)}`, `QUOTE ${pg.escapeLiteral(quote)}`, `ESCAPE ${pg.escapeLiteral(escape)}`] : []),
      // PostgreSQL writes Windows-1252 itself; UTF-16 it cannot, so it writes UTF-8 for the transform.
      ...(encoding === 'windows-1252' ? [`ENCODING 'WIN1252'`] : []),
    ].join(', '),
    quote,
    lineEnd,
    preamble: (headers) => {
      if (written && !written.header) return bom
      // Quoted where PostgreSQL's CSV output quotes: the delimiter, a quote or a line break
      // (csv-stringify looks for its own record delimiter only, so a lone CR is named here).
      const line = stringify([headers], { delimiter, quote, escape, record_delimiter: lineEnd, quoted_match: /[\r\n]/ })
      return Buffer.concat([bom, encodeText(line, encoding)])
    },
    value: (column, v) => (written ? asWrittenSql(column, v) : column.type === 'boolean' ? `${v}::text` : v),
    encoder: () => (encoding === 'utf-16le' || encoding === 'utf-16be' ? new Utf16Encoder(encoding) : null),
    contentType: `text/csv; charset=${encoding}`,
  }
}

/** A column's value as the file wrote it: its number or date convention, its marker for a missing value. */
function asWrittenSql(column: TypedColumn, v: string): string {
  const { format } = column
  let value = column.type === 'boolean' ? `${v}::text` : v
  if (format?.number) {
    const { decimal, thousands, plus } = format.number
    const text = `${v}::text`
    const whole = `split_part(ltrim(${text}, '-'), '.', 1)`
    const grouped = thousands ? `regexp_replace(${whole}, '(\\d)(?=(\\d{3})+$)', ${pg.escapeLiteral(`\\1${thousands}`)}, 'g')` : whole
    const sign = `CASE WHEN ${v} < 0 THEN '-'${plus ? ` WHEN ${v} > 0 THEN '+'` : ''} ELSE '' END`
    const fraction = `CASE WHEN strpos(${text}, '.') > 0 THEN ${pg.escapeLiteral(decimal)} || split_part(${text}, '.', 2) ELSE '' END`
    value = `(${sign} || ${grouped} || ${fraction})`
  } else if (format?.date) {
    value = `to_char(${v}, ${pg.escapeLiteral(datePatternSql(format.date))})`
  }
  return format?.missing === undefined ? value : `COALESCE((${value})::text, ${pg.escapeLiteral(format.missing)})`
}

/** UTF-8 as UTF-16 (little- or big-endian), a character cut between chunks kept for the next. */
class Utf16Encoder extends Transform {
  private readonly decoder = new StringDecoder('utf8')

  constructor(private readonly encoding: 'utf-16le' | 'utf-16be') {
    super()
  }

  override _transform(chunk: Buffer, _encoding: BufferEncoding, done: TransformCallback): void {
    done(null, encodeText(this.decoder.write(chunk), this.encoding))
  }

  override _flush(done: TransformCallback): void {
    done(null, encodeText(this.decoder.end(), this.encoding))
  }
}
