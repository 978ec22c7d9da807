import { Readable } from 'node:stream'
import { pipeline } from 'node:stream/promises'
import { parse as parseCsv } from 'csv-parse/sync'
import pg from 'pg'
import { from as copyFrom } from 'pg-copy-streams'
import { config } from '../config'
import { bytesForCopy, copyEncoding, decodeText, NotCsvError } from '../csv/encoding'
import { setDateOrderSql } from '../csv/conventions'
import { sniffCsv, type Dialect } from '../csv/sniff'
import { formatBytes } from '../format'
import { deleteUploadFile } from '../uploads/upload-files'
import { openUploadSource, UploadGoneError, type UploadSource } from '../uploads/upload-source'
import { columnListSql, columnsFromHeaders, columnsThatFit, importTableSql, isRowTooBig, quoteIdent, ROW_NUMBER_COLUMN, type ImportColumn } from './column-names'
import { attachBatchTableSql, BATCH_COLUMN, BATCHES_SCHEMA, batchTable, createBatchTableSql, createPartitionedTableSql } from './import-table'
import { connectAs } from '../db/named-connection'
import { pool } from '../db/pool'
import { cancelImportBatch, importConnectionName } from './import-connection'
import { ADD_RUN_IMPORT_JOB, WAKE_IMPORTS_OF_UPLOAD } from './job-queue'
import { findFirstRecordEnd, findRecordsEnd, recordSyntax } from './record-boundaries'
import { STORED_ORDER_SETTINGS } from './row-order'
import { encodingRejects, hasBadCharacters, mergeExcluded } from './encoding-rejects'
import { scanRecords, type ExcludedRecord } from './record-scanner'
import { rewritesFor, rewrittenPieces } from './value-rewriter'
import { locateSkippedRecords, parseSkippedRow, skippedReason, type SkippedRow } from './type-rejects'

// COPY data goes to the socket in pieces of this size, so that backpressure keeps memory flat.
const COPY_PIECE_BYTES = 1024 * 1024
// Kept per rejected record: enough to see what is wrong, bounded for a file of huge rejects.
const MAX_REJECT_RECORD_BYTES = 4096
// PostgreSQL's own limit is 1,600 columns per table; the batch and the row number take two.
const MAX_COLUMNS = 1598
// Imports from before the sniffer (their columns were read, so they never start at offset 0 again): UTF-8, comma, double quote, a header.
const FIRST_DIALECT: Dialect = { encoding: 'utf-8', bom: 3, delimiter: ',', quote: '"', escape: '"', newline: '\n', header: true }
// How the import's connection reads what COPY gets: timestamps without an offset are UTC, and
// dates ISO first; a file of day-month or month-day dates sets its order per batch (commitBatch).
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
  columns: ImportColumn[] | null
  dialect: Dialect | null
  partitioned: boolean
  run: number
}

/** An error a person should read as the import's reason for failing. */
class ImportFailure extends Error {}

/** A fast-path COPY refused a batch for its shape: the batch is loaded again, scanned byte by byte. */
class Reshape extends Error {}

/** The import caught up with an upload that has brought no bytes for a while: it waits off the worker. */
class UploadStalled extends Error {
  constructor(readonly bytesSeen: number) {
    super('the upload brought no bytes for a while')
  }
}

/** A person paused, killed or stopped the import while it waited for its upload. */
class NoLongerOurs extends Error {}

/**
 * Runs one import from its checkpoint to the end of its file: batches of records, each one
 * transaction, on up to IMPORT_PARALLELISM connections at once (lib/imports/import-table.ts).
 * Returns quietly when the import is not QUEUED (another worker has it, or it was stopped),
 * and when a person pauses, kills or stops it meanwhile: those commands cancel the batches in
 * flight, and the guarded checkpoint write refuses any batch that finishes after them.
 */
export async function runImport(importId: string, signal?: AbortSignal): Promise<void> {
  // Kill finds this import's connections by their name (from any process), and crash recovery
  // knows the worker is gone when no connection has it.
  const client = await connectAs(importConnectionName(importId), IMPORT_CONNECTION_SETTINGS)
  try {
    const claimed = await claimImport(client, importId)
    if (!claimed) return
    // A worker asked to shut down hands the import back to the queue and cancels its batches.
    const onAbort = () => void requeueImport(claimed).catch((e) => console.error(`could not hand import ${importId} back:`, e))
    signal?.addEventListener('abort', onAbort, { once: true })
    try {
      await importFile(client, claimed)
    } catch (error) {
      if (error instanceof UploadStalled) await waitForUpload(claimed, error.bytesSeen)
      else await recordFailure(claimed, error)
    } finally {
      signal?.removeEventListener('abort', onAbort)
    }
  } finally {
    await client.end().catch(() => {})
  }
}

