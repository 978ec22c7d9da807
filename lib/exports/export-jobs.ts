import fs from 'node:fs/promises'
import path from 'node:path'
import { exportsDir } from '../config'
import { pool } from '../db/pool'

/** The graphile-worker task that writes an export's file. */
export const TASK_RUN_EXPORT = 'run-export'

/** Queues export $1, in the caller's transaction; the job key keeps one pending job per export. */
export const ADD_RUN_EXPORT_JOB = `SELECT 1 FROM graphile_worker.add_job('${TASK_RUN_EXPORT}',
  json_build_object('exportId', $1::text), job_key => 'export:' || $1, max_attempts => 3)`

/**
 * A running export has a connection of its own, named after it, as imports do
 * (lib/imports/import-connection.ts): stop cancels its COPY by pid and name from any process,
 * and recovery knows its worker died when the name is gone.
 */
export const exportConnectionName = (exportId: string) => `sluice-export:${exportId}`

export async function cancelExportCopy(exportId: string, backendPid: number | null): Promise<void> {
  if (backendPid === null) return
  await pool().query('SELECT pg_cancel_backend(pid) FROM pg_stat_activity WHERE pid = $1 AND application_name = $2', [
    backendPid,
    exportConnectionName(exportId),
  ])
}

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
