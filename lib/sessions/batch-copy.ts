import { isUtf8 } from 'node:buffer'
import { createHash } from 'node:crypto'
import { once } from 'node:events'
import { finished } from 'node:stream/promises'
import type { Writable } from 'node:stream'
import type pg from 'pg'
import { parse as parseCsv } from 'csv-parse/sync'
import { from as copyFrom } from 'pg-copy-streams'
import { SluiceError } from '../http/errors'
import { columnListSql, columnsFromHeaders, createImportTableSql, importTableSql, isRowTooBig, quoteIdent, type ImportColumn } from '../imports/column-names'
import { findFirstRecordEnd } from '../imports/record-boundaries'
import { RecordColumns, refuseBadKey, type RecordPlace } from './batch-records'
import { parseEnvelope, scanEnvelope, transcodeRecords, type RecordSpan, type Transcoded } from './json-envelope'
import { RecordTranscoder } from './record-transcoder'

/**
 * A batch's body as the route read it: a JSON body whole (its records parsed, or only found
 * when the envelope is the plain one), or an NDJSON or CSV body as it arrives.
 */
export type BatchInput =
  | { format: 'json'; bytes: Buffer; records: unknown[] | RecordSpan; prepared?: PreparedCsv }
  | { format: 'ndjson' | 'csv'; body: AsyncIterable<Uint8Array> }

/**
 * A JSON batch's records as CSV, made before its turn for the columns the session had then;
 * `written` null when the transcoder declined a record (the batch is then parsed).
 */
export type PreparedCsv = { headers: string[]; written: Transcoded | null }

/**
 * A JSON batch body read before the batch takes its turn, so that this CPU work runs while the
 * batch before it is copied: the plain envelope is scanned and, when the session has columns,
 * its records transcoded to CSV in the same pass; any other body is parsed whole (zod says what
 * is wrong with it).
 */
export function readJsonBatch(bytes: Buffer, columns: readonly ImportColumn[] | null): BatchInput & { format: 'json'; sequence?: number | undefined } {
  const headers = columns?.map((c) => c.header)
  const scanned = scanEnvelope(bytes, headers && new RecordColumns(headers, false))
  if (!scanned) {
    const { records, sequence } = parseEnvelope(bytes)
    return { format: 'json', bytes, records, sequence }
  }
  const prepared = headers && { headers, written: scanned.written ?? null }
  return { format: 'json', bytes, records: scanned.records, sequence: scanned.sequence, ...(prepared ? { prepared } : {}) }
}

/** How many records a JSON batch holds (known before it is written), or null for a streamed body. */
export const knownRecordCount = (input: BatchInput): number | null =>
  input.format !== 'json' ? null : Array.isArray(input.records) ? input.records.length : input.records.count

/** What a batch wrote (or, when it was not to be applied, would have): its records and the digest of its body. */
export type BatchWritten = { records: number; bytes: number; digest: string; columns: ImportColumn[] | null }

// A blank NDJSON line (spaces, a CR), tested without making a trimmed copy of every line.
const BLANK = /^\s*$/

// COPY data goes to PostgreSQL in pieces of about this size (bytes, or characters of CSV text):
// big enough that a write costs little per record, small enough that memory stays flat while a
// body streams.
const PIECE_BYTES = 256 * 1024

/**
 * Writes one batch into the import's table with COPY as its body arrives, inside the caller's
 * transaction; with `apply` false it only reads and checks the body (a retry whose digest must
 * match). A bad record throws with its place, a body with more than `maxRecords` records 413:
 * the COPY is then abandoned and the caller's rollback leaves nothing.
 */
