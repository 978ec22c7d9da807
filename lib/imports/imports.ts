import fs from 'node:fs/promises'
import { randomUUID } from 'node:crypto'
import { config } from '../config'
import { pool, prisma } from '../db/pool'
import type { Import } from '../db/generated/client'
import { cutInput, SluiceError } from '../http/errors'
import { isUuid } from '../http/ids'
import { deleteUploadFile, fileStartsWith, uploadFilePath } from '../uploads/upload-files'
import { columnsOf, IMPORTED_SCHEMA, importTableSql, quoteIdent, tableNameFor } from './column-names'
import { fileOrderSql } from './import-table'
import { cancelImportBatch, terminateImportConnections } from './import-connection'
import { COMMAND_TARGET, sourcesOf, type ImportCommand } from './import-status'
import { addPauseTimeoutJob, addRunImportJob, WAKE_IMPORTS_OF_UPLOAD } from './job-queue'
import type { ImportDto, RejectDto, RowsPage } from './schemas'
import type { Dialect } from '../csv/sniff'
import { ANY_OWNER, type OwnerScope } from '../auth/owner-scope'

type WithOwner = { owner?: { name: string; email: string } | null; upload?: { bytesReceived: bigint } | null }
const OWNER = { owner: { select: { name: true, email: true } }, upload: { select: { bytesReceived: true } } } as const

/** The import as the API answers it (with its owner when it was read with them). */
export function toImportDto(imp: Import & WithOwner): ImportDto {
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
    // The upload's offset is recorded once a second while bytes flow; the import reads the file
    // as it lands, so it may be ahead of that record, and what it has read has surely arrived.
    ...(imp.upload !== undefined && { bytesUploaded: imp.upload && Math.max(Number(imp.upload.bytesReceived), Number(imp.bytesProcessed)) }),
    columns: columnsOf(imp.columns),
    dialect: imp.dialect as Dialect | null,
    tableName: `${IMPORTED_SCHEMA}.${imp.tableName}`,
    fileOrder: fileOrderSql(imp).replace(/"/g, ''),
    error: imp.error,
    failedOn: imp.status === 'FAILED' ? (imp.failureFinal ? 'file' : 'server') : null,
    createdAt: imp.createdAt.toISOString(),
    startedAt: iso(imp.startedAt),
    pausedAt: iso(imp.pausedAt),
    pauseExpiresAt: imp.status === 'PAUSED' && imp.pausedAt && timeout > 0 ? iso(new Date(imp.pausedAt.getTime() + timeout * 1000)) : null,
    finishedAt: iso(imp.finishedAt),
    ...(imp.owner !== undefined && { owner: imp.owner && { name: imp.owner.name, email: imp.owner.email } }),
  }
}

/**
 * What an import occupies: its table in PostgreSQL (every batch's partition and index) and
 * its uploaded file on disk (gone once a finished import no longer needs it).
 */
export async function storageOf(imp: Import): Promise<{ tableBytes: number; fileBytes: number }> {
  const { rows } = await pool().query<{ bytes: string | null }>(
    `SELECT sum(pg_total_relation_size(r.relid)) AS bytes FROM pg_partition_tree(to_regclass(format('%I.%I', $1::text, $2::text))) r`,
    [IMPORTED_SCHEMA, imp.tableName],
  )
  const fileBytes = imp.uploadId ? await fs.stat(uploadFilePath(imp.uploadId)).then((s) => s.size, () => 0) : 0
  return { tableBytes: Number(rows[0]?.bytes ?? 0), fileBytes }
}

const notFound = (id: string) => new SluiceError('NOT_FOUND', `No import with id ${cutInput(id)}`)

/** One import within `scope`; NOT_FOUND when there is none with that id there (another owner's included). */
export async function getImport(id: string, scope: OwnerScope): Promise<Import & WithOwner> {
  const imp = isUuid(id) ? await prisma().import.findFirst({ where: { id, ...scope }, include: OWNER }) : null
  if (!imp) throw notFound(id)
  return imp
}

/** Imports within `scope`, newest first; only those of one upload when `uploadId` is given (or the one it continues). */
export function listImports(filter: { uploadId?: string | undefined }, scope: OwnerScope): Promise<(Import & WithOwner)[]> {
  const { uploadId } = filter
  return prisma().import.findMany({
    include: OWNER,
    where: { ...scope, ...(uploadId && { OR: [{ uploadId }, { continuedBy: { some: { id: uploadId } } }] }) },
    orderBy: { createdAt: 'desc' },
    take: 200,
  })
}

