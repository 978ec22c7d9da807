import pg from 'pg'
import type { OwnerScope } from '../auth/owner-scope'
import { copyOut } from '../db/copy-out'
import { getImport } from './imports'

/**
 * An import's rejected records as CSV (line, reason, record), in file order, streamed by
 * `COPY … TO STDOUT` so that a file whose every record was refused costs no memory.
 * NOT_FOUND when there is no such import.
 */
export async function openRejectsCsv(importId: string, scope: OwnerScope): Promise<{ fileName: string; body: ReadableStream<Uint8Array> }> {
  const imp = await getImport(importId, scope)
  // COPY takes no parameters; the id is a UUID read back from the database, and quoted anyway.
  const body = await copyOut(`COPY (SELECT line, reason, record FROM import_rejects WHERE import_id = ${pg.escapeLiteral(imp.id)} ORDER BY line)
    TO STDOUT (FORMAT csv, HEADER)`)
  const stem = imp.fileName.replace(/\.[^.]*$/, '') || 'import'
  return { fileName: `${stem}-rejects.csv`, body }
}
