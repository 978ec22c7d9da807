import fs from 'node:fs/promises'
import { Readable } from 'node:stream'
import { pipeline } from 'node:stream/promises'
import pg from 'pg'
import { from as copyFrom } from 'pg-copy-streams'
import { parse as parseCsv } from 'csv-parse/sync'
import { config } from '../config'
import { formatBytes } from '../format'
import { uploadFilePath } from '../uploads/upload-files'
import { columnListSql, columnsFromHeaders, createImportTableSql, importTableSql, type ImportColumn } from './column-names'
import { connectAs } from '../db/named-connection'
import { pool } from '../db/pool'
import { cancelImportBatch, importConnectionName } from './import-connection'
import { ADD_RUN_IMPORT_JOB } from './job-queue'
import { findFirstRecordEnd, findRecordsEnd } from './record-boundaries'
import { prepareRowOrder, STORED_ORDER_SETTINGS } from './row-order'
import { scanRecords, type ExcludedRecord } from './record-scanner'

// A record may be longer than a batch; the buffer grows for it up to this size, after which
// the import fails with a message instead of taking the server's memory.
const MAX_RECORD_BYTES = 256 * 1024 * 1024
// COPY data goes to the socket in pieces of this size, so that backpressure keeps memory flat.
const COPY_PIECE_BYTES = 1024 * 1024
// Kept per rejected record: enough to see what is wrong, bounded for a file of huge rejects.
const MAX_REJECT_RECORD_BYTES = 4096
const UTF8_BOM = Buffer.from([0xef, 0xbb, 0xbf])
// SQLSTATE of COPY's "missing data for column", "extra data after last expected column" and
// "unterminated CSV quoted field": a batch with a record of the wrong shape.
const BAD_COPY_FILE_FORMAT = '22P04'

/** The row a claimed import starts from: its checkpoint and its run. */
type ClaimedImport = {
  id: string
  uploadId: string
  tableName: string
  totalBytes: number
  bytesProcessed: number
  nextLine: number
  columns: ImportColumn[] | null
  run: number
}

/** An error a person should read as the import's reason for failing. */
class ImportFailure extends Error {}

/**
 * Runs one import from its checkpoint to the end of its file, one transaction per batch.
 * Returns quietly when the import is not QUEUED (another worker has it, or it was stopped),
 * and when a person pauses, kills or stops it meanwhile: those commands cancel the batch in
 * flight, and the guarded checkpoint write refuses any batch that finishes after them.
 */
export async function runImport(importId: string, signal?: AbortSignal): Promise<void> {
  // Kill finds this connection by its name (from any process), and crash recovery knows the
  // worker is gone when no connection has it.
  const client = await connectAs(importConnectionName(importId), STORED_ORDER_SETTINGS)
  try {
    const claimed = await claimImport(client, importId)
    if (!claimed) return
    // A worker asked to shut down hands the import back to the queue and cancels its batch.
    const onAbort = () => void requeueImport(claimed).catch((e) => console.error(`could not hand import ${importId} back:`, e))
    signal?.addEventListener('abort', onAbort, { once: true })
    try {
      await copyFileFromCheckpoint(client, claimed)
    } catch (error) {
      await recordFailure(claimed, error)
    } finally {
      signal?.removeEventListener('abort', onAbort)
    }
  } finally {
    await client.end().catch(() => {})
  }
}

async function claimImport(client: pg.Client, importId: string): Promise<ClaimedImport | null> {
  const { rows } = await client.query(
    `UPDATE imports SET status = 'PROCESSING', run = run + 1, backend_pid = pg_backend_pid(),
       started_at = COALESCE(started_at, now()), paused_at = NULL, error = NULL, finished_at = NULL, updated_at = now()
     WHERE id = $1 AND status = 'QUEUED'
     RETURNING id, upload_id, table_name, total_bytes, bytes_processed, next_line, columns, run`,
    [importId],
  )
  const r = rows[0]
  if (!r) return null
  return {
    id: r.id,
    uploadId: r.upload_id,
    tableName: r.table_name,
    totalBytes: Number(r.total_bytes),
    bytesProcessed: Number(r.bytes_processed),
    nextLine: Number(r.next_line),
    columns: r.columns,
    run: r.run,
  }
}

