import fs from 'node:fs/promises'
import path from 'node:path'
import { exportsDir } from '../config'
import { cancelNamedStatement } from '../db/named-connection'

/** The graphile-worker task that writes an export's file. */
export const TASK_RUN_EXPORT = 'run-export'

/** Queues export $1, in the caller's transaction; the job key keeps one pending job per export. */
export const ADD_RUN_EXPORT_JOB = `SELECT 1 FROM graphile_worker.add_job('${TASK_RUN_EXPORT}',
  json_build_object('exportId', $1::text), job_key => 'export:' || $1, max_attempts => 3)`

/** The name of a running export's own connection (lib/db/named-connection.ts). */
export const exportConnectionName = (exportId: string) => `sluice-export:${exportId}`

/** Cancels the export's COPY in flight, from any process. */
export const cancelExportCopy = (exportId: string, backendPid: number | null) =>
  cancelNamedStatement(exportConnectionName(exportId), backendPid)

/** Exports left PROCESSING by a worker whose connection is gone go back to QUEUED, to start over. */
export const REQUEUE_ORPHANED_EXPORTS = `
  UPDATE exports SET status = 'QUEUED', rows_written = 0, bytes_written = 0, updated_at = now()
  WHERE status = 'PROCESSING'
    AND NOT EXISTS (SELECT 1 FROM pg_stat_activity a WHERE a.application_name = 'sluice-export:' || exports.id)
  RETURNING id`

/** The finished file, and the file being written (renamed to the first when complete). */
export const exportFilePath = (exportId: string) => path.join(exportsDir(), `${exportId}.csv`)
export const partialExportFilePath = (exportId: string) => path.join(exportsDir(), `${exportId}.csv.part`)

export async function deleteExportFiles(exportId: string): Promise<void> {
  await fs.rm(exportFilePath(exportId), { force: true })
  await fs.rm(partialExportFilePath(exportId), { force: true })
}
