import fs from 'node:fs/promises'
import { Readable } from 'node:stream'
import { pipeline } from 'node:stream/promises'
import pg from 'pg'
import { from as copyFrom } from 'pg-copy-streams'
import { config } from '../config'
import { bytesForCopy, copyEncoding, decodeText, NotCsvError } from '../csv/encoding'
import { sniffCsv, type Dialect } from '../csv/sniff'
import { formatBytes } from '../format'
import { uploadFilePath } from '../uploads/upload-files'
import { columnListSql, columnsFromHeaders, columnsThatFit, createImportTableSql, importTableSql, isRowTooBig, type ImportColumn } from './column-names'
import { connectAs } from '../db/named-connection'
import { pool } from '../db/pool'
import { cancelImportBatch, importConnectionName } from './import-connection'
import { ADD_RUN_IMPORT_JOB } from './job-queue'
import { findFirstRecordEnd, findRecordsEnd, recordSyntax } from './record-boundaries'
import { prepareRowOrder, STORED_ORDER_SETTINGS } from './row-order'
import { encodingRejects, hasBadCharacters, mergeExcluded } from './encoding-rejects'
import { scanRecords, type ExcludedRecord } from './record-scanner'
import { locateSkippedRecords, parseSkippedRow, skippedReason, type SkippedRow } from './type-rejects'

// COPY data goes to the socket in pieces of this size, so that backpressure keeps memory flat.
const COPY_PIECE_BYTES = 1024 * 1024
// Kept per rejected record: enough to see what is wrong, bounded for a file of huge rejects.
const MAX_REJECT_RECORD_BYTES = 4096
// PostgreSQL's own limit is 1,600 columns per table; the row number takes one.
const MAX_COLUMNS = 1599
// Imports from before the sniffer (their columns were read, so they never start at offset 0 again): UTF-8, comma, double quote, a header.
const FIRST_DIALECT: Dialect = { encoding: 'utf-8', bom: 3, delimiter: ',', quote: '"', escape: '"', newline: '\n', header: true }
// How the import's connection reads what COPY gets: timestamps without an offset are UTC, and
// ISO dates are the only ones the sniffer types, so the date order never matters.
export const IMPORT_SESSION_SETTINGS = `-c TimeZone=UTC -c DateStyle=ISO,YMD`
// SQLSTATE of COPY's "missing data for column", "extra data after last expected column" and
// "unterminated CSV quoted field": a batch with a record of the wrong shape.
const BAD_COPY_FILE_FORMAT = '22P04'
// Refusals of a fast-path batch that the byte-by-byte scan turns into rejects: a record of the
// wrong shape, and a byte the encoding cannot hold (invalid UTF-8 or NUL; a byte WIN1252 does not map).
const RESHAPE_ON = new Set([BAD_COPY_FILE_FORMAT, '22021', '22P05'])

