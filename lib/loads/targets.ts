import type { Principal } from '../auth/owner-scope'
import { config } from '../config'
import { pool } from '../db/pool'
import { SLUICE_SCHEMA } from '../db/sluice-schema'
import { cutInput, SluiceError } from '../http/errors'
import { quoteIdent } from '../imports/column-names'
import type { TableRef, TargetDto } from './schemas'

/**
 * The tables a load may write into, read from PostgreSQL's catalog each time (never from what
 * a client says about them). Sluice's own schemas are never targets: an admin may load into
 * any other table the database role can insert into; anyone else only into the schemas an
 * admin opened with LOAD_SCHEMAS.
 */

/** Schemas no load writes into: Sluice's bookkeeping, its import tables, the job queue, the system's. */
const CLOSED_SCHEMAS = [SLUICE_SCHEMA, 'imported', 'imported_batches', 'graphile_worker', 'pg_catalog', 'information_schema']

const isClosedSchema = (schema: string) => CLOSED_SCHEMAS.includes(schema) || schema.startsWith('pg_')

/** The schemas `who` may load into: null for any (an admin), else LOAD_SCHEMAS. */
const openSchemas = (who: Principal): string[] | null => (who.isAdmin ? null : config().loadSchemas)

export const tableSql = (t: TableRef) => `${quoteIdent(t.schema)}.${quoteIdent(t.name)}`
export const tableLabel = (t: TableRef) => `${t.schema}.${t.name}`

/** "schema.name" as a person types it (a name alone means public). */
export function parseTableRef(text: string): TableRef {
  const dot = text.indexOf('.')
  return dot < 0 ? { schema: 'public', name: text } : { schema: text.slice(0, dot), name: text.slice(dot + 1) }
}

/** Tables `who` may load into whose name contains `search`, at most 100. */
export async function listTargets(who: Principal, search = ''): Promise<Array<TableRef & { rowsEstimate: number }>> {
  const { rows } = await pool().query<{ schema: string; name: string; estimate: string }>(
    `SELECT n.nspname AS schema, c.relname AS name, greatest(c.reltuples, 0)::bigint AS estimate
     FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
     WHERE c.relkind IN ('r', 'p') AND NOT c.relispartition
       AND NOT (n.nspname = ANY($1)) AND n.nspname NOT LIKE 'pg\\_%'
       AND ($2::text[] IS NULL OR n.nspname = ANY($2))
       AND has_table_privilege(c.oid, 'INSERT')
       AND strpos(lower(n.nspname || '.' || c.relname), lower($3)) > 0
     ORDER BY n.nspname, c.relname LIMIT 100`,
    [CLOSED_SCHEMAS, openSchemas(who), search],
  )
  return rows.map((r) => ({ schema: r.schema, name: r.name, rowsEstimate: Number(r.estimate) }))
}

/** A column of the target; `type` is as written in a cast, with its modifier: numeric(10,2). */
export type TargetColumn = TargetDto['columns'][number]
export type TargetKey = { name: string; primary: boolean; columns: string[] }
export type ForeignKey = { name: string; columns: string[]; references: string; referencedColumns: string[] }
export type Target = {
  table: TableRef
  oid: number
  columns: TargetColumn[]
  keys: TargetKey[]
  foreignKeys: ForeignKey[]
  rowsEstimate: number
  /** Whether a foreign key of another table points at this one (replace then deletes instead of truncating). */
  referenced: boolean
}

/**
 * The target as the catalog describes it, after checking that `who` may write into it: 403
 * for a schema they may not load into (whether or not the table exists there), 404 for a
 * table that does not exist in one they may.
 */
