import pg from 'pg'
import { pool } from './pool'
import { SLUICE_SEARCH_PATH } from './sluice-schema'

/**
 * A connection of its own for one long piece of work (an import, an export), named after it
 * in pg_stat_activity. PostgreSQL then answers two questions for any process: is the work's
 * worker alive (its connection exists), and which statement to cancel to stop it. A pooled
 * connection could be running someone else's query by the time a cancel arrives.
 * `options` are session settings (`-c name=value …`), added to Sluice's search_path.
 */
export async function connectAs(name: string, options?: string): Promise<pg.Client> {
  const client = new pg.Client({ connectionString: process.env.DATABASE_URL, application_name: name, options: [SLUICE_SEARCH_PATH, options].filter(Boolean).join(' ') })
  client.on('error', () => {}) // a cancelled or terminated connection is handled where it is awaited
  await client.connect()
  return client
}

/**
 * Cancels the statement in flight on the connection with this name and pid. Matching the name
 * as well as the pid means a pid reused by another connection is never cancelled. Job queues
 * cannot do this: they cannot stop a running job.
 */
export async function cancelNamedStatement(name: string, backendPid: number | null): Promise<void> {
  if (backendPid === null) return
  await pool().query('SELECT pg_cancel_backend(pid) FROM pg_stat_activity WHERE pid = $1 AND application_name = $2', [backendPid, name])
}
