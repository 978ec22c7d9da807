import pg from 'pg'
import type { Import } from '../db/generated/client'
import { SluiceError, UNPROCESSABLE_ISSUE } from '../http/errors'
import { columnsOf, importTableSql, quoteIdent, ROW_NUMBER_COLUMN, type TypedColumn } from '../imports/column-names'
import { BATCH_COLUMN } from '../imports/import-table'
import type { LoadRequest } from './schemas'
import { tableLabel, tableSql, type Target, type TargetColumn, type TargetKey } from './targets'

/** One column of the target and the import's column that fills it. */
export type MappedColumn = { target: TargetColumn; source: TypedColumn }

/**
 * A load request checked against the import and the target as the catalog has them, with the
 * SQL pieces every step of the check and the load share. Source rows are read as `s`.
 */
export type LoadPlan = {
  imp: Import
  target: Target
  request: LoadRequest
  mapped: MappedColumn[]
  /** Upsert: the key it matches on. */
  key: TargetKey | null
  /** Unique keys an append or a replace could collide on (all their columns mapped). */
  uniqueKeys: TargetKey[]
  sourceSql: string
  targetSql: string
  /** The source row's batch and place: together they identify it and give the file's order. */
  batchSql: string
  placeSql: string
}

const unprocessable = (message: string) => new SluiceError('UNPROCESSABLE', message, { details: UNPROCESSABLE_ISSUE })

// The sniffer's names for the import's column types, as the catalog writes them.
const CATALOG_TYPE: Record<string, string> = { timestamptz: 'timestamp with time zone' }

/** Reads the request against the import and the target; 422 with the first thing that cannot work. */
export function planLoad(imp: Import, target: Target, request: LoadRequest): LoadPlan {
  const sources = columnsOf(imp.columns)
  const mapped: MappedColumn[] = []
  for (const [column, sourceName] of Object.entries(request.mapping)) {
    const t = target.columns.find((c) => c.name === column)
    if (!t) throw unprocessable(`${tableLabel(target.table)} has no column ${JSON.stringify(column)}`)
    if (sourceName === null) continue
    if (t.generated) throw unprocessable(`${column} is written by the database (generated): leave it unmapped`)
    const source = sources.find((s) => s.name === sourceName)
    if (!source) throw unprocessable(`The import has no column ${JSON.stringify(sourceName)} (mapped to ${column}): its columns are ${sources.map((s) => s.name).join(', ')}`)
    mapped.push({ target: t, source })
  }
  if (mapped.length === 0) throw unprocessable('Map at least one column of the file to a column of the table')
  const isMapped = (column: string) => mapped.some((m) => m.target.name === column)
  const required = target.columns.filter((c) => c.notNull && c.default === null && !c.generated && !isMapped(c.name))
  if (required.length) {
    throw unprocessable(`${required.map((c) => c.name).join(', ')} ${required.length === 1 ? 'is' : 'are'} NOT NULL without a default: map a column of the file to ${required.length === 1 ? 'it' : 'each'}`)
  }

  let key: TargetKey | null = null
  if (request.mode === 'upsert') {
    const wanted = request.key ?? target.keys.find((k) => k.primary)?.columns
    if (!wanted) throw unprocessable(`${tableLabel(target.table)} has no primary key: name the columns of one of its unique indexes as the key`)
    key = target.keys.find((k) => k.columns.length === wanted.length && k.columns.every((c) => wanted.includes(c))) ?? null
    if (!key) {
      const known = target.keys.map((k) => `(${k.columns.join(', ')})`).join(', ')
      throw unprocessable(`(${wanted.join(', ')}) is not the primary key or a unique index of ${tableLabel(target.table)}${known ? `: its keys are ${known}` : ''}`)
    }
    const unmapped = key.columns.filter((c) => !isMapped(c))
    if (unmapped.length) throw unprocessable(`Map a column of the file to ${unmapped.join(', ')}: an upsert matches rows on its key`)
  }

  return {
    imp,
    target,
    request,
    mapped,
    key,
    uniqueKeys: narrowestKeys(target.keys.filter((k) => k.columns.every(isMapped))),
    sourceSql: `${importTableSql(imp.tableName)} s`,
    targetSql: tableSql(target.table),
    batchSql: imp.partitioned ? `s.${quoteIdent(BATCH_COLUMN)}` : '0::bigint',
    placeSql: imp.partitioned ? `COALESCE(s.${quoteIdent(ROW_NUMBER_COLUMN)}, sluice.sluice_place(s.ctid))` : `s.${quoteIdent(ROW_NUMBER_COLUMN)}`,
  }
}