const IMPORT_CONNECTION_SETTINGS = `${STORED_ORDER_SETTINGS} ${IMPORT_SESSION_SETTINGS}`

async function claimImport(client: pg.Client, importId: string): Promise<ClaimedImport | null> {
  const { rows } = await client.query(
    `UPDATE imports SET status = 'PROCESSING', run = run + 1, backend_pid = pg_backend_pid(),
       started_at = COALESCE(started_at, now()), paused_at = NULL, error = NULL, finished_at = NULL, updated_at = now()
     WHERE id = $1 AND status = 'QUEUED'
     RETURNING id, upload_id, table_name, total_bytes, columns, dialect, partitioned, run`,
    [importId],
  )
  const r = rows[0]
  if (!r) return null
  return {
    id: r.id,
    uploadId: r.upload_id,
    tableName: r.table_name,
    totalBytes: Number(r.total_bytes),
    columns: r.columns,
    dialect: r.dialect,
    partitioned: r.partitioned,
    run: r.run,
  }
}

/** Whole records of the file, [start, end) in file bytes, whose first record is on `line`. */
type Piece = {
  start: number
  end: number
  line: number
  final: boolean
  /** The planner's scan found nothing that keeps the piece off COPY's fast path: the lane does not scan it again. */
  fast: boolean
}
/** One transaction's worth of records: one partition of the import's table. */
type Batch = { start: number; end: number; line: number; nextLine: number; pieces: Piece[] }
/** What a batch is loaded with: the import's columns and dialect, known once the first batch is in. */
type Layout = { columns: ImportColumn[]; dialect: Dialect }

/** Loads the first batch (which makes the table), then every range not committed yet, on several connections. */
async function importFile(main: pg.Client, imp: ClaimedImport): Promise<void> {
  const file = new FollowedUpload(
    await openUploadSource(imp.uploadId).catch((e: unknown) => {
      throw e instanceof UploadGoneError ? new ImportFailure(e.message) : e
    }),
    imp,
  )
  const lanes: pg.Client[] = [main]
  try {
    if (imp.totalBytes === 0) throw new ImportFailure('The file is empty: there is no header and no data')
    let layout: Layout
    if (imp.columns === null) {
      const first = await planFirstBatch(file, imp.totalBytes).catch((e: unknown) => {
        if (e instanceof NoLongerOurs) return null
        throw e
      })
      if (!first) return
      if ((await loadBatch(main, imp, first.batch, first.layout, new PieceReader(file), true)) === 'no longer ours') return
      layout = first.layout
    } else {
      layout = { columns: imp.columns, dialect: imp.dialect ?? FIRST_DIALECT }
      if (!imp.partitioned) await adoptSingleTable(main, imp)
    }
    const gaps = await uncommittedRanges(main, imp)
    const { importParallelism, importBatchBytes } = config()
    const batchBytes = Math.max(importBatchBytes, Math.ceil(imp.totalBytes / MAX_BATCHES))
    const remaining = gaps.reduce((sum, g) => sum + g.end - g.start, 0)
    const laneCount = Math.min(importParallelism, Math.ceil(remaining / batchBytes))
    for (let i = 1; i < laneCount; i++) lanes.push(await connectAs(importConnectionName(imp.id), IMPORT_CONNECTION_SETTINGS))

    const batches = planBatches(file, gaps, imp.totalBytes, layout, batchBytes)
    let halted = false
    let failure: unknown
    await Promise.all(
      lanes.map(async (lane) => {
        const reader = new PieceReader(file)
        while (!halted) {
          try {
            const next = await batches.next()
            if (next.done) return
            if ((await loadBatch(lane, imp, next.value, layout, reader, false)) === 'no longer ours') halted = true
          } catch (error) {
            halted = true
            if (!(error instanceof NoLongerOurs)) failure ??= error
          }
        }
      }),
    )
    await batches.return(undefined)
    if (failure) throw failure
    // Its rows are all in: nothing needs the file any more (a resume starts only from KILLED,
    // FAILED or PAUSED), unless it is to be kept.
    if (!halted && (await finishImport(main, imp)) && !config().keepUploadedFiles) await deleteUploadFile(imp.uploadId)
  } finally {
    await file.source.close()
    await Promise.all(lanes.slice(1).map((c) => c.end().catch(() => {})))
  }
}

