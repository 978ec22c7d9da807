import type { ColumnType } from '../csv/column-types'
import type { ColumnFormat, DateFormat, DateOrder } from '../csv/conventions'

/**
 * A column of an imported table: its safe name, the header it came from, and its type
 * (absent for imports made before columns had types, and for batch sessions: text). `format`
 * says how the file writes its values when that is not ISO (a decimal comma, day-month-year
 * dates, a missing-value marker); `dateReadings` that a text column holds dates the sample
 * could read in either order (`dateShape` the rest of their pattern).
 */
export type ImportColumn = { name: string; header: string; type?: ColumnType; format?: ColumnFormat; dateReadings?: DateOrder[]; dateShape?: Omit<DateFormat, 'order'> }

/** A column with its type known (text for imports from before types). */
export type TypedColumn = ImportColumn & { type: ColumnType }

/** An import's stored columns, each with its type (text for imports from before types). */
export function columnsOf(stored: unknown): TypedColumn[] {
  return ((stored as ImportColumn[] | null) ?? []).map((c) => ({ ...c, type: c.type ?? 'text' }))
}

/** The schema of the imports' tables, one table per import. */
export const IMPORTED_SCHEMA = 'imported'

/** Holds each row's position in the file, so exports and previews keep the file's order. */
export const ROW_NUMBER_COLUMN = '_sluice_row'

// PostgreSQL truncates identifiers to 63 bytes (NAMEDATALEN - 1); names are cut before that so
// that two long headers cannot silently become the same column.
const MAX_IDENTIFIER_BYTES = 63

function cutToBytes(s: string, max: number): string {
  let out = ''
  for (const ch of s) {
    if (Buffer.byteLength(out + ch) > max) break
    out += ch
  }
  return out
}

/** Lower-case letters, digits and underscores (any script), no leading digit, at most `max` bytes. */
function slug(text: string, max: number): string {
  const s = text
    .normalize('NFC')
    .trim()
    .toLowerCase()
    .replace(/[^\p{L}\p{N}]+/gu, '_')
    .replace(/^_+|_+$/g, '')
  return cutToBytes(/^\p{N}/u.test(s) ? `_${s}` : s, max).replace(/_+$/, '')
}

// PostgreSQL's system columns: a table cannot have a column of these names (object-detection
// box files have xmin, xmax, …), so such a header gets a numbered name like a repeated one.
const SYSTEM_COLUMNS = ['tableoid', 'xmin', 'cmin', 'xmax', 'cmax', 'ctid']

/**
 * Safe column names for a header row: trimmed, readable in SQL without quoting, unique, and
 * never empty (an empty header becomes `column_<n>`). Every name still reaches SQL quoted.
 */
export function columnsFromHeaders(headers: readonly string[], types?: readonly ColumnType[]): ImportColumn[] {
  const taken = new Set<string>([ROW_NUMBER_COLUMN, '_sluice_batch', ...SYSTEM_COLUMNS])
  return headers.map((header, i) => {
    const base = slug(header, MAX_IDENTIFIER_BYTES - 6) || `column_${i + 1}`
    let name = base
    for (let n = 2; taken.has(name); n++) name = `${base}_${n}`
    taken.add(name)
    return types ? { name, header, type: types[i] ?? 'text' } : { name, header }
  })
}

/** The name of an import's table: readable from the file name, unique by the import's id. */
export function tableNameFor(fileName: string, importId: string): string {
  const stem = slug(fileName.replace(/\.[^.]*$/, ''), 40) || 'import'
  return `${stem}_${importId.replace(/-/g, '').slice(0, 8)}`
}

/** Quotes an identifier for SQL: "name", with embedded quotes doubled. */
export const quoteIdent = (name: string) => `"${name.replace(/"/g, '""')}"`

/** An import's table, schema-qualified and quoted for SQL. */
export const importTableSql = (tableName: string) => `${quoteIdent(IMPORTED_SCHEMA)}.${quoteIdent(tableName)}`

/** The import's columns as a quoted SQL list, in file order. */
export const columnListSql = (columns: readonly ImportColumn[]) => columns.map((c) => quoteIdent(c.name)).join(', ')


/**
 * CREATE TABLE for a batch session's import: the row number, then one column per header, of
 * its type. No sequence CACHE: each connection caches its own range, and a session's batches
 * are applied one at a time (under its import's row lock) on whichever pooled connection the
 * request got, so cached ranges numbered them out of the order they were applied in.
 */
export function createImportTableSql(tableName: string, columns: readonly ImportColumn[]): string {
  const defs = columns.map((c) => `${quoteIdent(c.name)} ${c.type ?? 'text'}`).join(', ')
  return `CREATE TABLE ${importTableSql(tableName)} (${quoteIdent(ROW_NUMBER_COLUMN)} bigint GENERATED ALWAYS AS IDENTITY, ${defs})`
}

// PostgreSQL stores a row in one 8 KiB page (8,160 bytes at most) and moves only long values
// out of line: 1,100 bigint columns (8 bytes each) already fail with "row is too big".
const MAX_ROW_BYTES = 8160
const ROW_OVERHEAD_BYTES = 24 + 16 // the tuple header, the batch and the row number
// The least a value of each type takes in a row; a short text value is a 1-byte header and its text.
const MIN_VALUE_BYTES: Record<string, number> = { bigint: 8, timestamptz: 8, numeric: 6, date: 4, boolean: 1, text: 2 }

/** The least bytes a row of these columns takes, with short values. */
export const minimumRowBytes = (columns: readonly ImportColumn[]) =>
  ROW_OVERHEAD_BYTES + Math.ceil((columns.length + 1) / 8) + columns.reduce((sum, c) => sum + (MIN_VALUE_BYTES[c.type ?? 'text'] ?? 2), 0)

/**
 * The columns with a layout whose rows fit a page: when typed values would not fit even at
 * their shortest, every column is text (a short text value takes 2 bytes, a bigint 8). Rows
 * whose values are too long for any layout fail at COPY with a message.
 */
export function columnsThatFit(columns: ImportColumn[]): ImportColumn[] {
  if (minimumRowBytes(columns) <= MAX_ROW_BYTES) return columns
  return columns.map(({ format: _format, ...c }) => (c.type === undefined ? c : { ...c, type: 'text' }))
}

/** Whether a PostgreSQL error is "row is too big" (program_limit_exceeded on a row wider than a page). */
export const isRowTooBig = (error: unknown) => (error as { code?: string }).code === '54000' && /row is too big/.test(String((error as Error).message))
