import { Logger, run, runMigrations, type TaskList } from 'graphile-worker'
import type pg from 'pg'
import { z } from 'zod'
import { config } from '../config'
import { pool, POOL_SIZE } from '../db/pool'
import { ADD_RUN_EXPORT_JOB, REQUEUE_ORPHANED_EXPORTS, TASK_RUN_EXPORT } from '../exports/export-jobs'
import { expireExports } from '../exports/exports'
import { runExport } from '../exports/run-export'
import { ADD_RUN_LOAD_JOB, REQUEUE_ORPHANED_LOADS, TASK_RUN_LOAD } from '../loads/load-jobs'
import { runLoad } from '../loads/run-load'
import { REQUEUE_ORPHANED_IMPORTS } from './import-connection'
import { killImportIfPausedTooLong } from './imports'
import { ADD_RUN_IMPORT_JOB, TASK_PAUSE_TIMEOUT, TASK_PREPARE_ROW_ORDER, TASK_RUN_IMPORT } from './job-queue'
import { prepareFinishedImport } from './row-order'
import { runImport } from './run-import'

// How often a worker looks for imports whose worker died (SIGKILL, a lost machine): a crashed
// import resumes within seconds, not when graphile-worker unlocks its job hours later.
const RECOVERY_INTERVAL_MS = 5000
// Jobs due later (the pause timeout) are found by polling; a second keeps that timeout precise.
const POLL_INTERVAL_MS = 1000

// Finished exports past their lifetime lose their files within this.
const EXPIRY_INTERVAL_MS = 60_000

const JobPayload = z.object({ importId: z.uuid() })
const ExportPayload = z.object({ exportId: z.uuid() })
const LoadPayload = z.object({ loadId: z.uuid() })
const PauseTimeoutPayload = JobPayload.extend({ seconds: z.number().int().positive() })

// graphile-worker reports every job at "info"; only what needs a person's eye is printed.
const logger = new Logger(() => (level, message) => {
  if (level === 'error' || level === 'warning') console.error(`[worker] ${message}`)
})

/** Creates or updates graphile-worker's schema; needed before any job can be added. */
export async function installJobQueue(pgPool: pg.Pool = pool()): Promise<void> {
  await runMigrations({ pgPool, logger })
}

export type ImportWorker = { stop(): Promise<void> }

/**
 * Runs up to `concurrency` jobs at once from the queue (imports, and the exports that read
 * them back out), recovers the work of dead workers, and deletes expired export files.
 */
export async function startImportWorker({ concurrency }: { concurrency: number }): Promise<ImportWorker> {
  const shutdown = new AbortController()
  const taskList: TaskList = {
    [TASK_RUN_IMPORT]: async (payload) => runImport(JobPayload.parse(payload).importId, shutdown.signal),
    [TASK_PAUSE_TIMEOUT]: async (payload) => {
      const { importId, seconds } = PauseTimeoutPayload.parse(payload)
      await killImportIfPausedTooLong(importId, seconds)
    },
    [TASK_RUN_EXPORT]: async (payload) => runExport(ExportPayload.parse(payload).exportId, shutdown.signal),
    [TASK_PREPARE_ROW_ORDER]: async (payload) => prepareFinishedImport(JobPayload.parse(payload).importId),
    [TASK_RUN_LOAD]: async (payload) => runLoad(LoadPayload.parse(payload).loadId),
  }
  await installJobQueue()
  await warnIfConnectionsRunShort(concurrency)
  await requeueWork({ includeQueued: true })
  const runner = await run({ pgPool: pool(), concurrency, noHandleSignals: true, pollInterval: POLL_INTERVAL_MS, taskList, logger })
  const timer = setInterval(() => {
    requeueWork({ includeQueued: false }).catch((e) => console.error("recovering dead workers' imports and exports failed:", e))
  }, RECOVERY_INTERVAL_MS)
  timer.unref()
  const expire = () => void expireExports().catch((e) => console.error('deleting expired exports failed:', e))
  expire()
  const expiry = setInterval(expire, EXPIRY_INTERVAL_MS)
  expiry.unref()
  return {
    async stop() {
      clearInterval(timer)
      clearInterval(expiry)
      shutdown.abort() // running imports go back to the queue at their checkpoint, exports to start over
      await runner.stop()
    },
  }
}

/**
 * Says at start when this process may need more PostgreSQL connections than the server
 * allows: an import past the limit would fail mid-way with "too many connections".
 */
async function warnIfConnectionsRunShort(concurrency: number) {
  const { importParallelism, maxExportStreams } = config()
  const { rows } = await pool().query<{ usable: number }>(
    `SELECT current_setting('max_connections')::int - current_setting('superuser_reserved_connections')::int AS usable`,
  )
  const needed = concurrency * importParallelism + POOL_SIZE + maxExportStreams
  const usable = rows[0]!.usable
  if (needed <= usable) return
  console.error(
    `Sluice may open ${needed} PostgreSQL connections (IMPORT_WORKERS ${concurrency} × IMPORT_PARALLELISM ${importParallelism} for imports, ` +
      `${POOL_SIZE} for the app, MAX_EXPORT_STREAMS ${maxExportStreams} for streamed exports) but the server takes ${usable}: ` +
      'lower IMPORT_WORKERS or IMPORT_PARALLELISM, or raise max_connections, or imports may fail with "too many connections"',
  )
}

// Work whose row says what to do when its worker dies: imports resume from their checkpoint,
// exports and loads (rolled back with the connection) start over.
const RECOVERABLE = [
  { noun: 'import', table: 'imports', requeueOrphaned: REQUEUE_ORPHANED_IMPORTS, addJob: ADD_RUN_IMPORT_JOB },
  { noun: 'export', table: 'exports', requeueOrphaned: REQUEUE_ORPHANED_EXPORTS, addJob: ADD_RUN_EXPORT_JOB },
  { noun: 'load', table: 'loads', requeueOrphaned: REQUEUE_ORPHANED_LOADS, addJob: ADD_RUN_LOAD_JOB },
] as const

/**
 * Puts imports and exports whose worker died back on the queue; at start also re-adds a job
 * for every QUEUED one (a job can be lost with a worker that was shut down mid-way).
 */
async function requeueWork({ includeQueued }: { includeQueued: boolean }) {
  for (const kind of RECOVERABLE) {
    const orphaned = await pool().query<{ id: string }>(kind.requeueOrphaned)
    const ids = new Set(orphaned.rows.map((r) => r.id))
    if (includeQueued) {
      const queued = await pool().query<{ id: string }>(`SELECT id FROM ${kind.table} WHERE status = 'QUEUED'`)
      for (const r of queued.rows) ids.add(r.id)
    }
    for (const id of ids) await pool().query(kind.addJob, [id])
    if (orphaned.rowCount) console.log(`Resuming ${orphaned.rowCount} ${kind.noun}(s) whose worker stopped mid-way`)
  }
}