/** The row a claimed import starts from: its checkpoint and its run. */
type ClaimedImport = {
  id: string
  uploadId: string
  tableName: string
  totalBytes: number
  bytesProcessed: number
  nextLine: number
  columns: ImportColumn[] | null
  dialect: Dialect | null
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
  const client = await connectAs(importConnectionName(importId), `${STORED_ORDER_SETTINGS} ${IMPORT_SESSION_SETTINGS}`)
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
     RETURNING id, upload_id, table_name, total_bytes, bytes_processed, next_line, columns, dialect, run`,
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
    dialect: r.dialect,
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
    const { maxLineBytes, maxFieldBytes } = config()
    let buf: Buffer = Buffer.allocUnsafe(Math.min(config().importBatchBytes, total))
    let offset = imp.bytesProcessed
    let line = imp.nextLine
    let columns = imp.columns
    let dialect = imp.dialect ?? (columns ? FIRST_DIALECT : null)
    while (columns === null || offset < total) {
      const length = await readFully(file, buf, Math.min(buf.length, total - offset), offset)
      const final = offset + length === total

      // The first batch: the dialect and the columns come from the file's first bytes.
      let header: ImportColumn[] | null = null
      if (columns === null) ({ dialect, columns: header } = sniff(buf.subarray(0, length), final))
      const d = dialect!
      const syntax = recordSyntax(d)
      const skip = offset === 0 ? d.bom : 0
      const { chunk: whole, fileBytes } = bytesForCopy(buf.subarray(skip, length), d.encoding, final)
      let chunk = whole
      let headerBytes = 0
      if (header && d.header) {
        const first = findFirstRecordEnd(chunk, line, final, syntax)
        if (first.end === 0) {
          buf = grow(buf, total - offset, line, maxLineBytes)
          continue
        }
        headerBytes = first.end
        line = first.nextLine
        chunk = chunk.subarray(headerBytes)
      }
      const cols = columns ?? header!
      const quick = findRecordsEnd(chunk, line, final, syntax)
      if (quick.end === 0 && !final && !header) {
        buf = grow(buf, total - offset, line, maxLineBytes)
        continue
      }
      // The fast path hands COPY whole records and lets it check their fields. Not for one
      // column (COPY reads a blank line as a NULL value there), nor for a batch with a record
      // long enough to hold a field over the limit, nor for a file that ends inside quotes:
      // those, and any batch COPY refuses for its shape, are scanned byte by byte.
      const fast = !quick.strayQuote && cols.length > 1 && quick.longest <= maxFieldBytes && (!final || quick.end === chunk.length)
      const base = { chunk, line, header, dialect: d, columns: cols, final }
      const consumed = (end: number) => offset + skip + fileBytes(headerBytes + end)
      let committed = fast
        ? await commitBatch(client, imp, { ...base, records: { ...quick, excluded: [] }, fileOffset: consumed(quick.end) }).catch((e: unknown) => {
            if (RESHAPE_ON.has((e as { code?: string }).code ?? '')) return 'reshape' as const
            throw e
          })
        : 'reshape'
      const records =
        committed === 'reshape' ? scanRecords(chunk, { fields: cols.length, line, final, syntax, maxFieldBytes }) : { ...quick, excluded: [] }
      // A byte COPY refuses for the encoding (a NUL, invalid UTF-8 past the sniffed sample) would
      // fail the batch on every resume: its record is rejected instead. Looked for only here, off
      // the fast path, which COPY itself checks.
      if (committed === 'reshape' && hasBadCharacters(chunk.subarray(0, records.end), d.encoding)) {
        records.excluded = mergeExcluded(records.excluded, encodingRejects(chunk, records.end, line, syntax, d.encoding))
      }
      if (committed === 'reshape') committed = await commitBatch(client, imp, { ...base, records, fileOffset: consumed(records.end) })
      if (committed === 'no longer ours') return
      if (committed === 'done') {
        await indexRowOrder(client, imp)
        return
      }
      columns = cols
      offset = consumed(records.end)
      line = records.nextLine
    }
  } finally {
    await file.close()
  }
}

/** The dialect and typed columns of a file from its first bytes; a file that is not CSV fails here, before any table exists. */
function sniff(sample: Buffer, complete: boolean): { dialect: Dialect; columns: ImportColumn[] } {
  try {
    const { dialect, headers, types } = sniffCsv(sample, complete)
    if (types.length > MAX_COLUMNS) {
      throw new ImportFailure(`The file has ${types.length.toLocaleString('en-US')} columns; a table holds at most ${MAX_COLUMNS.toLocaleString('en-US')}`)
    }
    // A file without a header: its columns are named by position, in the table and in exports.
    const names = dialect.header ? headers : types.map((_, i) => `column_${i + 1}`)
    return { dialect, columns: columnsThatFit(columnsFromHeaders(names, types)) }
  } catch (error) {
    throw error instanceof NotCsvError ? new ImportFailure(error.message) : error
  }
}

type Batch = {
  chunk: Buffer
  /** The line of the batch's first record (after the header, when the batch starts the file). */
  line: number
  /** Where the batch's whole records end, and which of them stay out of COPY. */
  records: { end: number; nextLine: number; excluded: ExcludedRecord[] }
  /** Set when the batch starts the file: the table is created with the batch, and the dialect saved. */
  header: ImportColumn[] | null
  dialect: Dialect
  columns: ImportColumn[]
  /** The file offset just past the batch's last whole record: its checkpoint. */
  fileOffset: number
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
  const done = batch.final && records.end === chunk.length
  const skipped: SkippedRow[] = []
  const onNotice = (notice: { message?: string }) => {
    const row = parseSkippedRow(notice.message ?? '')
    if (row) skipped.push(row)
  }
  await client.query('BEGIN')
  try {
    if (header) await client.query(createImportTableSql(imp.tableName, header))
    let copied = 0
    const pieces = [...piecesToCopy(chunk, records)]
    if (pieces.length) {
      client.on('notice', onNotice)
      try {
        const copy = client.query(copyFrom(copySql(table, columns, batch)))
        await pipeline(Readable.from(pieces), copy)
        copied = copy.rowCount
      } finally {
        client.off('notice', onNotice)
      }
    }
    const rejects = [
      ...records.excluded.flatMap((e) => (e.reason === null ? [] : [{ line: e.line, reason: e.reason, start: e.start, end: e.end }])),
      ...(skipped.length
        ? locateSkippedRecords(chunk, records, batch.line, recordSyntax(batch.dialect), batch.dialect.newline, skipped).map((r) => ({
            ...r,
            reason: skippedReason(r.skipped, columns),
          }))
        : []),
    ].sort((a, b) => a.line - b.line)
    if (rejects.length) {
      await client.query(
        `INSERT INTO import_rejects (import_id, line, reason, record)
         SELECT $1, * FROM unnest($2::bigint[], $3::text[], $4::text[])`,
        [
          imp.id,
          rejects.map((r) => r.line),
          rejects.map((r) => r.reason),
          rejects.map((r) => recordText(chunk.subarray(r.start, Math.min(r.end, r.start + MAX_REJECT_RECORD_BYTES)), batch.dialect.encoding)),
        ],
      )
    }
    const { rowCount } = await client.query(
      `UPDATE imports SET bytes_processed = $3, next_line = $4, rows_imported = rows_imported + $5,
         rows_rejected = rows_rejected + $6, columns = COALESCE($7::jsonb, columns), dialect = COALESCE($9::jsonb, dialect),
         updated_at = now(),
         status = CASE WHEN $8 THEN 'PROCESSED'::"ImportStatus" ELSE status END,
         finished_at = CASE WHEN $8 THEN now() ELSE finished_at END,
         backend_pid = CASE WHEN $8 THEN NULL ELSE backend_pid END
       WHERE id = $1 AND run = $2 AND status = 'PROCESSING'`,
      [
        imp.id,
        imp.run,
        batch.fileOffset,
        records.nextLine,
        copied,
        rejects.length,
        header ? JSON.stringify(header) : null,
        done,
        header ? JSON.stringify(batch.dialect) : null,
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
    if (isRowTooBig(error)) {
      throw new ImportFailure(
        `A record from line ${batch.line} on is wider than a PostgreSQL row can hold (8,160 bytes for its ${columns.length.toLocaleString('en-US')} values): the rows before line ${batch.line} are kept`,
      )
    }
    throw error
  }
}

/**
 * COPY in the file's dialect. A value that does not fit its column's type skips its row
 * (ON_ERROR ignore) and COPY says which, line and column, in a NOTICE (LOG_VERBOSITY verbose):
 * PostgreSQL 17 and newer. An empty value of a typed column is NULL, quoted or not.
 */
function copySql(table: string, columns: readonly ImportColumn[], batch: Batch): string {
  const { delimiter, quote, escape, encoding } = batch.dialect
  const typed = columns.filter((c) => c.type && c.type !== 'text')
  const options = [
    'FORMAT csv',
    `DELIMITER ${pg.escapeLiteral(delimiter)}`,
    `QUOTE ${pg.escapeLiteral(quote)}`,
    `ESCAPE ${pg.escapeLiteral(escape)}`,
    `ENCODING '${copyEncoding(encoding)}'`,
    ...(typed.length ? [`FORCE_NULL (${columnListSql(typed)})`, 'ON_ERROR ignore', 'LOG_VERBOSITY verbose'] : []),
  ]
  return `COPY ${table} (${columnListSql(columns)}) FROM STDIN (${options.join(', ')})`
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
function grow(buf: Buffer, remaining: number, line: number, maxLineBytes: number): Buffer {
  // The buffer already holds the rest of the file and still no whole record: a quote opened
  // in the header is never closed.
  if (buf.length >= remaining) throw new ImportFailure(`The record on line ${line} never ends: a quote in it is not closed`)
  if (buf.length >= maxLineBytes) {
    throw new ImportFailure(`The record on line ${line} is longer than ${formatBytes(maxLineBytes)} (MAX_LINE_BYTES)`)
  }
  return Buffer.allocUnsafe(Math.min(buf.length * 2, maxLineBytes, remaining))
}

/** A rejected record as text for display: without its line break, NUL bytes (PostgreSQL text refuses them) replaced. */
function recordText(bytes: Buffer, encoding: Dialect['encoding']): string {
  // UTF-16 reached the batch as UTF-8 already.
  return decodeText(bytes, encoding === 'windows-1252' ? encoding : 'utf-8')
    .replace(/\r?\n$|\r$/, '')
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
  // The raw cause (a PostgreSQL or JavaScript message) is for the server's log, not for a person.
  const message =
    error instanceof ImportFailure
      ? error.message
      : 'The import stopped on an unexpected error on the server (its log has the details). The rows imported so far are kept: resume retries from there'
  const res = await pool().query(
    `UPDATE imports SET status = 'FAILED', error = $3, finished_at = now(), backend_pid = NULL, updated_at = now()
     WHERE id = $1 AND run = $2 AND status = 'PROCESSING'`,
    [imp.id, imp.run, message],
  )
  if (res.rowCount && !(error instanceof ImportFailure)) console.error(`import ${imp.id} failed:`, error)
}
