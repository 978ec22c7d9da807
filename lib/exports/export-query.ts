import pg from 'pg'
import type { Import } from '../db/generated/client'
import { SluiceError } from '../http/errors'
import { COLUMN_TYPE_LABELS } from '../csv/column-types'
import { columnsOf, importTableSql, quoteIdent, type TypedColumn } from '../imports/column-names'
import { fileOrderSql } from '../imports/import-table'
import { STORED_ORDER_SETTINGS } from '../imports/row-order'
import type { Dialect } from '../csv/sniff'
import { exportWriting, type ExportWriting } from './export-format'
import { isDateOnly, type ExportFilter } from './schemas'

/**
 * Every export connection compares timestamps without an offset as UTC and writes dates and
 * timestamps in ISO 8601 (2024-01-31, 2024-01-31 12:00:00+00); reads a table whose
 * rows are stored in file order as stored (lib/imports/row-order.ts); and reads any other
 * through its row-number index instead of sorting it (the planner, without fresh statistics,
 * may think a sort is cheaper; measured here it costs about a third of the speed).
 */
export const EXPORT_SESSION_OPTIONS = `-c TimeZone=UTC -c DateStyle=ISO,YMD -c enable_sort=off ${STORED_ORDER_SETTINGS}`

// OWASP's advice against CSV injection: a cell that a spreadsheet would run as a formula
// starts with one of these; a single quote in front makes it text.
const FORMULA_STARTS = ['=', '+', '-', '@', '\t', '\r']

// A value counts as a date when it starts like an ISO 8601 date and PostgreSQL can read it as
// a timestamp; "today" or "epoch", which PostgreSQL also reads, do not count.
const ISO_DATE_START = '^\\s*\\d{4}-\\d{2}-\\d{2}'

export type ExportQuery = {
  /** What comes before the rows: the header line from the file's own headers (and a byte-order mark, if the format has one). */
  header: Buffer
  /** `COPY (SELECT …) TO STDOUT (…)` of the matching rows in file order. */
  copy: string
  /** `SELECT count(*) …` of the same rows. */
  count: string
  /** The format's own: what COPY's output goes through, its quote (for counting records), its Content-Type. */
  writing: ExportWriting
}

/**
 * The SQL of an export. COPY takes no parameters, so the range's ends are written into the
 * SQL as literals; they come validated (dates and ISO timestamps) and quoted anyway. Column
 * names come from the import's own list, never from the request: an unknown one is a 400.
 */
export function buildExportQuery(imp: Import, filter: ExportFilter): ExportQuery {
  const columns = columnsOf(imp.columns)
  const table = importTableSql(imp.tableName)
  const where = filter.column === undefined ? '' : ` WHERE ${rangeCondition(findColumn(columns, filter.column), filter)}`
  const writing = exportWriting(filter.format, imp.dialect as Dialect | null)
  const values = columns.map((c) => valueSql(c, writing, filter.protectFormulas))
  const headers = columns.map((c) => (filter.protectFormulas ? protectValue(c.header) : c.header))
  const select = `SELECT ${values.join(', ')} FROM ${table}${where}${imp.storedInFileOrder ? '' : ` ORDER BY ${fileOrderSql(imp)}`}`
  return {
    header: writing.preamble(headers),
    copy: `COPY (${select}) TO STDOUT (${writing.copyOptions})`,
    count: `SELECT count(*)::bigint AS n FROM ${table}${where}`,
    writing,
  }
}

/**
 * How many rows an export of this filter writes, and the first and last day of its date
 * column (when it names one) among all rows: for the export form, before it starts.
 */
export function buildExportPreviewSql(imp: Import, filter: Pick<ExportFilter, 'column' | 'from' | 'to'>): string {
  const table = importTableSql(imp.tableName)
  if (filter.column === undefined) return `SELECT count(*)::bigint AS rows, NULL::text AS first, NULL::text AS last FROM ${table}`
  const column = findColumn(columnsOf(imp.columns), filter.column)
  const day = valueAsDateSql(column, true)
  return `SELECT count(*) FILTER (WHERE ${rangeCondition(column, { ...filter, protectFormulas: false, format: 'standard' })})::bigint AS rows,
    min(${day})::text AS first, max(${day})::text AS last FROM ${table}`
}

/**
 * A column's value as the export writes it: as its format writes it (a boolean as true/false,
 * where COPY would write t/f); only text can hold a formula.
 */
function valueSql(column: TypedColumn, writing: ExportWriting, protectFormulas: boolean): string {
  const v = quoteIdent(column.name)
  return protectFormulas && column.type === 'text' ? protectedValueSql(v) : writing.value(column, v)
}

function findColumn(columns: Array<TypedColumn>, name: string): TypedColumn {
  const column = columns.find((c) => c.name === name)
  if (!column) {
    const known = columns.map((c) => c.name).join(', ')
    throw new SluiceError('BAD_REQUEST', `This import has no column "${name}"${known ? `; its columns are ${known}` : ''}`)
  }
  return column
}

/**
 * The range as SQL over the column. When both ends are dates, each value's date as
 * written in the file is compared (2024-01-31T23:30-05:00 is on the 31st); when either end
 * is a timestamp, instants are compared. Values that are not dates give NULL: outside every range.
 */
function rangeCondition(column: TypedColumn, filter: ExportFilter): string {
  const byDate = [filter.from, filter.to].every((end) => end === undefined || isDateOnly(end))
  const value = valueAsDateSql(column, byDate)
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

/**
 * The column's values as dates (byDate) or instants. A date or timestamp column is one
 * already (a timestamp's date is taken in UTC); a text column's values are read when they
 * look like ISO dates, and any other column has no dates.
 */
function valueAsDateSql(column: TypedColumn, byDate: boolean): string {
  const v = quoteIdent(column.name)
  if (column.type === 'date') return byDate ? v : `${v}::timestamptz`
  if (column.type === 'timestamptz') return byDate ? `(${v} AT TIME ZONE 'UTC')::date` : v
  if (column.type !== 'text') {
    throw new SluiceError('BAD_REQUEST', `Column "${column.name}" holds ${COLUMN_TYPE_LABELS[column.type]}s, not dates: pick a column of dates`)
  }
  const valueType = byDate ? 'timestamp' : 'timestamptz'
  return `(CASE WHEN ${v} ~ ${pg.escapeLiteral(ISO_DATE_START)} AND pg_input_is_valid(${v}, '${valueType}')
    THEN ${v}::${valueType}${byDate ? '::date' : ''} END)`
}

function protectedValueSql(v: string): string {
  const starts = FORMULA_STARTS.map((c) => pg.escapeLiteral(c)).join(', ')
  return `CASE WHEN left(${v}, 1) IN (${starts}) THEN '''' || ${v} ELSE ${v} END`
}

/** The same protection for the header, which is written here rather than by PostgreSQL. */
export function protectValue(value: string): string {
  return FORMULA_STARTS.some((c) => value.startsWith(c)) ? `'${value}` : value
}