/**
 * Starts the import of an upload: when it is created (`following`: the import then reads the
 * file as it arrives) and again when its last byte lands, which finds the import already there
 * and lets it go on. When the same file (same name, size and bytes) was imported before and that
 * import was KILLED, that import resumes from its recovery point on the new upload's file
 * instead, so no row is imported twice; a second drop that finds it already resumed by such a
 * drop continues it too, and adds no import. Only whole files can be compared, so an upload that
 * may be such a drop starts no import until it is complete (null).
 */
export async function startImportForUpload(
  upload: { id: string; fileName: string; size: number; ownerId: string | null },
  { following = false } = {},
): Promise<Import | null> {
  // One decision at a time per file name and size: two drops of a KILLED file finishing at the
  // same instant would otherwise both see it KILLED, one resume it and the other import it again.
  return withAdvisoryLock(`import-of-file:${upload.fileName}:${upload.size}`, async () => {
    const started = await prisma().import.findFirst({ where: { uploadId: upload.id } })
    if (started) {
      await wakeImportOfUpload(upload.id)
      return started
    }
    const continued = await prisma().upload.findUnique({ where: { id: upload.id }, select: { continuesImport: true } })
    if (continued?.continuesImport) return continued.continuesImport
    const candidates = await prisma().import.findMany({
      // Only the same person's: another's import of a file with the same name is none of theirs.
      where: { status: { in: ['KILLED', 'QUEUED', 'PROCESSING', 'PAUSED'] }, fileName: upload.fileName, totalBytes: BigInt(upload.size), uploadId: { not: upload.id }, ownerId: upload.ownerId },
      include: { upload: { select: { createdAt: true } } },
      orderBy: { createdAt: 'desc' },
    })
    for (const candidate of candidates) {
      // An import under way continues this drop only if a drop already resumed it (its upload is
      // newer than it): dropping a file again while its first import runs is a second import.
      const resumedByDrop = candidate.upload !== null && candidate.upload.createdAt > candidate.createdAt
      if (candidate.status !== 'KILLED' && !resumedByDrop) continue
      if (following) return null
      // The killed import's own upload may have stopped short: its bytes must begin this file.
      if (!candidate.uploadId || !(await fileStartsWith(upload.id, candidate.uploadId).catch(() => false))) continue
      if (candidate.status !== 'KILLED') {
        await prisma().upload.update({ where: { id: upload.id }, data: { continuesImportId: candidate.id } })
        return candidate
      }
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
        data: { id, uploadId: upload.id, fileName: upload.fileName, totalBytes: BigInt(upload.size), tableName: tableNameFor(upload.fileName, id), ownerId: upload.ownerId },
      })
      await addRunImportJob(tx, id)
      return imp
    })
  })
}

/** Lets an import waiting for its upload's bytes (QUEUED without a worker) go on: the upload brought some. */
export async function wakeImportOfUpload(uploadId: string): Promise<void> {
  await pool().query(WAKE_IMPORTS_OF_UPLOAD, [uploadId])
}

/** Whether the upload continues an import of another upload (its file is then not needed). */
async function isContinuation(uploadId: string): Promise<boolean> {
  const upload = await prisma().upload.findUnique({ where: { id: uploadId }, select: { continuesImportId: true } })
  return Boolean(upload?.continuesImportId)
}

/**
 * Runs `fn` holding a PostgreSQL advisory lock on `key`, so that it holds across processes.
 * A waiter polls with pg_try_advisory_lock instead of blocking: a blocked waiter would hold a
 * pooled connection, and enough of them would leave none for the holder's own queries.
 */
async function withAdvisoryLock<T>(key: string, fn: () => Promise<T>): Promise<T> {
  for (;;) {
    const client = await pool().connect()
    let locked = false
    // A connection whose unlock failed is destroyed, not pooled: closing it frees the lock.
    let broken: Error | undefined
    try {
      locked = (await client.query('SELECT pg_try_advisory_lock(hashtextextended($1, 0)) AS locked', [key])).rows[0].locked
      if (locked) return await fn()
    } finally {
      if (locked) await client.query('SELECT pg_advisory_unlock(hashtextextended($1, 0))', [key]).catch((e: Error) => (broken = e))
      client.release(broken)
    }
    await new Promise((resolve) => setTimeout(resolve, ADVISORY_LOCK_RETRY_MS))
  }
}

// Another drop of the same file is deciding (a few queries, or comparing two files' bytes).
const ADVISORY_LOCK_RETRY_MS = 50

type Tx = Parameters<Parameters<ReturnType<typeof prisma>['$transaction']>[0]>[0]