export async function writeBatch(
  client: pg.ClientBase,
  imp: { tableName: string; columns: ImportColumn[] | null },
  input: BatchInput,
  options: { apply: boolean; maxRecords: number },
): Promise<BatchWritten> {
  const target = new BatchTarget(client, imp.tableName, imp.columns, options.apply)
  const hash = createHash('sha256').update(`${input.format}\n`)
  let records = 0
  // An NDJSON body's blank lines are no record: COPY's line numbers skip them.
  const blankLines: number[] = []
  const placeOfCopyLine = (n: number): RecordPlace => {
    if (input.format === 'json') return { record: n - 1 }
    if (input.format === 'csv') return { line: n + 1 }
    let line = n
    for (const blank of blankLines) if (blank <= line) line++
    return { line }
  }
  const counted = () => {
    if (++records > options.maxRecords) {
      throw new SluiceError('TOO_LARGE', `A batch may hold at most ${options.maxRecords} records (MAX_BATCH_RECORDS); this one holds more: send them in smaller batches`, {
        details: { maxRecords: options.maxRecords },
      })
    }
  }
  try {
    if (input.format === 'csv') {
      records = await writeCsvBody(target, input.body, hash, options.maxRecords)
    } else {
      const sessionColumns = imp.columns ? new RecordColumns(imp.columns.map((c) => c.header), false) : null
      if (input.format === 'json') {
        hash.update(input.bytes)
        await writeJsonBody(target, sessionColumns, input, counted)
      } else {
        // The session's first batch, opened without columns: its columns grow as new keys come.
        await writeNdjsonBody(target, sessionColumns ?? new RecordColumns([], true), input.body, hash, counted, blankLines)
      }
    }
    await target.end()
  } catch (error) {
    target.abandon(error as Error)
    throw describeCopyError(error, target.columns ?? [], placeOfCopyLine)
  }
  return { records, bytes: target.bytes, digest: hash.digest('hex'), columns: target.columns }
}

/**
 * A JSON body: whole, so its keys are known before its first record is written. The plain
 * envelope's records are each read once by the transcoder; when it declines one (or the
 * session's columns are not known yet) the records are parsed and read one by one, which
 * refuses or takes them exactly.
 */
async function writeJsonBody(target: BatchTarget, sessionColumns: RecordColumns | null, input: BatchInput & { format: 'json' }, counted: () => void): Promise<void> {
  // Made before the turn for the same columns (the session's first batch may have set them since), or now.
  const prepared = input.prepared && sessionColumns && input.prepared.headers.join('\0') === sessionColumns.keys.join('\0') ? input.prepared : undefined
  const fast = prepared ? prepared.written : sessionColumns && !Array.isArray(input.records) ? transcodeRecords(input.bytes, input.records, sessionColumns) : null
  if (fast) {
    for (let r = 0; r < fast.records; r++) counted()
    for (let at = 0; at < fast.csv.length; at += PIECE_BYTES) await target.writeBytes(fast.csv.subarray(at, at + PIECE_BYTES))
    return
  }
  const records = Array.isArray(input.records) ? input.records : parseEnvelope(input.bytes).records
  let columns = sessionColumns
  if (!columns) {
    if (!records.length) return
    columns = new RecordColumns(keysOf(records), false)
    await target.setColumns(columnsFromHeaders(columns.keys))
  }
  for (let r = 0; r < records.length; r++) {
    counted()
    // Not growable: a line, or a refusal.
    target.append(columns.csvLine(records[r], { record: r }) as string)
    if (r % 1000 === 999) await target.flushIfFull()
  }
}

/** Every key of a JSON batch's records, in the order they first appear: the session's first batch names its columns. */
function keysOf(records: unknown[]): string[] {
  const keys = new Set<string>()
  records.forEach((record, r) => {
    if (record === null || typeof record !== 'object' || Array.isArray(record)) return
    for (const key in record) {
      refuseBadKey(key, { record: r })
      keys.add(key)
    }
  })
  if (!keys.size) throw new SluiceError('UNPROCESSABLE', 'The first batch names no column: give columns when opening the session, or keys in the records')
  return [...keys]
}

function parseLine(text: string, line: number): unknown {
  try {
    return JSON.parse(text)
  } catch (error) {
    throw new SluiceError('UNPROCESSABLE', `line ${line} is not valid JSON (${(error as Error).message}); the batch was not applied`, { details: { line } })
  }
}

const UTF8_BOM = Buffer.from([0xef, 0xbb, 0xbf])