/** Reads, scans and copies batches until the end of the file or until the import is no longer ours. */
async function copyFileFromCheckpoint(client: pg.Client, imp: ClaimedImport): Promise<void> {
  const file = await fs.open(uploadFilePath(imp.uploadId)).catch((e: NodeJS.ErrnoException) => {
    throw e.code === 'ENOENT' ? new ImportFailure('The uploaded file is no longer on the server') : e
  })
  try {
    const total = imp.totalBytes
    if (total === 0) throw new ImportFailure('The file is empty: there is no header and no data')
    let buf: Buffer = Buffer.allocUnsafe(Math.min(config().importBatchBytes, total))
    let offset = imp.bytesProcessed
    let line = imp.nextLine
    let columns = imp.columns
    while (columns === null || offset < total) {
      const length = await readFully(file, buf, Math.min(buf.length, total - offset), offset)
      const final = offset + length === total
      let chunk: Buffer = buf.subarray(0, length)

      let header: ImportColumn[] | null = null
      let headerBytes = 0
      if (columns === null) {
        const bom = offset === 0 && chunk.subarray(0, 3).equals(UTF8_BOM) ? 3 : 0
        const first = findFirstRecordEnd(chunk.subarray(bom), line, final)
        if (first.end === 0) {
          buf = grow(buf, total - offset, line)
          continue
        }
        header = columnsFromHeaders(parseHeader(chunk.subarray(bom, bom + first.end)))
        headerBytes = bom + first.end
        line = first.nextLine
        chunk = chunk.subarray(headerBytes)
      }
      const cols = columns ?? header!
      const quick = findRecordsEnd(chunk, line, final)
      if (quick.end === 0 && !final && !header) {
        buf = grow(buf, total - offset, line)
        continue
      }
      // The fast path hands COPY whole records and lets it check their fields. Not for one
      // column (COPY reads a blank line as a NULL value there) nor for a file that ends inside
      // quotes: those, and any batch COPY refuses for its shape, are scanned byte by byte.
      const fast = cols.length > 1 && (!final || quick.end === chunk.length)
      const base = { chunk, header, columns: cols, headerBytes, offset, final }
      let committed = fast
        ? await commitBatch(client, imp, { ...base, records: { ...quick, excluded: [] } }).catch((e: unknown) => {
            if ((e as { code?: string }).code === BAD_COPY_FILE_FORMAT) return 'reshape' as const
            throw e
          })
        : 'reshape'
      const records = committed === 'reshape' ? scanRecords(chunk, { fields: cols.length, line, final }) : { ...quick, excluded: [] }
      if (committed === 'reshape') committed = await commitBatch(client, imp, { ...base, records })
      if (committed === 'no longer ours') return
      if (committed === 'done') {
        await indexRowOrder(client, imp)
        return
      }
      columns = cols
      offset += headerBytes + records.end
      line = records.nextLine
    }
  } finally {
    await file.close()
  }
}

type Batch = {
  chunk: Buffer
  /** Where the batch's whole records end, and which of them stay out of COPY. */
  records: { end: number; nextLine: number; excluded: ExcludedRecord[] }
  /** Set when the batch starts with the header: the table is created with the batch. */
  header: ImportColumn[] | null
  columns: ImportColumn[]
  headerBytes: number
  /** The file offset of the batch (before its header, if any). */
  offset: number
  final: boolean
}

/**
 * Copies one batch and writes its checkpoint (PROCESSED for the last) in one transaction.
 * 'no longer ours' when a person paused, killed or stopped the import meanwhile: the guarded
 * checkpoint write matches no row and the batch is rolled back.
 */
async function commitBatch(client: pg.Client, imp: ClaimedImport, batch: Batch): Promise<'committed' | 'done' | 'no longer ours'> {
  const { chunk, records, header, columns } = batch
  const table = importTableSql(imp.tableName)
  const rejects = records.excluded.filter((e) => e.reason !== null)
  const done = batch.final && records.end === chunk.length
  await client.query('BEGIN')
  try {
    if (header) await client.query(createImportTableSql(imp.tableName, header))
    let copied = 0
    const pieces = [...piecesToCopy(chunk, records)]
    if (pieces.length) {
      const copy = client.query(copyFrom(`COPY ${table} (${columnListSql(columns)}) FROM STDIN (FORMAT csv, ENCODING 'UTF8')`))
      await pipeline(Readable.from(pieces), copy)
      copied = copy.rowCount
    }
    if (rejects.length) {
      await client.query(
        `INSERT INTO import_rejects (import_id, line, reason, record)
         SELECT $1, * FROM unnest($2::bigint[], $3::text[], $4::text[])`,
        [
          imp.id,
          rejects.map((r) => r.line),
          rejects.map((r) => r.reason),
          rejects.map((r) => recordText(chunk.subarray(r.start, Math.min(r.end, r.start + MAX_REJECT_RECORD_BYTES)))),
        ],
      )
    }
    const { rowCount } = await client.query(
      `UPDATE imports SET bytes_processed = $3, next_line = $4, rows_imported = rows_imported + $5,
         rows_rejected = rows_rejected + $6, columns = COALESCE($7::jsonb, columns), updated_at = now(),
         status = CASE WHEN $8 THEN 'PROCESSED'::"ImportStatus" ELSE status END,
         finished_at = CASE WHEN $8 THEN now() ELSE finished_at END,
         backend_pid = CASE WHEN $8 THEN NULL ELSE backend_pid END
       WHERE id = $1 AND run = $2 AND status = 'PROCESSING'`,
      [
        imp.id,
        imp.run,
        batch.offset + batch.headerBytes + records.end,
        records.nextLine,
        copied,
        rejects.length,
        header ? JSON.stringify(header) : null,
        done,
      ],
    )
    if (rowCount === 0) {
      await client.query('ROLLBACK')
      return 'no longer ours'
    }
    await client.query('COMMIT')
    return done ? 'done' : 'committed'
  } catch (error) {
    await client.query('ROLLBACK').catch(() => {})
    throw error
  }
}

