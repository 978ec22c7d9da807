// npm run bench:batch -- [--rows 2000000] [--batch-size 50000] [--formats json,ndjson,csv] [--in-flight 2] [--runs 3] [--keep]
//
// How close does the batch API come to loading the same records with one raw COPY? The
// generated CSV is parsed into records and cut into request bodies of each format (JSON,
// NDJSON, CSV) before the clock starts (the client's own work is not the server's speed). One
// run starts the real app as a user does and, for each format, opens a session, posts every
// batch (with its sequence, `--in-flight` at a time), finishes the session, and times that
// from the session's opening to the finish's answer. In the same database it loads the CSV
// file with one raw `COPY … FROM STDIN (FORMAT csv, HEADER)`. It prints the times and their
// ratios (raw/batch: 1 would be as fast as raw COPY). Speed is reported, never asserted: the
// exit code is non-zero only when something went wrong (a refused batch, a wrong row count).
import fs from 'node:fs'
import fsp from 'node:fs/promises'
import os from 'node:os'
import path from 'node:path'
import { parse } from 'csv-parse'
import pg from 'pg'
import type { SessionDto } from '../lib/sessions/schemas'
import { ensureCsv } from './bench/fixture'
import {
  cleanups,
  countFlag,
  interrupted,
  MB,
  median,
  parseFlags,
  printLogTail,
  readCpuSeconds,
  runBench,
  sampleRss,
  toMB,
  UsageError,
  authFor,
} from './bench/harness'
import { measureRawCopy, settle, startAppWithDatabase, tableSql, type App, type RawRun } from './bench/imports'

const USAGE = 'usage: npm run bench:batch -- [--rows N] [--batch-size 50000] [--formats json,ndjson,csv] [--in-flight 2] [--runs 3] [--keep]'
const FORMATS = ['json', 'ndjson', 'csv'] as const
type Format = (typeof FORMATS)[number]
const CONTENT_TYPE: Record<Format, string> = { json: 'application/json', ndjson: 'application/x-ndjson', csv: 'text/csv' }

type Options = { rows: number; batchSize: number; formats: Format[]; inFlight: number; runs: number; keep: boolean }
type Batches = { format: Format; columns: string[]; bodies: Uint8Array<ArrayBuffer>[]; records: number; bodyBytes: number }
type BatchRun = { seconds: number; rows: number; serverCpuSeconds: number; peakRssBytes: number }