/**
 * An NDJSON body, a run of whole lines at a time as it arrives: each record is transcoded to a
 * CSV line where RecordTranscoder can; otherwise its line is read with JSON.parse and
 * csvLine, which refuse it exactly, skip it when blank, or name a new key (the columns then
 * grow and the line is read again). The bytes must be UTF-8 (a byte that is not is refused
 * with its line, never replaced); they go into `hash` as they pass.
 */
async function writeNdjsonBody(
  target: BatchTarget,
  columns: RecordColumns,
  body: AsyncIterable<Uint8Array>,
  hash: ReturnType<typeof createHash>,
  counted: () => void,
  blankLines: number[],
): Promise<void> {
  const transcoder = new RecordTranscoder(columns)
  let out = Buffer.allocUnsafe(PIECE_BYTES)
  let o = 0
  // A piece handed to COPY may still be queued on the socket: each piece gets a buffer of its own.
  const sendOut = async (room = 0) => {
    if (o) await target.writeBytes(out.subarray(0, o))
    out = Buffer.allocUnsafe(Math.max(PIECE_BYTES, room))
    o = 0
  }
  let line = 1
  const writeLines = async (bytes: Buffer, start: number, end: number) => {
    if (!isUtf8(bytes.subarray(start, end))) throw notUtf8(bytes.subarray(start, end), line)
    for (let s = start; ; ) {
      const newline = bytes.indexOf(0x0a, s)
      const e = newline === -1 || newline >= end ? end : newline
      const room = transcoder.maxLineBytes(e - s)
      if (o + room > out.length) await sendOut(room)
      const written = transcoder.transcode(bytes, s, e, out, o)
      if (written >= 0) {
        counted()
        o = written
      } else {
        const text = bytes.toString('utf8', s, e)
        if (BLANK.test(text)) blankLines.push(line)
        else {
          counted()
          const record = parseLine(text, line)
          let csv = columns.csvLine(record, { line })
          while (typeof csv !== 'string') {
            // A new key of the session's first batch: what came before goes to COPY with the columns it had.
            await sendOut()
            columns.add(csv.newKey)
            await target.setColumns(columnsFromHeaders(columns.keys))
            csv = columns.csvLine(record, { line })
          }
          const bytesOfCsv = Buffer.byteLength(csv)
          if (o + bytesOfCsv > out.length) await sendOut(bytesOfCsv)
          o += out.write(csv, o)
        }
      }
      line++
      if (e >= end) return
      s = e + 1
    }
  }
  let rest: Buffer = Buffer.alloc(0)
  let first = true
  for await (const chunk of body) {
    hash.update(chunk)
    let bytes = rest.length ? Buffer.concat([rest, chunk]) : Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength)
    if (first) {
      if (bytes.length < UTF8_BOM.length && UTF8_BOM.subarray(0, bytes.length).equals(bytes)) {
        rest = Buffer.from(bytes)
        continue
      }
      first = false
      if (bytes.subarray(0, 3).equals(UTF8_BOM)) bytes = bytes.subarray(3)
    }
    const last = bytes.lastIndexOf(0x0a)
    if (last === -1) {
      rest = Buffer.from(bytes)
      continue
    }
    await writeLines(bytes, 0, last)
    rest = Buffer.from(bytes.subarray(last + 1))
    if (o >= PIECE_BYTES / 2) await sendOut()
  }
  if (rest.length) await writeLines(rest, 0, rest.length)
  await sendOut()
}

/** The refusal of bytes that are not UTF-8, naming the first line (counted from `line`) that is not. */
function notUtf8(bytes: Buffer, line: number): SluiceError {
  let at = line
  for (let start = 0; start < bytes.length; at++) {
    const end = bytes.indexOf(0x0a, start)
    if (!isUtf8(bytes.subarray(start, end === -1 ? bytes.length : end))) break
    start = end === -1 ? bytes.length : end + 1
  }
  return new SluiceError('UNPROCESSABLE', `line ${at} is not UTF-8 text; the batch was not applied`, { details: { line: at } })
}

/**
 * A CSV body: its header line names the columns (the session's, in any order, or the first
 * batch's), the rest goes to COPY as it is. PostgreSQL parses it once, and its errors (a record
 * with too many or too few fields, a byte that is not UTF-8) name the line.
 */
