import type { OwnerScope } from '../auth/owner-scope'
import { randomUUID } from 'node:crypto'
import type pg from 'pg'
import { config } from '../config'
import { pool, prisma } from '../db/pool'
import type { BatchSession, Import } from '../db/generated/client'
import { cutInput, SluiceError } from '../http/errors'
import { isUuid } from '../http/ids'
import { columnsFromHeaders, createImportTableSql, tableNameFor, type ImportColumn } from '../imports/column-names'
import { ADD_PREPARE_ROW_ORDER_JOB } from '../imports/job-queue'
import { knownRecordCount, readJsonBatch, writeBatch } from './batch-copy'
import type { BatchRequest } from './batch-request'
import type { BatchResult, CreateSessionRequest, SessionDto } from './schemas'

type SessionWithImport = BatchSession & { import: Import }

/** The session as the API answers it; its status follows its import's. */
export function toSessionDto(s: SessionWithImport): SessionDto {
  const status = s.import.status === 'RECEIVING' ? 'OPEN' : s.import.status === 'PROCESSED' ? 'FINISHED' : 'STOPPED'
  return {
    id: s.id,
    importId: s.importId,
    name: s.name,
    status,
    columns: ((s.import.columns as ImportColumn[] | null) ?? []).map((c) => c.header),
    types: ((s.import.columns as ImportColumn[] | null) ?? []).map((c) => c.type ?? 'text'),
    recordsReceived: Number(s.import.rowsImported),
    batchesReceived: s.batchesReceived,
    createdAt: s.createdAt.toISOString(),
    finishedAt: status === 'FINISHED' ? (s.import.finishedAt?.toISOString() ?? null) : null,
  }
}

const notFound = (id: string) => new SluiceError('NOT_FOUND', `No batch session with id ${cutInput(id)}`)

/** One session with its import, within `scope`; NOT_FOUND when there is none with that id there. */
export async function getSession(id: string, scope: OwnerScope): Promise<SessionWithImport> {
  const session = isUuid(id) ? await prisma().batchSession.findFirst({ where: { id, ...scope }, include: { import: true } }) : null
  if (!session) throw notFound(id)
  return session
}

/**
 * Opens a session and its import (RECEIVING). With `columns` the import's table exists at once,
 * so the import can be previewed and exported before any record arrives.
 */
export async function createSession(body: CreateSessionRequest, ownerId: string): Promise<SessionWithImport> {
  const importId = randomUUID()
  const tableName = tableNameFor(body.name, importId)
  const typed = body.columns?.some((c) => typeof c !== 'string')
  const columns = body.columns
    ? columnsFromHeaders(
        body.columns.map((c) => (typeof c === 'string' ? c : c.name)),
        typed ? body.columns.map((c) => (typeof c === 'string' ? 'text' : c.type)) : undefined,
      )
    : null
  return prisma().$transaction(async (tx) => {
    await tx.import.create({
      data: {
        id: importId,
        fileName: body.name,
        totalBytes: 0,
        status: 'RECEIVING',
        tableName,
        startedAt: new Date(),
        ownerId,
        ...(columns ? { columns } : {}),
      },
    })
    if (columns) await tx.$executeRawUnsafe(createImportTableSql(tableName, columns))
    return tx.batchSession.create({ data: { importId, name: body.name, ownerId }, include: { import: true } })
  })
}

// Batches writing at once in this process. A streamed body holds its connection for as long
// as the client takes to send it: the rest wait their turn, so the shared pool (10) always
// keeps connections for everything else.
const MAX_BATCHES_AT_ONCE = 4
let batchesWriting = 0
const waitingForTurn: Array<() => void> = []

async function inTurn<T>(work: () => Promise<T>): Promise<T> {
  if (batchesWriting >= MAX_BATCHES_AT_ONCE) await new Promise<void>((resolve) => waitingForTurn.push(resolve))
  else batchesWriting++
  try {
    return await work()
  } finally {
    const next = waitingForTurn.shift()
    if (next) next()
    else batchesWriting--
  }
}

/**
 * Appends one batch in one transaction: its rows, its sequence and the counts commit together
 * or not at all. The transaction holds the import's row, so batches of one session apply one
 * at a time (in the order they arrive) and a stop waits for the batch in flight. A batch sent
 * again with an applied sequence is read (its digest must match) and not applied.
 */
