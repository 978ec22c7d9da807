import { ANY_OWNER } from '../auth/owner-scope'
import fs from 'node:fs'
import fsp from 'node:fs/promises'
import { pipeline } from 'node:stream/promises'
import pg from 'pg'
import { to as copyTo } from 'pg-copy-streams'
import { exportsDir } from '../config'
import type { Export } from '../db/generated/client'
import { connectAs } from '../db/named-connection'
import { pool, prisma } from '../db/pool'
import { getImport } from '../imports/imports'
import { CsvRecordCounter } from './csv-record-counter'
import { buildExportQuery, EXPORT_SESSION_OPTIONS } from './export-query'
import type { ExportFormat } from './export-format'
import { ADD_RUN_EXPORT_JOB, cancelExportCopy, deleteExportFiles, exportConnectionName, exportFilePath, partialExportFilePath } from './export-jobs'
import { assertExportable, expiryFrom } from './exports'

// Progress reaches the database this often; each write also tells the worker whether the
// export is still its own (a stop makes the guarded write match nothing).
const PROGRESS_INTERVAL_MS = 500

/** The export's run ended without publishing its file because someone stopped it. */
class NoLongerOurs extends Error {}

/**
 * Writes one export's file: counts the matching rows and copies them in one REPEATABLE READ
 * snapshot (so the total is exact even while the import still runs), into `<id>.csv.part`,
 * renamed to `<id>.csv` in the same transaction that marks it PROCESSED. Returns quietly when
 * the export is not QUEUED, or is stopped meanwhile.
 */
export async function runExport(exportId: string, signal?: AbortSignal): Promise<void> {
  const client = await connectAs(exportConnectionName(exportId), EXPORT_SESSION_OPTIONS)
  try {
    const claimed = await claimExport(client, exportId)
    if (!claimed) return
    const onAbort = () => void requeueExport(claimed).catch((e) => console.error(`could not hand export ${exportId} back:`, e))
    signal?.addEventListener('abort', onAbort, { once: true })
    try {
      await writeExport(client, claimed)
    } catch (error) {
      await deleteExportFiles(exportId)
      if (!(error instanceof NoLongerOurs)) await recordFailure(claimed, error)
    } finally {
      signal?.removeEventListener('abort', onAbort)
    }
  } finally {
    await client.end().catch(() => {})
  }
}

async function claimExport(client: pg.Client, exportId: string): Promise<Export | null> {
  const { rowCount } = await client.query(
    `UPDATE exports SET status = 'PROCESSING', run = run + 1, backend_pid = pg_backend_pid(), started_at = now(),
       rows_written = 0, bytes_written = 0, error = NULL, updated_at = now()
     WHERE id = $1 AND status = 'QUEUED'`,
    [exportId],
  )
  return rowCount ? prisma().export.findUnique({ where: { id: exportId } }) : null
}

async function writeExport(client: pg.Client, exp: Export): Promise<void> {
  const imp = await getImport(exp.importId, ANY_OWNER)
  assertExportable(imp)
  const query = buildExportQuery(imp, {
    column: exp.column ?? undefined,
    from: exp.rangeFrom ?? undefined,
    to: exp.rangeTo ?? undefined,
    protectFormulas: exp.protectFormulas,
    format: exp.format as ExportFormat,
  })
  const mine = { id: exp.id, run: exp.run, status: 'PROCESSING' as const }
  const partial = partialExportFilePath(exp.id)
  await fsp.mkdir(exportsDir(), { recursive: true })

  await client.query('BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY')
  try {
    const total = (await client.query<{ n: string }>(query.count)).rows[0]!.n
    const counted = await prisma().export.updateMany({ where: mine, data: { rowsTotal: BigInt(total) } })
    if (!counted.count) throw new NoLongerOurs()

    // Counts the records for the progress, and writes their line ends as the format has them.
    const counter = new CsvRecordCounter(query.writing.quote, query.writing.lineEnd)
    const copy = client.query(copyTo(query.copy))
    const out = fs.createWriteStream(partial)
    out.write(query.header)
    let stopped = false
    const progress = setInterval(() => {
      prisma()
        .export.updateMany({ where: mine, data: { rowsWritten: counter.records, bytesWritten: query.header.length + counter.bytes } })
        .then((r) => {
          if (r.count || stopped) return
          stopped = true // stopped by a person: end the COPY now rather than at its end
          return cancelExportCopy(exp.id, exp.backendPid)
        })
        .catch((e) => console.error(`export ${exp.id}: progress not saved:`, e))
    }, PROGRESS_INTERVAL_MS)
    try {
      const encoder = query.writing.encoder()
      await pipeline([copy, counter, ...(encoder ? [encoder] : []), out])
    } catch (error) {
      if (stopped) throw new NoLongerOurs()
      throw error
    } finally {
      clearInterval(progress)
    }
    await client.query('COMMIT')

    // Published and marked in one step: the row lock held while renaming means a stop either
    // comes first (and this finds the export no longer PROCESSING) or waits and finds it done.
    const finishedAt = new Date()
    await prisma().$transaction(async (tx) => {
      const done = await tx.export.updateMany({
        where: mine,
        data: {
          status: 'PROCESSED',
          rowsWritten: copy.rowCount,
          bytesWritten: query.header.length + counter.bytes,
          backendPid: null,
          finishedAt,
          expiresAt: expiryFrom(finishedAt),
        },
      })
      if (!done.count) throw new NoLongerOurs()
      await fsp.rename(partial, exportFilePath(exp.id))
    })
  } catch (error) {
    await client.query('ROLLBACK').catch(() => {})
    throw error
  }
}

/** Hands a claimed export back to the queue (worker shutdown), then cancels its COPY; it starts over. */
async function requeueExport(exp: Export) {
  const res = await pool().query(
    `UPDATE exports SET status = 'QUEUED', rows_written = 0, bytes_written = 0, updated_at = now()
     WHERE id = $1 AND run = $2 AND status = 'PROCESSING' RETURNING backend_pid`,
    [exp.id, exp.run],
  )
  if (!res.rowCount) return
  await pool().query(ADD_RUN_EXPORT_JOB, [exp.id])
  await cancelExportCopy(exp.id, res.rows[0].backend_pid)
}

/** FAILED with a message a person can act on, unless the export stopped being ours (stop, shutdown). */
async function recordFailure(exp: Export, error: unknown) {
  const imp = await prisma().import.findUnique({ where: { id: exp.importId } })
  const message =
    imp?.status === 'STOPPED'
      ? 'The import was stopped while this export ran: its rows were removed'
      : // The raw cause (a PostgreSQL or JavaScript message) is for the server's log, not for a person.
        'The export failed on an unexpected error on the server (its log has the details); start the export again'
  const res = await prisma().export.updateMany({
    where: { id: exp.id, run: exp.run, status: 'PROCESSING' },
    data: { status: 'FAILED', error: message, backendPid: null, finishedAt: new Date() },
  })
  if (res.count && imp?.status !== 'STOPPED') console.error(`export ${exp.id} failed:`, error)
}
