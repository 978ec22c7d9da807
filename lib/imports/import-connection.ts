import { pool } from '../db/pool'

/**
 * Each running import has a connection of its own, named after it. PostgreSQL then answers
 * two questions for any process: is the import's worker alive (its connection exists), and
 * which statement to cancel to abort its batch (kill, pause, stop).
 */
export const importConnectionName = (importId: string) => `sluice-import:${importId}`

/**
 * Cancels the statement in flight on the import's worker connection (its COPY rolls back,
 * committed batches stay). Matching the name as well as the pid means a pid reused by another
 * connection is never cancelled. Job queues cannot do this: they cannot stop a running job.
 */
export async function cancelImportBatch(importId: string, backendPid: number | null): Promise<void> {
  if (backendPid === null) return
  await pool().query('SELECT pg_cancel_backend(pid) FROM pg_stat_activity WHERE pid = $1 AND application_name = $2', [
    backendPid,
    importConnectionName(importId),
  ])
}

/** Imports left PROCESSING by a worker whose connection is gone (it crashed) go back to QUEUED. */
export const REQUEUE_ORPHANED_IMPORTS = `
  UPDATE imports SET status = 'QUEUED', updated_at = now()
  WHERE status = 'PROCESSING'
    AND NOT EXISTS (SELECT 1 FROM pg_stat_activity a WHERE a.application_name = 'sluice-import:' || imports.id)
  RETURNING id`