async function writeCsvBody(target: BatchTarget, body: AsyncIterable<Uint8Array>, hash: ReturnType<typeof createHash>, maxRecords: number): Promise<number> {
  let head: Buffer | null = Buffer.alloc(0)
  for await (const chunk of body) {
    hash.update(chunk)
    if (head === null) {
      await target.writeBytes(chunk)
      continue
    }
    head = Buffer.concat([head, chunk])
    const { end } = findFirstRecordEnd(head, 1, false)
    if (end === 0) {
      if (head.length > 1024 * 1024) throw new SluiceError('UNPROCESSABLE', 'line 1, the header, is longer than 1 MiB; the batch was not applied', { details: { line: 1 } })
      continue
    }
    await target.setColumnsFromHeader(parseHeader(head.subarray(0, end)))
    const rest = head.subarray(end)
    head = null
    if (rest.length) await target.writeBytes(rest)
  }
  if (head !== null && head.length) await target.setColumnsFromHeader(parseHeader(head))
  const records = await target.end()
  if (records > maxRecords) {
    throw new SluiceError('TOO_LARGE', `A batch may hold at most ${maxRecords} records (MAX_BATCH_RECORDS); this one holds ${records}: send them in smaller batches`, {
      details: { maxRecords, records },
    })
  }
  return records
}

function parseHeader(bytes: Buffer): string[] {
  let fields: string[] | undefined
  try {
    ;[fields] = parseCsv(bytes, { bom: true, relax_column_count: true }) as string[][]
  } catch (error) {
    throw new SluiceError('UNPROCESSABLE', `line 1, the header, is not CSV (${(error as Error).message}); the batch was not applied`, { details: { line: 1 } })
  }
  if (!fields?.length || fields.every((f) => f === '')) {
    throw new SluiceError('UNPROCESSABLE', 'line 1 must be a header naming the columns of the records that follow; the batch was not applied', { details: { line: 1 } })
  }
  return fields
}

// "COPY t, line 5, column x: …": the line COPY was at, and the column when a value did not fit.
const COPY_LINE = /\bline (\d+)(?:, column (.+?): )?/

/**
 * PostgreSQL's refusal of what COPY was given (class 22, a data exception: a CSV line with the
 * wrong number of fields, a value a typed column does not take) as a 422 naming the record or
 * the line, and the column; other errors as they are.
 */
function describeCopyError(error: unknown, columns: readonly ImportColumn[], placeOf: (copyLine: number) => RecordPlace): unknown {
  if (error instanceof SluiceError) return error
  if (isRowTooBig(error)) {
    return new SluiceError('UNPROCESSABLE', `A record of this batch is wider than a PostgreSQL row can hold (8,160 bytes for its ${columns.length} values); the batch was not applied`)
  }
  const pgError = error as { code?: string; message?: string; where?: string }
  const at = COPY_LINE.exec(pgError.where ?? '')
  if (!pgError.code?.startsWith('22') || !at) return error
  const place = placeOf(Number(at[1]))
  const label = 'record' in place ? `records[${place.record}]` : `line ${place.line}`
  const column = at[2] === undefined ? undefined : columns.find((c) => c.name === at[2] || quoteIdent(c.name) === at[2])
  if (!column) return new SluiceError('UNPROCESSABLE', `${label}: ${pgError.message}; the batch was not applied`, { details: place })
  return new SluiceError('UNPROCESSABLE', `${label} does not fit the column ${JSON.stringify(column.header)} (${column.type ?? 'text'}): ${pgError.message}; the batch was not applied`, {
    details: { ...place, key: column.header },
  })
}

/**
 * The import's table as a batch writes it: the COPY in flight, started when the first data
 * comes and restarted when the columns grow, and what it has written.
 */
class BatchTarget {
  bytes = 0
  private copy: Writable | null = null
  private copyDone: Promise<void> | null = null
  private copyRows = 0
  private pending = ''
  private copyColumns: ImportColumn[] | null = null
  // Records with no key that came before the first batch's first key: rows of NULLs, written once the table exists.
  private keylessRows = 0

  constructor(
    private readonly client: pg.ClientBase,
    private readonly tableName: string,
    public columns: ImportColumn[] | null,
    private readonly apply: boolean,
  ) {}