// A parallel import's table has a partition per batch: batches grow with the file so that a
// very large one still has at most this many (each costs a few locks when the table is read
// or dropped, and PostgreSQL has 64 per connection by default).
const MAX_BATCHES = 256
// Bytes read and copied at once within a batch: bounds the memory of each connection's batch.
const MAX_PIECE_BYTES = 8 * 1024 * 1024

const pieceBytes = () => Math.min(config().importBatchBytes, MAX_PIECE_BYTES)

/** The first batch: the dialect and the columns come from the file's first bytes, and its first piece holds the header. */
async function planFirstBatch(file: FollowedUpload, total: number): Promise<{ batch: Batch; layout: Layout }> {
  const { maxLineBytes, maxFieldBytes } = config()
  let buf: Buffer = Buffer.allocUnsafe(Math.min(pieceBytes(), total))
  for (;;) {
    const length = await file.read(buf, Math.min(buf.length, total), 0)
    const final = length === total
    const { dialect, columns } = sniff(buf.subarray(0, length), final)
    const syntax = recordSyntax(dialect)
    const { chunk, fileBytes } = bytesForCopy(buf.subarray(dialect.bom, length), dialect.encoding, final)
    let headerBytes = 0
    let line = 1
    if (dialect.header) {
      const first = findFirstRecordEnd(chunk, line, final, syntax)
      if (first.end === 0) {
        buf = grow(buf, total, line, maxLineBytes)
        continue
      }
      headerBytes = first.end
      line = first.nextLine
    }
    const body = chunk.subarray(headerBytes)
    const { end, nextLine, fast } = recordsEnd(body, line, final, syntax, columns.length, maxFieldBytes)
    const fileEnd = dialect.bom + fileBytes(headerBytes + end)
    const piece = { start: 0, end: fileEnd, line, final: final && fileEnd === total, fast }
    return { batch: { start: 0, end: fileEnd, line: 1, nextLine, pieces: [piece] }, layout: { dialect, columns } }
  }
}

/**
 * Where the whole records at the start of `chunk` end, as the batch will read them: by the
 * quick scan, unless it found a stray quote (the byte scanner then sets that line aside and
 * reads on from the next, which moves the boundaries) or the file ends inside quotes (the
 * byte scanner rejects that last record).
 */
function recordsEnd(chunk: Buffer, line: number, final: boolean, syntax: ReturnType<typeof recordSyntax>, fields: number, maxFieldBytes: number) {
  const quick = findRecordsEnd(chunk, line, final, syntax)
  if (!quick.strayQuote && (!final || quick.end === chunk.length)) {
    // Not for one column (COPY reads a blank line as a NULL value there), nor for a record long
    // enough to hold a field over the limit.
    return { end: quick.end, nextLine: quick.nextLine, fast: fields > 1 && quick.longest <= maxFieldBytes }
  }
  const scanned = scanRecords(chunk, { fields, line, final, syntax, maxFieldBytes })
  return { end: scanned.end, nextLine: scanned.nextLine, fast: false }
}

/** The ranges of the file after the first batch not committed yet, each starting at a record with its line. */
async function uncommittedRanges(client: pg.Client, imp: ClaimedImport): Promise<Array<{ start: number; end: number; line: number }>> {
  const { rows } = await client.query<{ start: string; end: string; next_line: string }>(
    'SELECT start_byte AS start, end_byte AS end, next_line FROM import_batches WHERE import_id = $1 ORDER BY start_byte',
    [imp.id],
  )
  const gaps: Array<{ start: number; end: number; line: number }> = []
  let at = 0
  let line = 1
  for (const r of rows) {
    const start = Number(r.start)
    if (start < at) throw new Error(`import ${imp.id}: committed batches overlap at byte ${start}`)
    if (start > at) gaps.push({ start: at, end: start, line })
    at = Number(r.end)
    line = Number(r.next_line)
  }
  if (at === 0) throw new Error(`import ${imp.id}: its first batch is not committed`)
  if (at < imp.totalBytes) gaps.push({ start: at, end: imp.totalBytes, line })
  return gaps
}

/**
 * The batches of the ranges not committed yet, in file order, found by reading the file once:
 * a range must start at a record's start, and only a sequential scan knows where one starts
 * (a quoted value may hold line breaks). The scan (memchr over quotes and line breaks) runs
 * far ahead of COPY, so the connections never wait for it.
 */
