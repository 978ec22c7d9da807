import type { OwnerScope } from '../auth/owner-scope'
import { pool } from '../db/pool'
import { getImport } from '../imports/imports'
import { buildExportPreviewSql } from './export-query'
import { assertExportable } from './exports'
import type { ExportPreview, ExportPreviewQuery } from './schemas'

/**
 * What an export would write, counted before it starts: its rows, and the span of days of the
 * range's column, so that the form can say "no row falls in this range" and check the range
 * as it is typed. Counted as the export reads the rows: dates compared in UTC.
 */
export async function previewExport(importId: string, query: ExportPreviewQuery, scope: OwnerScope): Promise<ExportPreview> {
  const imp = await getImport(importId, scope)
  assertExportable(imp)
  const client = await pool().connect()
  try {
    await client.query('BEGIN READ ONLY')
    await client.query(`SET LOCAL TimeZone = 'UTC'`)
    await client.query(`SET LOCAL DateStyle = 'ISO, YMD'`)
    const { rows } = await client.query<{ rows: string; first: string | null; last: string | null }>(buildExportPreviewSql(imp, query))
    await client.query('COMMIT')
    const { rows: n, first, last } = rows[0]!
    return { rows: Number(n), ...(query.column === undefined ? {} : { column: { first, last } }) }
  } catch (error) {
    await client.query('ROLLBACK').catch(() => {})
    throw error
  } finally {
    client.release()
  }
}