  /** The columns grow (or are first set): the COPY in flight ends, the table gets them. */
  async setColumns(columns: ImportColumn[]): Promise<void> {
    await this.endCopy()
    if (this.apply) {
      if (!this.columns) await this.client.query(createImportTableSql(this.tableName, columns))
      else for (const c of columns.slice(this.columns.length)) await this.client.query(`ALTER TABLE ${importTableSql(this.tableName)} ADD COLUMN ${quoteIdent(c.name)} text`)
    }
    this.columns = columns
    if (this.keylessRows) this.append(`${','.repeat(columns.length - 1)}\n`.repeat(this.keylessRows))
    this.keylessRows = 0
  }

  /** A CSV body's header: the session's columns in the header's order (unknown names refused), or the first batch's. */
  async setColumnsFromHeader(headers: string[]): Promise<void> {
    if (headers.some((h) => h.includes('\0'))) {
      throw new SluiceError('UNPROCESSABLE', 'line 1, the header, has a NUL character, which PostgreSQL text cannot hold; the batch was not applied', { details: { line: 1 } })
    }
    if (new Set(headers).size !== headers.length) {
      const twice = headers.find((h, i) => headers.indexOf(h) !== i)!
      throw new SluiceError('UNPROCESSABLE', `line 1, the header, names ${JSON.stringify(twice)} twice; the batch was not applied`, { details: { line: 1 } })
    }
    if (!this.columns) await this.setColumns(columnsFromHeaders(headers))
    const byHeader = new Map(this.columns!.map((c) => [c.header, c]))
    const unknown = headers.find((h) => !byHeader.has(h))
    if (unknown !== undefined) {
      throw new SluiceError(
        'UNPROCESSABLE',
        `line 1, the header, names ${JSON.stringify(unknown)}, which is not a column of this session (its columns: ${this.columns!.map((c) => JSON.stringify(c.header)).join(', ')}); the batch was not applied`,
        { details: { line: 1, key: unknown } },
      )
    }
    this.copyColumns = headers.map((h) => byHeader.get(h)!)
  }

  /** Adds CSV text to what goes to COPY next; flushIfFull sends it once there is a piece's worth. */
  append(text: string): void {
    this.pending += text
  }

  async flushIfFull(): Promise<void> {
    if (this.pending.length >= PIECE_BYTES) await this.flush()
  }

  async writeBytes(bytes: Uint8Array): Promise<void> {
    await this.flush()
    await this.send(Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength))
  }

  /** Ends the batch's COPY; the rows it wrote. */
  async end(): Promise<number> {
    await this.endCopy()
    if (this.keylessRows) throw new SluiceError('UNPROCESSABLE', 'The first batch names no column: give columns when opening the session, or keys in the records')
    return this.copyRows
  }

  /** Gives the COPY up (CopyFail), so that the connection can roll back. */
  abandon(error: Error): void {
    this.copy?.destroy(error)
  }

  private async flush(): Promise<void> {
    if (!this.pending) return
    const piece = Buffer.from(this.pending)
    this.pending = ''
    await this.send(piece)
  }

  private async send(piece: Buffer): Promise<void> {
    this.bytes += piece.length
    const columns = this.copyColumns ?? this.columns
    if (!columns) {
      // No column yet: the piece is the empty lines of records without a key.
      for (const byte of piece) if (byte === 0x0a) this.keylessRows++
      return
    }
    if (!this.apply) return
    if (!this.copy) {
      const stream = this.client.query(copyFrom(`COPY ${importTableSql(this.tableName)} (${columnListSql(columns)}) FROM STDIN (FORMAT csv)`))
      this.copy = stream
      this.copyDone = finished(stream).then(() => {
        this.copyRows += stream.rowCount ?? 0
      })
      this.copyDone.catch(() => {}) // awaited in send and endCopy
    }
    if (!this.copy.write(piece)) await Promise.race([once(this.copy, 'drain'), this.copyDone])
  }

  private async endCopy(): Promise<void> {
    await this.flush()
    if (!this.copy) return
    this.copy.end()
    await this.copyDone
    this.copy = null
    this.copyDone = null
  }
}
