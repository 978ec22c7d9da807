import { cancelNamedStatement } from '../db/named-connection'

/** The graphile-worker task that runs a load. */
export const TASK_RUN_LOAD = 'run-load'

/** Queues load $1, in the caller's transaction; the job key keeps one pending job per load. */
export const ADD_RUN_LOAD_JOB = `SELECT 1 FROM graphile_worker.add_job('${TASK_RUN_LOAD}',
  json_build_object('loadId', $1::text), job_key => 'load:' || $1, max_attempts => 1)`

/** The name of a running load's own connection (lib/db/named-connection.ts). */
export const loadConnectionName = (loadId: string) => `sluice-load:${loadId}`

/** Cancels the load's statement in flight, from any process: its transaction rolls back. */
export const cancelLoadStatement = (loadId: string, backendPid: number | null) => cancelNamedStatement(loadConnectionName(loadId), backendPid)

/**
 * Loads left PROCESSING by a worker whose connection is gone go back to QUEUED: their
 * transaction ended with the connection, so the table is as it was and the load starts over.
 */
export const REQUEUE_ORPHANED_LOADS = `
  UPDATE loads SET status = 'QUEUED', rows_done = 0, updated_at = now()
  WHERE status = 'PROCESSING'
    AND NOT EXISTS (SELECT 1 FROM pg_stat_activity a WHERE a.application_name = 'sluice-load:' || loads.id)
  RETURNING id`
