/**
 * Jobs go on graphile-worker's PostgreSQL queue. They are added with its SQL function
 * `graphile_worker.add_job` so that a job is committed in the same transaction as the status
 * change that calls for it: no job exists for an import that does not, nor the reverse.
 * The import's own row stays the truth (graphile-worker deletes finished jobs).
 */

export const TASK_RUN_IMPORT = 'run-import'
export const TASK_PAUSE_TIMEOUT = 'import-pause-timeout'
export const TASK_PREPARE_ROW_ORDER = 'prepare-row-order'

/** Queues a run of import $1. The job key keeps one pending job per import. */
export const ADD_RUN_IMPORT_JOB = `SELECT 1 FROM graphile_worker.add_job('${TASK_RUN_IMPORT}',
  json_build_object('importId', $1::text), job_key => 'import:' || $1, max_attempts => 5)`

/** Queues the check that stops import $1 if it is still paused after $2 seconds. */
export const ADD_PAUSE_TIMEOUT_JOB = `SELECT 1 FROM graphile_worker.add_job('${TASK_PAUSE_TIMEOUT}',
  json_build_object('importId', $1::text, 'seconds', $2::int), run_at => now() + make_interval(secs => $2::int),
  job_key => 'pause-timeout:' || $1, max_attempts => 3)`

/** Queues the row-order preparation of import $1, finished outside a worker (a batch session). */
export const ADD_PREPARE_ROW_ORDER_JOB = `SELECT 1 FROM graphile_worker.add_job('${TASK_PREPARE_ROW_ORDER}',
  json_build_object('importId', $1::text), job_key => 'row-order:' || $1, max_attempts => 3)`

type Db = { $executeRawUnsafe: (query: string, ...values: unknown[]) => Promise<number> }

export const addRunImportJob = (db: Db, importId: string) => db.$executeRawUnsafe(ADD_RUN_IMPORT_JOB, importId)

export const addPauseTimeoutJob = (db: Db, importId: string, seconds: number) =>
  db.$executeRawUnsafe(ADD_PAUSE_TIMEOUT_JOB, importId, seconds)

/**
 * Queues a run of the QUEUED import reading upload $1, if there is one: an import that waits
 * for its upload (it caught up and handed its worker back) goes on when the upload brings bytes.
 * An import queued already keeps its one job (the job key).
 */
export const WAKE_IMPORTS_OF_UPLOAD = `SELECT (graphile_worker.add_job('${TASK_RUN_IMPORT}',
  json_build_object('importId', id::text), job_key => 'import:' || id::text, max_attempts => 5)).id
  FROM imports WHERE upload_id = $1 AND status = 'QUEUED'`