/**
 * Carries out a person's command if the state machine allows it from the import's current
 * status, in one guarded UPDATE (so two commands cannot both win), with `then` in the same
 * transaction; 404 or 409 with the reason otherwise.
 */
async function transition(id: string, command: ImportCommand, data: Record<string, unknown>, then?: (tx: Tx) => Promise<unknown>) {
  if (!isUuid(id)) throw notFound(id)
  const to = COMMAND_TARGET[command]
  // A failure of the file itself would only come back.
  const resumable = command === 'resume' ? { failureFinal: false } : {}
  const imp = await prisma().$transaction(async (tx) => {
    const [updated] = await tx.import.updateManyAndReturn({ where: { id, status: { in: sourcesOf(to) }, ...resumable }, data: { status: to, ...data } })
    if (updated && then) await then(tx)
    return updated
  })
  if (!imp) throw await refusal(id, command)
  return imp
}

const ALLOWED_FROM: Record<ImportCommand, string> = {
  pause: 'only a processing import can be paused',
  resume: 'only a paused, killed or failed import can be resumed',
  stop: 'only a queued, receiving, processing, paused, killed or failed import can be stopped',
  kill: 'only a processing or paused import can be killed',
}

/** Why the command was refused: NOT_FOUND, or the status that does not allow it. */
async function refusal(id: string, command: ImportCommand): Promise<SluiceError> {
  const now = await getImport(id, ANY_OWNER)
  if (command === 'resume' && now.status === 'FAILED' && now.failureFinal) {
    return new SluiceError('INVALID_TRANSITION', `Cannot resume this import: the file itself cannot be imported (${now.error}). Remove it, and upload a corrected file`)
  }
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
export async function stopImport(id: string, reason: string | null = null): Promise<Import> {
  const imp = await transition(id, 'stop', { ...STOPPED_DATA, error: reason, finishedAt: new Date() })
  await terminateImportConnections(id, imp.backendPid)
  await removeImportData(imp)
  return imp
}

/**
 * Stops, as stop does, every import reading an upload that ends before its last byte
 * (cancelled or expired): the import was following it and can never finish. How many it stopped.
 */
export async function stopImportsOfUpload(uploadId: string, reason: string): Promise<number> {
  const imports = await prisma().import.findMany({ where: { uploadId, status: { in: sourcesOf('STOPPED') } }, select: { id: true } })
  let stopped = 0
  for (const { id } of imports) {
    try {
      await stopImport(id, reason)
      stopped++
    } catch (error) {
      // Stopped or finished by someone else meanwhile.
      if (!(error instanceof SluiceError && error.code === 'INVALID_TRANSITION')) throw error
    }
  }
  return stopped
}

/**
 * Ends the import as kill does if it is still paused `timeout` seconds after it paused (the
 * pause-timeout job): a forgotten pause must never destroy data, so the committed rows and the
 * checkpoint stay and resume finishes it. The timeout comes with the job, from the process
 * that took the pause and told the person when it would end, not from whichever worker runs it.
 */
export async function killImportIfPausedTooLong(id: string, timeout: number): Promise<Import | null> {
  const [imp] = await prisma().import.updateManyAndReturn({
    where: { id, status: 'PAUSED', pausedAt: { lte: new Date(Date.now() - timeout * 1000) } },
    data: { status: 'KILLED', pausedAt: null, error: `Ended after a pause of more than ${formatSeconds(timeout)}; the rows imported so far are kept.` },
  })
  return imp ?? null
}

const formatSeconds = (s: number) => (s % 60 === 0 && s >= 60 ? `${s / 60} min` : `${s} s`)

// A stopped import has no rows: its counts go to zero in the same UPDATE as its status, so no
// reader ever sees STOPPED with rows; the table is dropped right after.
const STOPPED_DATA = { pausedAt: null, rowsImported: 0, rowsRejected: 0, bytesProcessed: 0 }

/**
 * Deletes an import for good: one still under way is stopped first (as stop does), then its
 * table, its uploaded file, its rejects and its checkpoint go, and its row. NOT_FOUND when it
 * was gone meanwhile (of two deletes at once, one deletes it). Its exports are the caller's to
 * end first (endExportsOfImport in lib/exports/exports.ts), since their rows go with the import's.
 */
export async function deleteImport(id: string): Promise<void> {
  const imp = await getImport(id, ANY_OWNER)
  // A stop removes the table and the file itself; one that lost a race (the import finished or
  // was stopped meanwhile) did not, and neither is there a stop for a finished import.
  const stopped =
    sourcesOf('STOPPED').includes(imp.status) &&
    (await stopImport(id).then(
      () => true,
      (error: unknown) => {
        if (error instanceof SluiceError && error.code === 'INVALID_TRANSITION') return false
        throw error
      },
    ))
  if (!stopped) await removeImportData(imp)
  const { count } = await prisma().import.deleteMany({ where: { id } })
  if (count === 0) throw notFound(id)
}

async function removeImportData(imp: Import): Promise<void> {
  // The worker's transaction (cancelled above) holds a lock on the table until it rolls back;
  // DROP waits for it. The status is already STOPPED, so no later batch can commit.
  await dropImportTable(importTableSql(imp.tableName))
  await prisma().importReject.deleteMany({ where: { importId: imp.id } })
  await prisma().importBatch.deleteMany({ where: { importId: imp.id } })
  if (imp.uploadId === null) return // fed by a batch session: no file
  await deleteUploadFile(imp.uploadId)
  await prisma().upload.updateMany({ where: { id: imp.uploadId, status: { not: 'EXPIRED' } }, data: { status: 'TERMINATED' } })
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
    // pg_locks spans the whole cluster: a relation's oid means this table only in this database.
    pool().query(
      `SELECT ${how}(pid) FROM pg_locks
       WHERE database = (SELECT oid FROM pg_database WHERE datname = current_database()) AND relation = to_regclass($1) AND pid <> pg_backend_pid()`,
      [table],
    )
  const client = await pool().connect()
  // One drop of a table at a time (two deletes at once, a stop and a delete): the second must
  // not take the first's DROP, waiting for its lock, for a reader and cancel it.
  await client.query('SELECT pg_advisory_lock(hashtext($1))', [table])
  try {
    await stopReaders('pg_cancel_backend')
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
    await client.query('SELECT pg_advisory_unlock(hashtext($1))', [table]).then(
      () => client.release(),
      (error: Error) => client.release(error),
    )
  }
}

/** A page of an import's rows in file order, keyed by column name; empty before its first batch and after stop. */
export async function listRows(id: string, page: { limit: number; offset: number }, scope: OwnerScope): Promise<RowsPage> {
  const imp = await getImport(id, scope)
  const columns = columnsOf(imp.columns)
  const base = { columns, limit: page.limit, offset: page.offset }
  if (!columns.length || imp.status === 'STOPPED') return { ...base, rows: [] }
  const client = await pool().connect()
  let broken: Error | undefined
  try {
    // A table stored in file order is read as stored (the settings make a scan start at the
    // first page, on one process), so a page costs its rows, not a sort of the whole table.
    await client.query('BEGIN READ ONLY')
    await client.query('SET LOCAL synchronize_seqscans = off')
    await client.query('SET LOCAL max_parallel_workers_per_gather = 0')
    const { rows } = await client.query({
      // Every value as PostgreSQL writes it: a date stays "2024-01-31", not a JavaScript Date.
      text: `SELECT ${columns.map((c) => `${quoteIdent(c.name)}::text`).join(', ')} FROM ${importTableSql(imp.tableName)}
             ${imp.storedInFileOrder ? '' : `ORDER BY ${fileOrderSql(imp)}`} LIMIT $1 OFFSET $2`,
      values: [page.limit, page.offset],
    })
    await client.query('COMMIT')
    return { ...base, rows }
  } catch (error) {
    // Cancelled (a stop drops the table under it) or failed: a connection left inside a
    // transaction would hold the table's locks and fail the next user of the pool.
    broken = error as Error
    throw error
  } finally {
    client.release(broken)
  }
}

/** An import's rejected records, in file order; NOT_FOUND when there is no such import. */
export async function listRejects(id: string, page: { limit: number; offset: number }, scope: OwnerScope): Promise<RejectDto[]> {
  await getImport(id, scope)
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
 * still read it (queued, running, paused, killed or failed) needs it; so does a complete
 * upload whose import is not created yet (the finish hook runs after tus's lock is released).
 */
export async function whyUploadIsInUse(uploadId: string, { complete }: { complete: boolean }): Promise<string | null> {
  const imports = await prisma().import.findMany({ where: { uploadId }, select: { id: true, status: true } })
  const active = imports.find((i) => ['QUEUED', 'PROCESSING', 'PAUSED', 'KILLED', 'FAILED'].includes(i.status))
  if (active) return `This upload is being imported (import ${active.id} is ${active.status.toLowerCase()}): stop the import to remove it`
  if (complete && imports.length === 0 && !(await isContinuation(uploadId))) return 'This upload has just finished and its import is starting: stop the import to remove it'
  return null
}