async function* planBatches(
  file: FollowedUpload,
  gaps: Array<{ start: number; end: number; line: number }>,
  total: number,
  { columns, dialect }: Layout,
  batchBytes: number,
): AsyncGenerator<Batch, void, undefined> {
  const { maxLineBytes, maxFieldBytes } = config()
  const syntax = recordSyntax(dialect)
  let buf: Buffer = Buffer.allocUnsafe(Math.min(pieceBytes(), total))
  for (const gap of gaps) {
    let at = gap.start
    let line = gap.line
    let batch: Batch | null = null
    while (at < gap.end) {
      // A batch ends at the last whole record within batchBytes of its start (a batch's first
      // record may be longer: the buffer grows for it, up to MAX_LINE_BYTES).
      const room = batch ? batchBytes - (batch.end - batch.start) : Infinity
      const length = await file.read(buf, Math.min(buf.length, gap.end - at, room), at)
      // A range ends at the end of the file, or where a committed batch starts: a record boundary either way.
      const final = at + length === gap.end
      const { chunk, fileBytes } = bytesForCopy(buf.subarray(0, length), dialect.encoding, final)
      const { end, nextLine, fast } = recordsEnd(chunk, line, final, syntax, columns.length, maxFieldBytes)
      if (end === 0 && batch) {
        yield batch
        batch = null
        continue
      }
      if (end === 0) {
        buf = grow(buf, gap.end - at, line, maxLineBytes)
        continue
      }
      const piece = { start: at, end: at + fileBytes(end), line, final: final && at + fileBytes(end) === total, fast }
      batch ??= { start: at, end: at, line, nextLine: line, pieces: [] }
      batch.pieces.push(piece)
      batch.end = piece.end
      batch.nextLine = nextLine
      if (batch.end - batch.start >= batchBytes) {
        yield batch
        batch = null
      }
      at = piece.end
      line = nextLine
    }
    if (batch) yield batch
  }
}

/** Reads pieces of the file into one buffer of its own, grown for a piece longer than it. */
class PieceReader {
  private buf = Buffer.alloc(0)
  constructor(private readonly file: FollowedUpload) {}
  async read(piece: Piece): Promise<Buffer> {
    const length = piece.end - piece.start
    if (this.buf.length < length) this.buf = Buffer.allocUnsafe(Math.max(length, Math.min(pieceBytes(), length * 2)))
    return this.buf.subarray(0, await this.file.read(this.buf, length, piece.start))
  }
}

/**
 * Loads one batch in one transaction: the fast path first, and once more byte by byte when
 * COPY refused one of its pieces for its shape (a ragged record, a blank line, a bad byte).
 */
async function loadBatch(client: pg.Client, imp: ClaimedImport, batch: Batch, layout: Layout, reader: PieceReader, first: boolean) {
  try {
    return await commitBatch(client, imp, batch, layout, reader, { first, slow: false })
  } catch (error) {
    if (!(error instanceof Reshape)) throw error
    return await commitBatch(client, imp, batch, layout, reader, { first, slow: true })
  }
}

/** The dialect and typed columns of a file from its first bytes; a file that is not CSV fails here, before any table exists. */
function sniff(sample: Buffer, complete: boolean): { dialect: Dialect; columns: ImportColumn[] } {
  try {
    const { dialect, headers, types, columns: sniffed } = sniffCsv(sample, complete)
    if (types.length > MAX_COLUMNS) {
      throw new ImportFailure(`The file has ${types.length.toLocaleString('en-US')} columns; a table holds at most ${MAX_COLUMNS.toLocaleString('en-US')}`)
    }
    // A file without a header: its columns are named by position, in the table and in exports.
    const names = dialect.header ? headers : types.map((_, i) => `column_${i + 1}`)
    const columns = columnsFromHeaders(names, types).map((c, i) => {
      const { format, dateReadings, dateShape } = sniffed[i]!
      return { ...c, ...(format ? { format } : {}), ...(dateReadings ? { dateReadings, dateShape } : {}) }
    })
    return { dialect, columns: columnsThatFit(columns) }
  } catch (error) {
    throw error instanceof NotCsvError ? new ImportFailure(error.message) : error
  }
}

type CopiedPiece = { copied: number; rejects: Array<{ line: number; reason: string; record: string }>; blankLines: number[] }

/**
 * Copies one batch into a table of its own, attaches it to the import's table and writes its
 * checkpoint, in one transaction (the first batch also creates the import's table and saves
 * the dialect and columns). 'no longer ours' when a person paused, killed or stopped the
 * import meanwhile: the guarded checkpoint write matches no row and the batch is rolled back.
 */
