import { stringify } from 'csv-stringify/sync'
import pg from 'pg'
import type { Import } from '../db/generated/client'
import { SluiceError } from '../http/errors'
import { importTableSql, quoteIdent, ROW_NUMBER_COLUMN, type ImportColumn } from '../imports/column-names'
import { STORED_ORDER_SETTINGS } from '../imports/row-order'
import { isDateOnly, type ExportFilter } from './schemas'

/**
 * Every export connection compares timestamps without an offset as UTC; reads a table whose
 * rows are stored in file order as stored (lib/imports/row-order.ts); and reads any other
 * through its row-number index instead of sorting it (the planner, without fresh statistics,
 * may think a sort is cheaper; measured here it costs about a third of the speed).
 */
export const EXPORT_SESSION_OPTIONS = `-c TimeZone=UTC -c enable_sort=off ${STORED_ORDER_SETTINGS}`

// OWASP's advice against CSV injection: a cell that a spreadsheet would run as a formula
// starts with one of these; a single quote in front makes it text.
const FORMULA_STARTS = ['=', '+', '-', '@', '\t', '\r']

// A value counts as a date when it starts like an ISO 8601 date and PostgreSQL can read it as
// a timestamp; "today" or "epoch", which PostgreSQL also reads, do not count.
const ISO_DATE_START = '^\\s*\\d{4}-\\d{2}-\\d{2}'

export type ExportQuery = {
  /** The header line, as CSV, from the file's own headers. */
  header: Buffer
  /** `SELECT …` of the matching rows in file order, for COPY (…) TO STDOUT. */
  select: string
  /** `SELECT count(*) …` of the same rows. */
  count: string
}

/**
 * The SQL of an export. COPY takes no parameters, so the range's ends are written into the
 * SQL as literals; they come validated (dates and ISO timestamps) and quoted anyway. Column
 * names come from the import's own list, never from the request: an unknown one is a 400.
 */
export function buildExportQuery(imp: Import, filter: ExportFilter): ExportQuery {
  const columns = (imp.columns as ImportColumn[] | null) ?? []
  const table = importTableSql(imp.tableName)
  const where = filter.column === undefined ? '' : ` WHERE ${rangeCondition(findColumn(columns, filter.column), filter)}`
  const values = columns.map((c) => (filter.protectFormulas ? protectedValueSql(quoteIdent(c.name)) : quoteIdent(c.name)))
  const headers = columns.map((c) => (filter.protectFormulas ? protectValue(c.header) : c.header))
  return {
    // Quoted where PostgreSQL's CSV output quotes: a comma, a quote or a line break (csv-stringify
    // looks for its own record delimiter only, so a lone carriage return is named here).
    header: Buffer.from(stringify([headers], { record_delimiter: '\n', quoted_match: /\r/ })),
    select: `SELECT ${values.join(', ')} FROM ${table}${where}${imp.storedInFileOrder ? '' : ` ORDER BY ${quoteIdent(ROW_NUMBER_COLUMN)}`}`,
    count: `SELECT count(*)::bigint AS n FROM ${table}${where}`,
  }
}

function findColumn(columns: ImportColumn[], name: string): ImportColumn {
  const column = columns.find((c) => c.name === name)
  if (!column) {
    const known = columns.map((c) => c.name).join(', ')
    throw new SluiceError('BAD_REQUEST', `This import has no column "${name}"${known ? `; its columns are ${known}` : ''}`)
  }
  return column
}

/**
 * The range as SQL over the column's text. When both ends are dates, each value's date as
 * written in the file is compared (2024-01-31T23:30-05:00 is on the 31st); when either end
 * is a timestamp, instants are compared. Values that are not dates give NULL: outside every range.
 */
function rangeCondition(column: ImportColumn, filter: ExportFilter): string {
  const v = quoteIdent(column.name)
  const byDate = [filter.from, filter.to].every((end) => end === undefined || isDateOnly(end))
  const valueType = byDate ? 'timestamp' : 'timestamptz'
  const value = `(CASE WHEN ${v} ~ ${pg.escapeLiteral(ISO_DATE_START)} AND pg_input_is_valid(${v}, '${valueType}')
    THEN ${v}::${valueType}${byDate ? '::date' : ''} END)`
  const literal = (end: string, type: string) => `${pg.escapeLiteral(end)}::${type}`
  const conditions = [`${value} IS NOT NULL`]
  if (byDate) {
    if (filter.from !== undefined) conditions.push(`${value} >= ${literal(filter.from, 'date')}`)
    if (filter.to !== undefined) conditions.push(`${value} <= ${literal(filter.to, 'date')}`)
  } else {
    if (filter.from !== undefined) conditions.push(`${value} >= ${literal(filter.from, 'timestamptz')}`)
    // A date as the last end includes its whole day.
    if (filter.to !== undefined) {
      conditions.push(isDateOnly(filter.to) ? `${value} < ${literal(filter.to, 'date')} + 1` : `${value} <= ${literal(filter.to, 'timestamptz')}`)
    }
  }
  return conditions.join(' AND ')
}

function protectedValueSql(v: string): string {
  const starts = FORMULA_STARTS.map((c) => pg.escapeLiteral(c)).join(', ')
  return `CASE WHEN left(${v}, 1) IN (${starts}) THEN '''' || ${v} ELSE ${v} END`
}

/** The same protection for the header, which is written here rather than by PostgreSQL. */
export function protectValue(value: string): string {
  return FORMULA_STARTS.some((c) => value.startsWith(c)) ? `'${value}` : value
}
