import type pg from 'pg'
import { connectAs } from '../db/named-connection'
import { pool } from '../db/pool'
import { IMPORTED_SCHEMA, importTableSql, quoteIdent, ROW_NUMBER_COLUMN } from './column-names'

/**
 * An export must give the rows in the file's order. `ORDER BY _sluice_row` through an index
 * does that always, but costs the export about a fifth of its speed against a plain read
 * (measured with bench:export). COPY writes each batch at the end of the table, so a finished
 * import's rows are normally stored in file order already; a kill or a failed batch can leave
 * gaps that later rows fill. So when an import finishes its table is checked once, and exports
 * of a table that passed read it as stored. A trigger clears the mark on any later change.
 *
 * "As stored" holds for one sequential scan that starts at the first page: these settings
 * keep PostgreSQL from starting a scan midway to join another one (synchronized scans) or
 * splitting it over parallel workers.
 */
export const STORED_ORDER_SETTINGS = '-c synchronize_seqscans=off -c max_parallel_workers_per_gather=0'

/**
 * Run once the import is PROCESSED, on a connection opened with STORED_ORDER_SETTINGS: the
 * row-number index (a plain index scan then reads in file order without a sort), statistics,
 * the change trigger, and the check. The check and the mark happen under a lock that keeps
 * writers out, so no change can slip between them.
 */
export async function prepareRowOrder(client: pg.Client, imp: { id: string; tableName: string }): Promise<boolean> {
  const table = importTableSql(imp.tableName)
  const row = quoteIdent(ROW_NUMBER_COLUMN)
  await client.query(`CREATE INDEX IF NOT EXISTS ${quoteIdent(`${imp.tableName}_row`)} ON ${table} (${row})`)
  await client.query(`ANALYZE ${table}`)
  await client.query('BEGIN')
  try {
    await client.query(`LOCK TABLE ${table} IN SHARE MODE`)
    await client.query(
      `CREATE OR REPLACE TRIGGER sluice_changed AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON ${table}
       FOR EACH STATEMENT EXECUTE FUNCTION sluice.sluice_import_table_changed()`,
    )
    // In scan order, does any row number come after a larger one?
    const { rows } = await client.query<{ ordered: boolean }>(
      `SELECT NOT EXISTS (SELECT FROM (SELECT ${row} < lag(${row}) OVER () AS back FROM ${table}) s WHERE back) AS ordered`,
    )
    const ordered = rows[0]!.ordered
    await client.query(`UPDATE imports SET stored_in_file_order = $2 WHERE id = $1 AND status = 'PROCESSED'`, [imp.id, ordered])
    await client.query('COMMIT')
    return ordered
  } catch (error) {
    await client.query('ROLLBACK').catch(() => {})
    throw error
  }
}

/**
 * prepareRowOrder for an import that finished outside a worker (a batch session's finish): a
 * job, so the request that finished it does not wait for the index. Does nothing unless the
 * import is PROCESSED and its table exists (someone may have dropped it meanwhile).
 */
export async function prepareFinishedImport(importId: string): Promise<void> {
  const { rows } = await pool().query<{ tableName: string }>(
    `SELECT table_name AS "tableName" FROM imports
     WHERE id = $1 AND status = 'PROCESSED' AND to_regclass(format('%I.%I', $2::text, table_name)) IS NOT NULL`,
    [importId, IMPORTED_SCHEMA],
  )
  if (!rows[0]) return
  const client = await connectAs(`sluice-row-order:${importId}`, STORED_ORDER_SETTINGS)
  try {
    await prepareRowOrder(client, { id: importId, tableName: rows[0].tableName })
  } finally {
    await client.end()
  }
}