async function commitBatch(
  client: pg.Client,
  imp: ClaimedImport,
  batch: Batch,
  layout: Layout,
  reader: PieceReader,
  { first, slow }: { first: boolean; slow: boolean },
): Promise<'committed' | 'no longer ours'> {
  const { columns, dialect } = layout
  await client.query('BEGIN')
  try {
    // Dates as the file writes them (31.01.2024): PostgreSQL reads the day-month order it is told.
    if (dialect.dateOrder) await client.query(setDateOrderSql(dialect.dateOrder))
    if (first) for (const sql of createPartitionedTableSql(imp, columns)) await client.query(sql)
    await client.query(createBatchTableSql(imp, batch.start, columns))
    let copied = 0
    let rejected = 0
    const blankLines: number[] = []
    for (const piece of batch.pieces) {
      // The piece's records as COPY reads them: after the BOM and header, in UTF-8 or Windows-1252.
      const readRecords = async () => {
        const raw = await reader.read(piece)
        const chunk = bytesForCopy(raw.subarray(piece.start === 0 ? dialect.bom : 0), dialect.encoding, true).chunk
        return piece.start === 0 && dialect.header ? chunk.subarray(findFirstRecordEnd(chunk, 1, piece.final, recordSyntax(dialect)).end) : chunk
      }
      const result = await copyPiece(client, imp, batch, piece, await readRecords(), layout, slow, readRecords)
      copied += result.copied
      rejected += result.rejects.length
      blankLines.push(...result.blankLines)
      if (result.rejects.length) {
        await client.query(
          `INSERT INTO import_rejects (import_id, line, reason, record)
           SELECT $1, * FROM unnest($2::bigint[], $3::text[], $4::text[])`,
          [imp.id, result.rejects.map((r) => r.line), result.rejects.map((r) => r.reason), result.rejects.map((r) => r.record)],
        )
      }
    }
    await client.query(attachBatchTableSql(imp, batch.start))
    await client.query('INSERT INTO import_batches (import_id, start_byte, end_byte, first_line, next_line, blank_lines) VALUES ($1, $2, $3, $4, $5, $6)', [
      imp.id,
      batch.start,
      batch.end,
      batch.line,
      batch.nextLine,
      blankLines,
    ])
    const { rowCount } = await client.query(
      `UPDATE imports SET bytes_processed = bytes_processed + $3, next_line = GREATEST(next_line, $4), rows_imported = rows_imported + $5,
         rows_rejected = rows_rejected + $6, updated_at = now()
         ${first ? ', columns = $7::jsonb, dialect = $8::jsonb, partitioned = true, stored_in_file_order = true' : ''}
       WHERE id = $1 AND run = $2 AND status = 'PROCESSING'`,
      [imp.id, imp.run, batch.end - batch.start, batch.nextLine, copied, rejected, ...(first ? [JSON.stringify(columns), JSON.stringify(dialect)] : [])],
    )
    if (rowCount === 0) {
      await client.query('ROLLBACK')
      return 'no longer ours'
    }
    await client.query('COMMIT')
    return 'committed'
  } catch (error) {
    await client.query('ROLLBACK').catch(() => {})
    if (isRowTooBig(error)) {
      const line = batch.pieces[0]!.line // the first batch's starts with the header
      throw new ImportFailure(
        `A record from line ${line} on is wider than a PostgreSQL row can hold (8,160 bytes for its ${columns.length.toLocaleString('en-US')} values): the rows before line ${line} are kept`,
      )
    }
    throw error
  }
}

/**
 * Copies one piece's records. The fast path hands COPY whole records and lets it check their
 * fields. Not for one column (COPY reads a blank line as a NULL value there), nor for a piece
 * with a record long enough to hold a field over the limit, nor for one with a stray quote or
 * a file that ends inside quotes: those are scanned byte by byte, and so is every piece of a
 * batch loaded again because COPY refused one for its shape (Reshape).
 */
