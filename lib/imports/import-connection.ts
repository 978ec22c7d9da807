import { cancelNamedStatement } from '../db/named-connection'

/** The name of a running import's own connection (lib/db/named-connection.ts). */
export const importConnectionName = (importId: string) => `sluice-import:${importId}`

/** Cancels the import's batch in flight: its COPY rolls back, committed batches stay. */
export const cancelImportBatch = (importId: string, backendPid: number | null) =>
  cancelNamedStatement(importConnectionName(importId), backendPid)

/** Imports left PROCESSING by a worker whose connection is gone (it crashed) go back to QUEUED. */
export const REQUEUE_ORPHANED_IMPORTS = `
  UPDATE imports SET status = 'QUEUED', updated_at = now()
  WHERE status = 'PROCESSING'
    AND NOT EXISTS (SELECT 1 FROM pg_stat_activity a WHERE a.application_name = 'sluice-import:' || imports.id)
  RETURNING id`
