import { randomUUID } from 'node:crypto'
import { config } from '../config'
import { pool, prisma } from '../db/pool'
import type { Import } from '../db/generated/client'
import { SluiceError } from '../http/errors'
import { isUuid } from '../http/ids'
import { deleteUploadFile, sameFileContent } from '../uploads/upload-files'
import { columnsOf, IMPORTED_SCHEMA, importTableSql, quoteIdent, ROW_NUMBER_COLUMN, tableNameFor } from './column-names'
import { cancelImportBatch } from './import-connection'
import { COMMAND_TARGET, sourcesOf, type ImportCommand } from './import-status'
import { addPauseTimeoutJob, addRunImportJob } from './job-queue'
import type { ImportDto, RejectDto, RowsPage } from './schemas'
import type { Dialect } from '../csv/sniff'

/** The import as the API answers it. */
export function toImportDto(imp: Import): ImportDto {
  const timeout = config().pauseTimeoutSeconds
  const iso = (d: Date | null) => d?.toISOString() ?? null
  return {
    id: imp.id,
    uploadId: imp.uploadId,
    fileName: imp.fileName,
    status: imp.status,
    rowsImported: Number(imp.rowsImported),
    rowsRejected: Number(imp.rowsRejected),
    bytesProcessed: Number(imp.bytesProcessed),
    totalBytes: Number(imp.totalBytes),
    columns: columnsOf(imp.columns),
    dialect: imp.dialect as Dialect | null,
    tableName: `${IMPORTED_SCHEMA}.${imp.tableName}`,
    error: imp.error,
    createdAt: imp.createdAt.toISOString(),
    startedAt: iso(imp.startedAt),
    pausedAt: iso(imp.pausedAt),
    pauseExpiresAt: imp.status === 'PAUSED' && imp.pausedAt && timeout > 0 ? iso(new Date(imp.pausedAt.getTime() + timeout * 1000)) : null,
    finishedAt: iso(imp.finishedAt),
  }
}

const notFound = (id: string) => new SluiceError('NOT_FOUND', `No import with id ${id}`)

/** One import; NOT_FOUND when there is none with that id. */
export async function getImport(id: string): Promise<Import> {
  const imp = isUuid(id) ? await prisma().import.findUnique({ where: { id } }) : null
  if (!imp) throw notFound(id)
  return imp
}

/** Imports, newest first; only those of one upload when `uploadId` is given. */
export function listImports(filter: { uploadId?: string | undefined } = {}): Promise<Import[]> {
  return prisma().import.findMany({
    where: filter.uploadId ? { uploadId: filter.uploadId } : {},
    orderBy: { createdAt: 'desc' },
    take: 200,
  })
}

/**
 * Called when an upload has every byte: queues its import. When the same file (same name,
 * size and bytes) was imported before and that import was KILLED, that import resumes from its
 * recovery point on the new upload's file instead, so no row is imported twice.
 */
export async function startImportForUpload(upload: { id: string; fileName: string; size: number }): Promise<Import> {
  const killed = await prisma().import.findMany({
    where: { status: 'KILLED', fileName: upload.fileName, totalBytes: BigInt(upload.size) },
    orderBy: { createdAt: 'desc' },
  })
  for (const candidate of killed) {
    if (!candidate.uploadId || !(await sameFileContent(candidate.uploadId, upload.id).catch(() => false))) continue
    const resumed = await prisma().$transaction(async (tx) => {
      const [imp] = await tx.import.updateManyAndReturn({
        where: { id: candidate.id, status: 'KILLED' },
        data: { status: 'QUEUED', uploadId: upload.id, error: null },
      })
      if (imp) await addRunImportJob(tx, imp.id)
      return imp
    })
    if (!resumed) continue
    await deleteUploadFile(candidate.uploadId)
    await prisma().upload.updateMany({ where: { id: candidate.uploadId }, data: { status: 'TERMINATED' } })
    return resumed
  }
  const id = randomUUID()
  return prisma().$transaction(async (tx) => {
    const imp = await tx.import.create({
      data: { id, uploadId: upload.id, fileName: upload.fileName, totalBytes: BigInt(upload.size), tableName: tableNameFor(upload.fileName, id) },
    })
    await addRunImportJob(tx, id)
    return imp
  })
}