async function copyPiece(
  client: pg.Client,
  imp: ClaimedImport,
  batch: Batch,
  piece: Piece,
  chunk: Buffer,
  layout: Layout,
  slow: boolean,
  readRecords: () => Promise<Buffer>,
): Promise<CopiedPiece> {
  const { columns, dialect } = layout
  const { maxFieldBytes } = config()
  const syntax = recordSyntax(dialect)
  const fast = !slow && piece.fast
  let records: { end: number; excluded: ExcludedRecord[] } = { end: chunk.length, excluded: [] }
  if (!fast) {
    records = scanRecords(chunk, { fields: columns.length, line: piece.line, final: piece.final, syntax, maxFieldBytes })
    // A byte COPY refuses for the encoding (a NUL, invalid UTF-8 past the sniffed sample) would
    // fail the batch on every resume: its record is rejected instead. Looked for only here, off
    // the fast path, which COPY itself checks.
    if (hasBadCharacters(chunk.subarray(0, records.end), dialect.encoding)) {
      records.excluded = mergeExcluded(records.excluded, encodingRejects(chunk, records.end, piece.line, syntax, dialect.encoding))
    }
  }
  // The planner cut the piece where these scans end; anything else would lose records.
  if (records.end !== chunk.length) throw new Error(`import ${imp.id}: the piece at byte ${piece.start} does not end at a record boundary`)
  const skipped: SkippedRow[] = []
  const onNotice = (notice: { message?: string }) => {
    const row = parseSkippedRow(notice.message ?? '')
    if (row) skipped.push(row)
  }
  let copied = 0
  const rewrites = rewritesFor(columns, dialect.encoding === 'windows-1252' ? 'windows-1252' : 'utf-8')
  const ranges = rangesToCopy(chunk, records)
  if (ranges.length) {
    client.on('notice', onNotice)
    try {
      const copy = client.query(copyFrom(copySql(batchTable(imp.id, batch.start), columns, dialect)))
      const rewrite = rewrites ? (range: Buffer) => rewrittenPieces(range, syntax, rewrites, COPY_PIECE_BYTES) : undefined
      // One piece ahead, not sixteen (objectMode's default): a piece is rewritten while COPY takes the last.
      await pipeline(Readable.from(piecesToCopy(chunk, ranges, rewrite), { highWaterMark: 1 }), copy)
      copied = copy.rowCount
    } catch (error) {
      if (fast && RESHAPE_ON.has((error as { code?: string }).code ?? '')) throw new Reshape()
      throw error
    } finally {
      client.off('notice', onNotice)
    }
  }
  // The rewrite changed the records in place: a reject is shown as the file wrote it.
  if (rewrites && skipped.length) chunk = await readRecords()
  const located = skipped.length
    ? locateSkippedRecords(chunk, records, piece.line, syntax, dialect.newline, skipped, fieldOf(chunk, layout)).map((r) => ({ ...r, reason: skippedReason(r.skipped, columns) }))
    : []
  const rejects = [...records.excluded.flatMap((e) => (e.reason === null ? [] : [{ line: e.line, reason: e.reason, start: e.start, end: e.end }])), ...located]
    .sort((a, b) => a.line - b.line)
    .map((r) => ({ line: r.line, reason: r.reason, record: recordText(chunk.subarray(r.start, Math.min(r.end, r.start + MAX_REJECT_RECORD_BYTES)), dialect.encoding) }))
  // Blank lines hold no record: kept with the batch, so that a row's line can be counted later (column-types.ts).
  const blankLines = records.excluded.flatMap((e) => (e.reason === null ? [e.line] : []))
  return { copied, rejects, blankLines }
}

/** One value of a record in the piece, read as COPY reads it (an empty unquoted value of a typed column is NULL): for checking a reject. */
function fieldOf(chunk: Buffer, { columns, dialect }: Layout) {
  return (record: { start: number; end: number }, column: string): string | null => {
    const index = columns.findIndex((c) => c.name === column)
    const [fields] = parseCsv(chunk.subarray(record.start, record.end), {
      delimiter: dialect.delimiter,
      quote: dialect.quote,
      escape: dialect.escape,
      relax_column_count: true,
    }) as string[][]
    const value = fields?.[index]
    return value === undefined || value === '' ? null : value
  }
}

/**
 * COPY in the file's dialect, FREEZE: the batch's table was created in this transaction. A
 * value that does not fit its column's type skips its row (ON_ERROR ignore) and COPY says
 * which, line and column, in a NOTICE (LOG_VERBOSITY verbose): PostgreSQL 17 and newer. An
 * empty value of a typed column is NULL, quoted or not.
 */
function copySql(table: string, columns: readonly ImportColumn[], dialect: Dialect): string {
  const { delimiter, quote, escape, encoding } = dialect
  const typed = columns.filter((c) => c.type && c.type !== 'text')
  const options = [
    'FORMAT csv',
    'FREEZE',
    `DELIMITER ${pg.escapeLiteral(delimiter)}`,
    `QUOTE ${pg.escapeLiteral(quote)}`,
    `ESCAPE ${pg.escapeLiteral(escape)}`,
    `ENCODING '${copyEncoding(encoding)}'`,
    ...(typed.length ? [`FORCE_NULL (${columnListSql(typed)})`, 'ON_ERROR ignore', 'LOG_VERBOSITY verbose'] : []),
  ]
  return `COPY ${table} (${columnListSql(columns)}) FROM STDIN (${options.join(', ')})`
}