export async function describeTarget(who: Principal, table: TableRef, privileges: readonly ('INSERT' | 'UPDATE' | 'DELETE')[] = ['INSERT']): Promise<Target> {
  if (isClosedSchema(table.schema)) throw new SluiceError('FORBIDDEN', `${cutInput(tableLabel(table))} is not a table you can load into: the schema ${cutInput(table.schema)} belongs to Sluice or to PostgreSQL`)
  const open = openSchemas(who)
  if (open && !open.includes(table.schema)) {
    throw new SluiceError('FORBIDDEN', `You may not load into the schema ${cutInput(table.schema)}${open.length ? `: you may load into ${open.join(', ')}` : ': ask an admin to open a schema for loads'}`)
  }
  const db = pool()
  const found = await db.query<{ oid: number; estimate: string; referenced: boolean }>(
    `SELECT c.oid::int AS oid, greatest(c.reltuples, 0)::bigint AS estimate,
            EXISTS (SELECT 1 FROM pg_constraint f WHERE f.confrelid = c.oid AND f.contype = 'f' AND f.conrelid <> c.oid) AS referenced
     FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
     WHERE n.nspname = $1 AND c.relname = $2 AND c.relkind IN ('r', 'p') AND NOT c.relispartition`,
    [table.schema, table.name],
  )
  const row = found.rows[0]
  if (!row) throw new SluiceError('NOT_FOUND', `No table ${cutInput(tableLabel(table))}`)
  const missing = await db.query<{ privilege: string }>('SELECT p AS privilege FROM unnest($2::text[]) p WHERE NOT has_table_privilege($1::oid, p)', [row.oid, privileges])
  if (missing.rows[0]) {
    throw new SluiceError('FORBIDDEN', `Sluice's database role may not ${missing.rows[0].privilege} into ${tableLabel(table)}: grant it, or choose another table`)
  }

  const columns = await db.query<{ name: string; type: string; not_null: boolean; default: string | null; generated: boolean }>(
    `SELECT a.attname AS name, format_type(a.atttypid, a.atttypmod) AS type, a.attnotnull AS not_null,
            pg_get_expr(d.adbin, d.adrelid) AS default, (a.attgenerated <> '' OR a.attidentity = 'a') AS generated
     FROM pg_attribute a LEFT JOIN pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum
     WHERE a.attrelid = $1::oid AND a.attnum > 0 AND NOT a.attisdropped ORDER BY a.attnum`,
    [row.oid],
  )
  // Unique indexes on plain columns (no expression, no WHERE): the ones ON CONFLICT can name.
  const keys = await db.query<{ name: string; primary: boolean; columns: string[] }>(
    `SELECT i.relname AS name, x.indisprimary AS primary,
            array_agg(a.attname::text ORDER BY k.ord) AS columns
     FROM pg_index x JOIN pg_class i ON i.oid = x.indexrelid
     CROSS JOIN LATERAL unnest(x.indkey::int2[]) WITH ORDINALITY AS k(attnum, ord)
     JOIN pg_attribute a ON a.attrelid = x.indrelid AND a.attnum = k.attnum
     WHERE x.indrelid = $1::oid AND x.indisunique AND x.indisvalid AND x.indpred IS NULL AND x.indexprs IS NULL
       AND k.ord <= x.indnkeyatts
     GROUP BY i.relname, x.indisprimary ORDER BY x.indisprimary DESC, i.relname`,
    [row.oid],
  )
  const foreignKeys = await db.query<{ name: string; columns: string[]; references: string; referenced_columns: string[] }>(
    `SELECT f.conname AS name, f.confrelid::regclass::text AS references,
            array(SELECT a.attname::text FROM unnest(f.conkey) WITH ORDINALITY k(n, o) JOIN pg_attribute a ON a.attrelid = f.conrelid AND a.attnum = k.n ORDER BY k.o) AS columns,
            array(SELECT a.attname::text FROM unnest(f.confkey) WITH ORDINALITY k(n, o) JOIN pg_attribute a ON a.attrelid = f.confrelid AND a.attnum = k.n ORDER BY k.o) AS referenced_columns
     FROM pg_constraint f WHERE f.conrelid = $1::oid AND f.contype = 'f' ORDER BY f.conname`,
    [row.oid],
  )
  const keyOf = (column: string): 'primary' | 'unique' | null => {
    const containing = keys.rows.filter((k) => k.columns.includes(column))
    return containing.some((k) => k.primary) ? 'primary' : containing.length ? 'unique' : null
  }
  return {
    table,
    oid: row.oid,
    rowsEstimate: Number(row.estimate),
    referenced: row.referenced,
    columns: columns.rows.map((c) => ({
      name: c.name,
      type: c.type,
      notNull: c.not_null,
      default: c.default,
      generated: c.generated,
      key: keyOf(c.name),
    })),
    keys: keys.rows,
    foreignKeys: foreignKeys.rows.map((f) => ({ name: f.name, columns: f.columns, references: f.references, referencedColumns: f.referenced_columns })),
  }
}

/** The target as the API answers it. */
export const toTargetDto = (t: Target): TargetDto => ({
  table: t.table,
  columns: t.columns,
  keys: t.keys,
  rowsEstimate: t.rowsEstimate,
})
