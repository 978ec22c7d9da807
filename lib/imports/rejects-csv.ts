import { Readable } from 'node:stream'
import pg from 'pg'
import { to as copyTo } from 'pg-copy-streams'
import { pool } from '../db/pool'
import { getImport } from './imports'
import type { OwnerScope } from '../auth/owner-scope'

/**
 * An import's rejected records as CSV (line, reason, record), in file order, streamed by
 * `COPY … TO STDOUT` so that a file whose every record was refused costs no memory.
 * NOT_FOUND when there is no such import.
 */
export async function openRejectsCsv(importId: string, scope: OwnerScope): Promise<{ fileName: string; body: ReadableStream<Uint8Array> }> {
  const imp = await getImport(importId, scope)
  const client = await pool().connect()
  let released = false
  const release = (error?: Error) => {
    if (released) return
    released = true
    client.release(error)
  }
  try {
    // COPY takes no parameters; the id is a UUID read back from the database, and quoted anyway.
    const copy = client.query(
      copyTo(`COPY (SELECT line, reason, record FROM import_rejects WHERE import_id = ${pg.escapeLiteral(imp.id)} ORDER BY line)
              TO STDOUT (FORMAT csv, HEADER)`),
    )
    copy.on('end', () => release())
    copy.on('error', (e: Error) => release(e))
    // Closed before its end (the reader went away): the connection is mid-COPY, so it is dropped.
    copy.on('close', () => release(new Error('rejects download closed early')))
    const stem = imp.fileName.replace(/\.[^.]*$/, '') || 'import'
    return { fileName: `${stem}-rejects.csv`, body: Readable.toWeb(copy) as ReadableStream<Uint8Array> }
  } catch (error) {
    release(error as Error)
    throw error
  }
}