/** The batch's whole records minus its excluded ones (rejects, blank lines), as ranges of the chunk. */
function rangesToCopy(chunk: Buffer, records: { end: number; excluded: ExcludedRecord[] }): Array<[number, number]> {
  let from = 0
  const ranges: Array<[number, number]> = []
  for (const e of records.excluded) {
    if (e.start > from) ranges.push([from, e.start])
    from = e.end
  }
  if (records.end > from) ranges.push([from, records.end])
  return ranges
}

/**
 * The ranges in pieces of at most 1 MiB, made as COPY takes them; rewritten by `rewrite`,
 * which cuts them where records end (a piece cut anywhere else would count a record's fields
 * from the middle).
 */
function* piecesToCopy(chunk: Buffer, ranges: Array<[number, number]>, rewrite?: (wholeRecords: Buffer) => Iterable<Buffer>): Generator<Buffer> {
  for (const [start, end] of ranges) {
    if (rewrite) yield* rewrite(chunk.subarray(start, end))
    else for (let p = start; p < end; p += COPY_PIECE_BYTES) yield chunk.subarray(p, Math.min(end, p + COPY_PIECE_BYTES))
  }
}

// How often an import that caught up with its upload looks for more bytes, and for a person's
// command (pause, kill, stop) meanwhile.
const FOLLOW_POLL_MS = 100
const FOLLOW_STATUS_MS = 500
// An upload that brings nothing for this long (a closed laptop, a paused tab) lets its import
// wait off the worker, so that it holds no worker slot or connection: its next bytes wake it.
const FOLLOW_IDLE_MS = 10_000

/**
 * The upload as the import reads it: a read waits until the upload has confirmed every byte
 * of its range (an import may start while its file still arrives), and never reads past them.
 */
class FollowedUpload {
  private known = 0
  constructor(
    readonly source: UploadSource,
    private readonly imp: ClaimedImport,
  ) {}

  async read(buf: Buffer, length: number, position: number): Promise<number> {
    if (position + length > this.known) await this.waitFor(position + length)
    let got = 0
    while (got < length) {
      const bytesRead = await this.source.read(buf.subarray(got), length - got, position + got)
      if (bytesRead === 0) throw new ImportFailure(`The uploaded file is shorter than its ${formatBytes(position + length)}`)
      got += bytesRead
    }
    return got
  }

  private async waitFor(end: number) {
    let grewAt = Date.now()
    let checkedAt = Date.now()
    for (;;) {
      const available = await this.source.available()
      if (available > this.known) {
        this.known = available
        grewAt = Date.now()
      }
      if (this.known >= end) return
      if (Date.now() - checkedAt >= FOLLOW_STATUS_MS) {
        checkedAt = Date.now()
        await this.checkStillOurs()
      }
      if (Date.now() - grewAt >= FOLLOW_IDLE_MS) throw new UploadStalled(this.known)
      await new Promise((resolve) => setTimeout(resolve, FOLLOW_POLL_MS))
    }
  }

  /** While it waits no batch is in flight for a command to cancel: it asks instead. */
  private async checkStillOurs() {
    const { rows } = await pool().query<{ ours: boolean; upload: string | null }>(
      `SELECT i.status = 'PROCESSING' AND i.run = $2 AS ours, u.status AS upload FROM imports i LEFT JOIN uploads u ON u.id = i.upload_id WHERE i.id = $1`,
      [this.imp.id, this.imp.run],
    )
    if (!rows[0]?.ours) throw new NoLongerOurs()
    if (rows[0].upload === 'TERMINATED' || rows[0].upload === 'EXPIRED') throw new ImportFailure('The upload was cancelled before the whole file arrived')
  }
}