export async function appendBatch(id: string, request: BatchRequest, scope: OwnerScope): Promise<BatchResult> {
  const session = await getSession(id, scope)
  const batch = request.format === 'json' ? readJsonBatch(request.bytes, session.import.columns as ImportColumn[] | null) : request
  const { maxBatchRecords } = config()
  const known = knownRecordCount(batch)
  if (known !== null && known > maxBatchRecords) {
    throw new SluiceError('TOO_LARGE', `A batch may hold at most ${maxBatchRecords} records (MAX_BATCH_RECORDS); this one holds ${known}: send them in smaller batches`, {
      details: { maxRecords: maxBatchRecords, records: known },
    })
  }
  const { applied, records } = await inTurn(() =>
    inTransaction(async (client) => {
      const imp = await lockOpenImport(client, session, 'send a batch')
      const before = batch.sequence === undefined ? undefined : await appliedBatch(client, session.id, batch.sequence)
      const written = await writeBatch(client, imp, batch, { apply: !before, maxRecords: maxBatchRecords })
      if (before) {
        if (before.digest !== written.digest) {
          throw new SluiceError('INVALID_TRANSITION', `Batch ${batch.sequence} was already applied with other records: give each batch its own sequence`)
        }
        return { applied: false, records: before.records }
      }
      if (batch.sequence !== undefined) {
        await client.query('INSERT INTO session_batches (session_id, sequence, records, digest) VALUES ($1, $2, $3, $4)', [
          session.id,
          batch.sequence,
          written.records,
          written.digest,
        ])
      }
      await client.query(
        `UPDATE imports SET rows_imported = rows_imported + $2, bytes_processed = bytes_processed + $3,
           total_bytes = total_bytes + $3, columns = $4::jsonb, updated_at = now()
         WHERE id = $1`,
        [imp.id, written.records, written.bytes, written.columns ? JSON.stringify(written.columns) : null],
      )
      await client.query('UPDATE batch_sessions SET batches_received = batches_received + 1, updated_at = now() WHERE id = $1', [session.id])
      return { applied: true, records: written.records }
    }),
  )
  return { session: toSessionDto(await getSession(id, scope)), applied, records }
}

/**
 * Finishes the session when `totalRecords` is what arrived: its import is then PROCESSED. A
 * different total is refused with both numbers and the session stays open, so the client can
 * send what is missing. Finishing a finished session again with its total answers it as it is.
 */
export async function finishSession(id: string, totalRecords: number, scope: OwnerScope): Promise<SessionWithImport> {
  const session = await getSession(id, scope)
  await inTransaction(async (client) => {
    const imp = await lockImport(client, session.importId)
    const received = Number(imp.rowsImported)
    if (imp.status === 'PROCESSED' && received === totalRecords) return
    if (imp.status !== 'RECEIVING') throw notOpen(imp.status, 'finish it')
    if (received !== totalRecords) {
      const advice =
        received < totalRecords
          ? 'send the missing batches (a batch sent again with its sequence is not applied twice), then finish again'
          : 'more records arrived than the total says: a batch sent twice without a sequence is applied twice'
      throw new SluiceError('UNPROCESSABLE', `totalRecords is ${totalRecords}, but ${received} records arrived: ${advice}`, {
        details: { totalRecords, recordsReceived: received },
      })
    }
    await client.query(`UPDATE imports SET status = 'PROCESSED', finished_at = now(), updated_at = now() WHERE id = $1`, [imp.id])
    // The index and order check every finished import gets (row-order.ts), done by a worker.
    await client.query(ADD_PREPARE_ROW_ORDER_JOB, [imp.id])
  })
  return getSession(id, scope)
}

type LockedImport = { id: string; status: Import['status']; tableName: string; columns: ImportColumn[] | null; rowsImported: string }

async function lockImport(client: pg.PoolClient, importId: string): Promise<LockedImport> {
  const { rows } = await client.query<LockedImport>(
    `SELECT id, status, table_name AS "tableName", columns, rows_imported AS "rowsImported" FROM imports WHERE id = $1 FOR UPDATE`,
    [importId],
  )
  return rows[0]!
}

async function lockOpenImport(client: pg.PoolClient, session: BatchSession, action: string): Promise<LockedImport> {
  const imp = await lockImport(client, session.importId)
  if (imp.status !== 'RECEIVING') throw notOpen(imp.status, action)
  return imp
}

const notOpen = (status: Import['status'], action: string) =>
  new SluiceError(
    'INVALID_TRANSITION',
    status === 'PROCESSED'
      ? `Cannot ${action}: the session is finished`
      : `Cannot ${action}: the session's import is ${status.toLowerCase()}, and its records were removed`,
  )

/** The batch applied before with this sequence: its records and digest, or undefined. */
async function appliedBatch(client: pg.PoolClient, sessionId: string, sequence: number) {
  const { rows } = await client.query<{ records: number; digest: string }>('SELECT records, digest FROM session_batches WHERE session_id = $1 AND sequence = $2', [
    sessionId,
    sequence,
  ])
  return rows[0]
}

async function inTransaction<T>(work: (client: pg.PoolClient) => Promise<T>): Promise<T> {
  const client = await pool().connect()
  let result: T
  try {
    await client.query('BEGIN')
    result = await work(client)
    await client.query('COMMIT')
  } catch (error) {
    await client.query('ROLLBACK').catch(() => {})
    // A connection whose COPY was given up mid-way is not handed to anyone else.
    client.release(true)
    throw error
  }
  client.release()
  return result
}