/**
 * The keys worth checking: one whose columns include all of another's (`UNIQUE (email, id)`
 * beside `PRIMARY KEY (id)`) can only repeat, or meet in the table, a value the narrower one
 * repeats or meets too, so its check would find nothing more and cost a scan of the file.
 */
function narrowestKeys(keys: TargetKey[]): TargetKey[] {
  const within = (a: TargetKey, b: TargetKey) => a.columns.every((c) => b.columns.includes(c))
  return keys.filter((k, i) => !keys.some((other, j) => j !== i && within(other, k) && (!within(k, other) || j < i)))
}

/** The import column's value in `s`. */
export const sourceSql = (m: MappedColumn) => `s.${quoteIdent(m.source.name)}`

/** Whether the import's values need a check to go into the target column (their types differ). */
export const needsTypeCheck = (m: MappedColumn) => (CATALOG_TYPE[m.source.type] ?? m.source.type) !== m.target.type

/** True for a value the target column's exact type takes (NULL counts: `missing` decides on it). */
export const fitsSql = (m: MappedColumn) =>
  needsTypeCheck(m) ? `(${sourceSql(m)} IS NULL OR pg_input_is_valid(${sourceSql(m)}::text, ${pg.escapeLiteral(m.target.type)}))` : 'true'

/** PostgreSQL's reason a value does not fit. */
export const misfitReasonSql = (m: MappedColumn) => `(pg_input_error_info(${sourceSql(m)}::text, ${pg.escapeLiteral(m.target.type)})).message`

// Casts from an import column's type that give exactly what reading its text as the target's
// type gives, for every value that fits (checked first): they spare a value's round trip
// through text. Keyed by the import's type; the target's type without its modifier.
const SAME_AS_TEXT_CAST: Record<string, readonly string[]> = {
  bigint: ['bigint', 'integer', 'smallint', 'numeric'],
  numeric: ['numeric'],
  date: ['date', 'timestamp without time zone', 'timestamp with time zone'],
  boolean: ['boolean'],
}
const baseType = (type: string) => type.replace(/\(.*\)/, '')

/** The value as the target's type. Only for rows known to fit (see safeValueSql otherwise). */
export const valueSql = (m: MappedColumn) => {
  if (!needsTypeCheck(m)) return sourceSql(m)
  if (SAME_AS_TEXT_CAST[m.source.type]?.includes(baseType(m.target.type))) return `CAST(${sourceSql(m)} AS ${m.target.type})`
  return `CAST(${sourceSql(m)}::text AS ${m.target.type})`
}

/** The value as the target's type, or NULL where it does not fit: for checks over every row. */
export const safeValueSql = (m: MappedColumn) => (needsTypeCheck(m) ? `CASE WHEN ${fitsSql(m)} THEN ${valueSql(m)} END` : sourceSql(m))

/** The value the row writes: an empty value of a NOT NULL column with a default takes the default. */
export const writtenValueSql = (m: MappedColumn) =>
  m.target.notNull && m.target.default !== null ? `COALESCE(${valueSql(m)}, ${m.target.default})` : valueSql(m)

/** True when a NOT NULL column without a default would get no value. */
export const missingSql = (m: MappedColumn) => (m.target.notNull && m.target.default === null ? `${sourceSql(m)} IS NULL` : 'false')

export const mappedOf = (plan: LoadPlan, column: string) => plan.mapped.find((m) => m.target.name === column)!