type Tx = Parameters<Parameters<ReturnType<typeof prisma>['$transaction']>[0]>[0]

/**
 * Carries out a person's command if the state machine allows it from the import's current
 * status, in one guarded UPDATE (so two commands cannot both win), with `then` in the same
 * transaction; 404 or 409 with the reason otherwise.
 */
async function transition(id: string, command: ImportCommand, data: Record<string, unknown>, then?: (tx: Tx) => Promise<unknown>) {
  if (!isUuid(id)) throw notFound(id)
  const to = COMMAND_TARGET[command]
  const imp = await prisma().$transaction(async (tx) => {
    const [updated] = await tx.import.updateManyAndReturn({ where: { id, status: { in: sourcesOf(to) } }, data: { status: to, ...data } })
    if (updated && then) await then(tx)
    return updated
  })
  if (!imp) throw await refusal(id, command)
  return imp
}

const ALLOWED_FROM: Record<ImportCommand, string> = {
  pause: 'only a processing import can be paused',
  resume: 'only a paused, killed or failed import can be resumed',
  stop: 'only a queued, receiving, processing, paused or killed import can be stopped',
  kill: 'only a processing or paused import can be killed',
}

/** Why the command was refused: NOT_FOUND, or the status that does not allow it. */
async function refusal(id: string, command: ImportCommand): Promise<SluiceError> {
  const now = await getImport(id)
  return new SluiceError('INVALID_TRANSITION', `Cannot ${command} this import: it is ${now.status.toLowerCase()}, and ${ALLOWED_FROM[command]}`)
}

/** PROCESSING → PAUSED: the batch in flight is cancelled, so the row count holds from this answer on. */
export async function pauseImport(id: string): Promise<Import> {
  const timeout = config().pauseTimeoutSeconds
  const imp = await transition(id, 'pause', { pausedAt: new Date() }, async (tx) => {
    if (timeout > 0) await addPauseTimeoutJob(tx, id, timeout)
  })
  await cancelImportBatch(id, imp.backendPid)
  return imp
}

/** PAUSED, KILLED or FAILED → QUEUED: a worker continues from the checkpoint. */
export async function resumeImport(id: string): Promise<Import> {
  return transition(id, 'resume', { pausedAt: null, error: null, finishedAt: null }, (tx) => addRunImportJob(tx, id))
}

/** PROCESSING or PAUSED → KILLED: the batch in flight is aborted at once; committed rows stay. */
export async function killImport(id: string): Promise<Import> {
  const imp = await transition(id, 'kill', { pausedAt: null })
  await cancelImportBatch(id, imp.backendPid)
  return imp
}

/**
 * → STOPPED: every row is removed (its table dropped, in constant time) and the uploaded file
 * deleted. A batch session's import stops the same way; a batch in flight holds the import's
 * row, so the stop waits for it and the drop removes its rows too.
 */
export async function stopImport(id: string): Promise<Import> {
  const imp = await transition(id, 'stop', { ...STOPPED_DATA, finishedAt: new Date() })
  await cancelImportBatch(id, imp.backendPid)
  await removeImportData(imp)
  return imp
}

/**
 * Stops the import if it is still paused `timeout` seconds after it paused (the pause-timeout
 * job). The timeout comes with the job, from the process that took the pause and told the
 * person when it would end, not from whichever worker runs the check.
 */
export async function stopImportIfPausedTooLong(id: string, timeout: number): Promise<Import | null> {
  const [imp] = await prisma().import.updateManyAndReturn({
    where: { id, status: 'PAUSED', pausedAt: { lte: new Date(Date.now() - timeout * 1000) } },
    data: {
      ...STOPPED_DATA,
      status: 'STOPPED',
      finishedAt: new Date(),
      error: `Stopped after a pause of more than ${timeout} s (PAUSE_TIMEOUT_SECONDS)`,
    },
  })
  if (imp) await removeImportData(imp)
  return imp ?? null
}