/** The batch's whole records minus its excluded ones (rejects, blank lines), in pieces of at most 1 MiB. */
function* piecesToCopy(chunk: Buffer, records: Batch['records']): Generator<Buffer> {
  let from = 0
  const ranges: Array<[number, number]> = []
  for (const e of records.excluded) {
    if (e.start > from) ranges.push([from, e.start])
    from = e.end
  }
  if (records.end > from) ranges.push([from, records.end])
  for (const [start, end] of ranges) {
    for (let p = start; p < end; p += COPY_PIECE_BYTES) yield chunk.subarray(p, Math.min(end, p + COPY_PIECE_BYTES))
  }
}

async function readFully(file: fs.FileHandle, buf: Buffer, length: number, position: number): Promise<number> {
  let got = 0
  while (got < length) {
    const { bytesRead } = await file.read(buf, got, length - got, position + got)
    if (bytesRead === 0) throw new ImportFailure(`The uploaded file is shorter than its ${formatBytes(position + length)}`)
    got += bytesRead
  }
  return got
}

/** A bigger buffer for a record that does not fit in the current one. */
function grow(buf: Buffer, remaining: number, line: number): Buffer {
  // The buffer already holds the rest of the file and still no whole record: a quote opened
  // in the header is never closed.
  if (buf.length >= remaining) throw new ImportFailure(`The record on line ${line} never ends: a quote in it is not closed`)
  if (buf.length >= MAX_RECORD_BYTES) {
    throw new ImportFailure(`The record on line ${line} is longer than ${formatBytes(MAX_RECORD_BYTES)}`)
  }
  return Buffer.allocUnsafe(Math.min(buf.length * 2, MAX_RECORD_BYTES, remaining))
}

function parseHeader(bytes: Buffer): string[] {
  const rows = parseCsv(bytes, { relax_quotes: true, relax_column_count: true }) as string[][]
  return rows[0] ?? []
}

/** A rejected record as text for display: without its line break, NUL bytes (PostgreSQL text refuses them) replaced. */
function recordText(bytes: Buffer): string {
  return bytes
    .toString('utf8')
    .replace(/\r?\n$/, '')
    .replace(/\0/g, '\uFFFD')
}

/** Readies the finished table for exports in file order; a failure only costs exports a sort. */
async function indexRowOrder(client: pg.Client, imp: ClaimedImport) {
  try {
    await prepareRowOrder(client, imp)
  } catch (error) {
    console.error(`could not prepare the rows of import ${imp.id} for exports (they will be sorted instead):`, error)
  }
}

/** Hands a claimed import back to the queue (worker shutdown), then cancels its batch. */
async function requeueImport(imp: ClaimedImport) {
  const res = await pool().query(
    `UPDATE imports SET status = 'QUEUED', updated_at = now()
     WHERE id = $1 AND run = $2 AND status = 'PROCESSING' RETURNING backend_pid`,
    [imp.id, imp.run],
  )
  if (!res.rowCount) return
  await pool().query(ADD_RUN_IMPORT_JOB, [imp.id])
  await cancelImportBatch(imp.id, res.rows[0].backend_pid)
}

/** FAILED with the error's message, unless the import stopped being ours (the error was a cancel). */
async function recordFailure(imp: ClaimedImport, error: unknown) {
  const message = error instanceof ImportFailure ? error.message : `The import failed: ${error instanceof Error ? error.message : String(error)}`
  const res = await pool().query(
    `UPDATE imports SET status = 'FAILED', error = $3, finished_at = now(), backend_pid = NULL, updated_at = now()
     WHERE id = $1 AND run = $2 AND status = 'PROCESSING'`,
    [imp.id, imp.run, message],
  )
  if (res.rowCount && !(error instanceof ImportFailure)) console.error(`import ${imp.id} failed:`, error)
}