async function main() {
  const options = parseOptions()
  const fixture = await ensureCsv({ rows: options.rows })
  const all: Batches[] = []
  for (const format of options.formats) {
    const batches = await readBatches(fixture.file, options.batchSize, format)
    if (batches.records !== options.rows) throw new Error(`the fixture holds ${batches.records} records, not ${options.rows}`)
    all.push(batches)
  }

  const runDir = await fsp.mkdtemp(path.join(os.tmpdir(), 'sluice-bench-batch-'))
  if (options.keep) console.log(`Keeping ${runDir} (app log, database) at the end`)
  else cleanups.push(() => fsp.rm(runDir, { recursive: true, force: true }))
  await fsp.chmod(runDir, 0o755) // the embedded PostgreSQL runs as the OS user postgres under root
  const appLog = path.join(runDir, 'app.log')
  console.log(
    `Sending ${options.rows.toLocaleString('en')} records in batches of ${options.batchSize} (${options.inFlight} in flight) as ` +
      `${all.map((b) => `${b.format} (${(b.bodyBytes / MB).toFixed(0)} MB)`).join(', ')}, ${options.runs}× each, against a raw COPY of ${fixture.file}`,
  )
  try {
    printRow('run', 'format', 'batch s', 'raw s', 'raw/batch', 'records/s', 'app CPU s', 'app peak RSS MB')
    const results: Array<{ format: Format; batch: BatchRun; raw: RawRun }> = []
    for (let run = 1; run <= options.runs; run++) {
      const app = await startAppWithDatabase({
        dataDir: path.join(runDir, 'data'),
        logFile: appLog,
        env: { MAX_BATCH_RECORDS: String(options.batchSize), MAX_BATCH_BYTES: String(Math.max(16 * 2 ** 20, ...all.flatMap((b) => b.bodies.map((body) => body.length)))) },
      })
      const db = new pg.Client({ connectionString: app.databaseUrl, application_name: 'sluice-bench-batch' })
      await db.connect()
      try {
        // Loads the routes, Prisma's queries and the COPY path: start-up, not speed.
        for (const batches of all) await measureBatches(app, db, { ...batches, bodies: batches.bodies.slice(0, 1), records: Math.min(batches.records, options.batchSize) }, 1)
        // The raw COPY first in odd runs, last in even ones, so that neither side always follows the other's writeback.
        const order: Array<'raw' | Batches> = run % 2 === 1 ? ['raw', ...all] : [...all, 'raw']
        let raw: RawRun | undefined
        const batchRuns: Array<{ format: Format; batch: BatchRun }> = []
        for (const side of order) {
          if (side === 'raw') raw = await measureRawCopy(db, fixture.file)
          else batchRuns.push({ format: side.format, batch: await measureBatches(app, db, side, options.inFlight) })
        }
        if (raw!.rows !== options.rows) throw new Error(`the raw COPY loaded ${raw!.rows} rows, the file holds ${options.rows}`)
        for (const { format, batch } of batchRuns) {
          results.push({ format, batch, raw: raw! })
          printRow(
            String(run),
            format,
            batch.seconds.toFixed(2),
            raw!.seconds.toFixed(2),
            (raw!.seconds / batch.seconds).toFixed(2),
            (batch.rows / batch.seconds).toFixed(0),
            batch.serverCpuSeconds.toFixed(1),
            toMB(batch.peakRssBytes),
          )
        }
      } finally {
        await db.end().catch(() => {})
        await app.stop()
      }
    }
    console.log('')
    for (const format of options.formats) {
      const mine = results.filter((r) => r.format === format)
      const ratio = median(mine.map((r) => r.raw.seconds / r.batch.seconds))
      const seconds = median(mine.map((r) => r.batch.seconds))
      console.log(
        `${format.padEnd(6)} median raw/batch ${ratio.toFixed(2)} (${(options.rows / seconds).toFixed(0)} records/s; raw COPY ${(options.rows / median(mine.map((r) => r.raw.seconds))).toFixed(0)} rows/s), app peak RSS ${toMB(Math.max(...mine.map((r) => r.batch.peakRssBytes)))} MB`,
      )
    }
  } catch (error) {
    if (!interrupted()) printLogTail(appLog)
    throw error
  }
}

function parseOptions(): Options {
  const values = parseFlags({
    rows: { type: 'string' },
    'batch-size': { type: 'string' },
    'in-flight': { type: 'string' },
    formats: { type: 'string' },
    runs: { type: 'string' },
    keep: { type: 'boolean', default: false },
  })
  const batchSize = countFlag('--batch-size', values['batch-size'], 50_000)
  if (batchSize > 1_000_000) throw new UsageError('--batch-size is at most 1000000 (MAX_BATCH_RECORDS)')
  const formats = (values.formats ?? FORMATS.join(',')).split(',') as Format[]
  const unknown = formats.find((f) => !FORMATS.includes(f))
  if (unknown !== undefined) throw new UsageError(`--formats takes ${FORMATS.join(', ')}, not ${JSON.stringify(unknown)}`)
  return {
    rows: countFlag('--rows', values.rows, 2_000_000),
    batchSize,
    formats,
    inFlight: countFlag('--in-flight', values['in-flight'], 2),
    runs: countFlag('--runs', values.runs, 3),
    keep: values.keep === true,
  }
}

const csvField = (value: string) => `"${value.replaceAll('"', '""')}"`

/**
 * The fixture's records as request bodies of `format`, `size` records each (the sequence in a
 * JSON body, else in the query), as bytes: encoding a string body again on every send is the
 * client's work, not the server's.
 */
