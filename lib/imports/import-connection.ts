import { pool } from '../db/pool'

/** The name of a running import's own connection (lib/db/named-connection.ts). */
export const importConnectionName = (importId: string) => `sluice-import:${importId}`

/**
 * Cancels the import's batches in flight, on every connection it loads on: their COPYs roll
 * back, committed batches stay. Nothing to cancel when no worker holds it (`backendPid` null).
 */
export async function cancelImportBatch(importId: string, backendPid: number | null): Promise<void> {
  if (backendPid === null) return
  await pool().query('SELECT pg_cancel_backend(pid) FROM pg_stat_activity WHERE application_name = $1', [importConnectionName(importId)])
}

/**
 * Ends the import's connections at once (stop): a connection between two statements of a
 * batch ignores a cancel and would go on to its next COPY, holding the locks the DROP that
 * follows must wait for. Whatever they were at rolls back; the import's row says STOPPED.
 */
export async function terminateImportConnections(importId: string, backendPid: number | null): Promise<void> {
  if (backendPid === null) return
  await pool().query('SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = $1', [importConnectionName(importId)])
}

/** Imports left PROCESSING by a worker whose connection is gone (it crashed) go back to QUEUED. */
export const REQUEUE_ORPHANED_IMPORTS = `
  UPDATE imports SET status = 'QUEUED', updated_at = now()
  WHERE status = 'PROCESSING'
    AND NOT EXISTS (SELECT 1 FROM pg_stat_activity a WHERE a.application_name = 'sluice-import:' || imports.id)
  RETURNING id`