/** A bigger buffer for a record that does not fit in the current one. */
function grow(buf: Buffer, remaining: number, line: number, maxLineBytes: number): Buffer {
  // The buffer already holds the rest of the file and still no whole record: a quote opened
  // in the header is never closed.
  if (buf.length >= remaining) throw new ImportFailure(`The record on line ${line} never ends: a quote in it is not closed`)
  if (buf.length >= maxLineBytes) {
    throw new ImportFailure(`The record on line ${line} is longer than ${formatBytes(maxLineBytes)}, the longest this server reads`)
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

/** PROCESSED, once the committed batches cover the whole file; false when no longer this run's. */
async function finishImport(client: pg.Client, imp: ClaimedImport): Promise<boolean> {
  const { rowCount } = await client.query(
    `UPDATE imports SET status = 'PROCESSED', finished_at = now(), backend_pid = NULL, updated_at = now()
     WHERE id = $1 AND run = $2 AND status = 'PROCESSING'
       AND (SELECT COALESCE(sum(end_byte - start_byte), 0) FROM import_batches WHERE import_id = $1) = total_bytes`,
    [imp.id, imp.run],
  )
  if (rowCount) return true
  const { rows } = await client.query('SELECT 1 FROM imports WHERE id = $1 AND run = $2 AND status = $3', [imp.id, imp.run, 'PROCESSING'])
  if (rows.length) throw new Error(`import ${imp.id}: its committed batches do not cover its ${imp.totalBytes} bytes`)
  return false
}

/**
 * An import begun before imports were partitioned (one table, its checkpoint one offset): its
 * table becomes the first batch of a partitioned one, so the rest loads as any import does.
 * Its rows keep their numbers (the later batches' rows have none, as any import's); whether
 * they are stored in file order is not known, so exports sort them.
 */
async function adoptSingleTable(client: pg.Client, imp: ClaimedImport) {
  const { rows } = await client.query<{ bytes: string; line: string }>('SELECT bytes_processed AS bytes, next_line AS line FROM imports WHERE id = $1', [imp.id])
  const part = batchTable(imp.id, 0)
  const batch = quoteIdent(BATCH_COLUMN)
  await client.query('BEGIN')
  try {
    await client.query(`ALTER TABLE ${importTableSql(imp.tableName)} SET SCHEMA ${quoteIdent(BATCHES_SCHEMA)}`)
    await client.query(`ALTER TABLE ${quoteIdent(BATCHES_SCHEMA)}.${quoteIdent(imp.tableName)} RENAME TO ${part.split('.')[1]}`)
    await client.query(`ALTER TABLE ${part} ALTER COLUMN ${quoteIdent(ROW_NUMBER_COLUMN)} DROP IDENTITY IF EXISTS`)
    await client.query(`ALTER TABLE ${part} ADD COLUMN ${batch} bigint NOT NULL DEFAULT 0 CHECK (${batch} = 0)`)
    await client.query(`DROP TRIGGER IF EXISTS sluice_changed ON ${part}`)
    for (const sql of createPartitionedTableSql(imp, imp.columns ?? [])) await client.query(sql)
    await client.query(attachBatchTableSql(imp, 0))
    await client.query('INSERT INTO import_batches (import_id, start_byte, end_byte, first_line, next_line) VALUES ($1, 0, $2, 1, $3)', [imp.id, rows[0]!.bytes, rows[0]!.line])
    await client.query(`UPDATE imports SET partitioned = true, stored_in_file_order = false WHERE id = $1 AND run = $2 AND status = 'PROCESSING'`, [imp.id, imp.run])
    await client.query('COMMIT')
  } catch (error) {
    await client.query('ROLLBACK').catch(() => {})
    throw error
  }
}

/**
 * Lets an import that caught up with a stalled upload wait without a worker: QUEUED with no
 * job, until the upload's next bytes queue one (wakeImportOfUpload). Bytes that came while it
 * handed itself back would wake nobody, so it looks once more and queues itself for them.
 */
async function waitForUpload(imp: ClaimedImport, bytesSeen: number) {
  const { rowCount } = await pool().query(
    `UPDATE imports SET status = 'QUEUED', backend_pid = NULL, updated_at = now() WHERE id = $1 AND run = $2 AND status = 'PROCESSING'`,
    [imp.id, imp.run],
  )
  if (!rowCount) return
  const source = await openUploadSource(imp.uploadId).catch(() => null)
  const grew = source !== null && (await source.available()) > bytesSeen
  await source?.close()
  if (grew) await pool().query(WAKE_IMPORTS_OF_UPLOAD, [imp.uploadId])
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
    `UPDATE imports SET status = 'FAILED', error = $3, failure_final = $4, finished_at = now(), backend_pid = NULL, updated_at = now()
     WHERE id = $1 AND run = $2 AND status = 'PROCESSING'`,
    [imp.id, imp.run, message, error instanceof ImportFailure],
  )
  if (res.rowCount && !(error instanceof ImportFailure)) console.error(`import ${imp.id} failed:`, error)
}