// A stopped import has no rows: its counts go to zero in the same UPDATE as its status, so no
// reader ever sees STOPPED with rows; the table is dropped right after.
const STOPPED_DATA = { pausedAt: null, rowsImported: 0, rowsRejected: 0, bytesProcessed: 0 }

async function removeImportData(imp: Import): Promise<void> {
  // The worker's transaction (cancelled above) holds a lock on the table until it rolls back;
  // DROP waits for it. The status is already STOPPED, so no later batch can commit.
  await dropImportTable(importTableSql(imp.tableName))
  await prisma().importReject.deleteMany({ where: { importId: imp.id } })
  if (imp.uploadId === null) return // fed by a batch session: no file
  await deleteUploadFile(imp.uploadId)
  await prisma().upload.updateMany({ where: { id: imp.uploadId }, data: { status: 'TERMINATED' } })
}

// SQLSTATE lock_not_available: DROP waited longer than its lock_timeout.
const LOCK_NOT_AVAILABLE = '55P03'

/**
 * Drops an import's table. Readers (an export streaming or writing its file, someone's query)
 * would hold DROP up for as long as they read, so they are cancelled first. PostgreSQL acts on
 * a cancel only between writes to the client, so a reader stuck on a client that stopped
 * reading ignores it: whoever still holds the table a second later is disconnected.
 */
async function dropImportTable(table: string): Promise<void> {
  const stopReaders = (how: 'pg_cancel_backend' | 'pg_terminate_backend') =>
    pool().query(`SELECT ${how}(pid) FROM pg_locks WHERE relation = to_regclass($1) AND pid <> pg_backend_pid()`, [table])
  await stopReaders('pg_cancel_backend')
  const client = await pool().connect()
  try {
    for (const lockTimeout of ['1s', '0']) {
      try {
        await client.query('BEGIN')
        await client.query(`SET LOCAL lock_timeout = '${lockTimeout}'`)
        await client.query(`DROP TABLE IF EXISTS ${table}`)
        await client.query('COMMIT')
        return
      } catch (error) {
        await client.query('ROLLBACK')
        if ((error as { code?: string }).code !== LOCK_NOT_AVAILABLE) throw error
        await stopReaders('pg_terminate_backend')
      }
    }
  } finally {
    client.release()
  }
}

/** A page of an import's rows in file order, keyed by column name; empty before its first batch and after stop. */
export async function listRows(id: string, page: { limit: number; offset: number }): Promise<RowsPage> {
  const imp = await getImport(id)
  const columns = columnsOf(imp.columns)
  const base = { columns, limit: page.limit, offset: page.offset }
  if (!columns.length || imp.status === 'STOPPED') return { ...base, rows: [] }
  const { rows } = await pool().query({
    // Every value as PostgreSQL writes it: a date stays "2024-01-31", not a JavaScript Date.
    text: `SELECT ${columns.map((c) => `${quoteIdent(c.name)}::text`).join(', ')} FROM ${importTableSql(imp.tableName)}
           ORDER BY ${quoteIdent(ROW_NUMBER_COLUMN)} LIMIT $1 OFFSET $2`,
    values: [page.limit, page.offset],
  })
  return { ...base, rows }
}

/** An import's rejected records, in file order; NOT_FOUND when there is no such import. */
export async function listRejects(id: string, page: { limit: number; offset: number }): Promise<RejectDto[]> {
  await getImport(id)
  const rejects = await prisma().importReject.findMany({
    where: { importId: id },
    orderBy: { line: 'asc' },
    take: page.limit,
    skip: page.offset,
  })
  return rejects.map((r) => ({ line: Number(r.line), reason: r.reason, record: r.record }))
}

/**
 * Why the upload's file may not be removed (tus termination), or null: an import that may
 * still read it (queued, running, paused, killed or failed) needs it. Stop the import instead.
 */
export async function whyUploadIsInUse(uploadId: string): Promise<string | null> {
  const imp = await prisma().import.findFirst({
    where: { uploadId, status: { in: ['QUEUED', 'PROCESSING', 'PAUSED', 'KILLED', 'FAILED'] } },
  })
  return imp ? `This upload is being imported (import ${imp.id} is ${imp.status.toLowerCase()}): stop the import to remove it` : null
}