async function readBatches(file: string, size: number, format: Format): Promise<Batches> {
  const parser = fs.createReadStream(file).pipe(parse({ columns: true }))
  let columns: string[] = []
  const bodies: Uint8Array<ArrayBuffer>[] = []
  let records: Record<string, string>[] = []
  let count = 0
  let bodyBytes = 0
  const flush = () => {
    const text =
      format === 'json'
        ? JSON.stringify({ sequence: bodies.length, records })
        : format === 'ndjson'
          ? records.map((r) => `${JSON.stringify(r)}\n`).join('')
          : `${columns.map(csvField).join(',')}\n${records.map((r) => `${columns.map((c) => csvField(r[c]!)).join(',')}\n`).join('')}`
    const body = new TextEncoder().encode(text)
    bodyBytes += body.length
    bodies.push(body)
    records = []
  }
  for await (const record of parser as AsyncIterable<Record<string, string>>) {
    if (!columns.length) columns = Object.keys(record)
    records.push(record)
    count++
    if (records.length === size) flush()
  }
  if (records.length) flush()
  return { format, columns, bodies, records: count, bodyBytes }
}

/**
 * Opens a session, posts the bodies (`inFlight` at a time, in sequence order), finishes it,
 * and times all of that. Checks the table's rows, then drops the table.
 */
async function measureBatches(app: App, db: pg.Client, batches: Batches, inFlight: number): Promise<BatchRun> {
  await settle(db)
  const pid = app.serverPid
  const cpuBefore = readCpuSeconds(pid)
  const sampler = sampleRss(pid)
  const started = performance.now()
  let session: SessionDto
  try {
    session = (await post(app, '/api/sessions', JSON.stringify({ name: 'bench-batch', columns: batches.columns }))) as SessionDto
    let next = 0
    const sender = async () => {
      while (next < batches.bodies.length) {
        const sequence = next++
        const query = batches.format === 'json' ? '' : `?sequence=${sequence}`
        await post(app, `/api/sessions/${session.id}/batches${query}`, batches.bodies[sequence]!, CONTENT_TYPE[batches.format])
      }
    }
    await Promise.all(Array.from({ length: inFlight }, sender))
    await post(app, `/api/sessions/${session.id}/finish`, JSON.stringify({ totalRecords: batches.records }))
  } finally {
    sampler.stop()
  }
  const seconds = (performance.now() - started) / 1000
  const serverCpuSeconds = readCpuSeconds(pid) - cpuBefore
  const imp = (await (await fetch(`${app.baseUrl}/api/imports/${session.importId}`, { headers: authFor(app.baseUrl) })).json()) as { tableName: string; status: string }
  if (imp.status !== 'PROCESSED') throw new Error(`the session's import is ${imp.status}, not PROCESSED`)
  const table = tableSql(db, imp.tableName)
  const rows = Number((await db.query(`SELECT count(*) AS n FROM ${table}`)).rows[0].n)
  if (rows !== batches.records) throw new Error(`the session's table holds ${rows} rows, ${batches.records} were sent`)
  await db.query(`DROP TABLE ${table}`)
  return { seconds, rows, serverCpuSeconds, peakRssBytes: sampler.peak }
}

async function post(app: App, route: string, body: string | Uint8Array<ArrayBuffer>, type = 'application/json'): Promise<unknown> {
  const res = await fetch(`${app.baseUrl}${route}`, { method: 'POST', headers: { ...authFor(app.baseUrl), 'Content-Type': type }, body })
  const answer = await res.json()
  if (!res.ok) throw new Error(`POST ${route} answered ${res.status}: ${JSON.stringify(answer)}`)
  return answer
}

function printRow(...cells: string[]) {
  const widths = [4, 7, 8, 7, 10, 10, 10, 0]
  console.log(cells.map((c, i) => c.padStart(widths[i] ?? 0)).join('  '))
}

await runBench('bench:batch', USAGE, main)
