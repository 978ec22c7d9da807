// npm run bench:batch -- [--rows 500000] [--batch-size 5000] [--in-flight 1] [--runs 3] [--keep]
//
// How close does the batch API come to loading the same records with one raw COPY? The
// generated CSV is parsed into records and cut into JSON request bodies before the clock
// starts (the client's own work is not the server's speed). One run starts the real app as
// a user does, opens a session, posts every batch (with its sequence, `--in-flight` at a
// time), finishes the session, and times that from the session's opening to the finish's
// answer. In the same database it loads the CSV file with one raw
// `COPY … FROM STDIN (FORMAT csv, HEADER)`. It prints both times and their ratio (raw/batch:
// 1 would be as fast as raw COPY). Speed is reported, never asserted: the exit code is
// non-zero only when something went wrong (a refused batch, a wrong row count).
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

const USAGE = 'usage: npm run bench:batch -- [--rows N] [--batch-size 5000] [--in-flight 1] [--runs 3] [--keep]'

type Options = { rows: number; batchSize: number; inFlight: number; runs: number; keep: boolean }
type Batches = { columns: string[]; bodies: string[]; records: number; jsonBytes: number }
type BatchRun = { seconds: number; rows: number; serverCpuSeconds: number; peakRssBytes: number }

async function main() {
  const options = parseOptions()
  const fixture = await ensureCsv({ rows: options.rows })
  const batches = await readBatches(fixture.file, options.batchSize)
  if (batches.records !== options.rows) throw new Error(`the fixture holds ${batches.records} records, not ${options.rows}`)

  const runDir = await fsp.mkdtemp(path.join(os.tmpdir(), 'sluice-bench-batch-'))
  if (options.keep) console.log(`Keeping ${runDir} (app log, database) at the end`)
  else cleanups.push(() => fsp.rm(runDir, { recursive: true, force: true }))
  await fsp.chmod(runDir, 0o755) // the embedded PostgreSQL runs as the OS user postgres under root
  const appLog = path.join(runDir, 'app.log')
  console.log(
    `Sending ${options.rows.toLocaleString('en')} records in ${batches.bodies.length} batches of ${options.batchSize} ` +
      `(${(batches.jsonBytes / MB).toFixed(0)} MB of JSON, ${options.inFlight} in flight) ${options.runs}× against a raw COPY of ${fixture.file}`,
  )
  try {
    printRow('run', 'first', 'batch s', 'raw s', 'raw/batch', 'records/s', 'app CPU s', 'app peak RSS MB')
    const results: Array<{ batch: BatchRun; raw: RawRun }> = []
    for (let run = 1; run <= options.runs; run++) {
      // Batches are parsed whole, so the limit must admit the largest body.
      const app = await startAppWithDatabase({
        dataDir: path.join(runDir, 'data'),
        logFile: appLog,
        env: { MAX_BATCH_RECORDS: String(options.batchSize), MAX_BATCH_BYTES: String(Math.max(16 * 2 ** 20, ...batches.bodies.map((b) => Buffer.byteLength(b)))) },
      })
      const db = new pg.Client({ connectionString: app.databaseUrl, application_name: 'sluice-bench-batch' })
      await db.connect()
      try {
        // Loads the routes, Prisma's queries and the COPY path: start-up, not speed.
        await measureBatches(app, db, { ...batches, bodies: batches.bodies.slice(0, 2), records: Math.min(batches.records, 2 * options.batchSize) }, 1)
        const batchFirst = run % 2 === 1
        let batch: BatchRun | undefined
        let raw: RawRun | undefined
        for (const side of batchFirst ? ['batch', 'raw'] : ['raw', 'batch']) {
          if (side === 'batch') batch = await measureBatches(app, db, batches, options.inFlight)
          else raw = await measureRawCopy(db, fixture.file)
        }
        if (raw!.rows !== options.rows) throw new Error(`the raw COPY loaded ${raw!.rows} rows, the file holds ${options.rows}`)
        results.push({ batch: batch!, raw: raw! })
        printRow(
          String(run),
          batchFirst ? 'batch' : 'raw',
          batch!.seconds.toFixed(2),
          raw!.seconds.toFixed(2),
          (raw!.seconds / batch!.seconds).toFixed(2),
          (batch!.rows / batch!.seconds).toFixed(0),
          batch!.serverCpuSeconds.toFixed(1),
          toMB(batch!.peakRssBytes),
        )
      } finally {
        await db.end().catch(() => {})
        await app.stop()
      }
    }
    const ratio = median(results.map((r) => r.raw.seconds / r.batch.seconds))
    const seconds = median(results.map((r) => r.batch.seconds))
    console.log(`
median raw/batch: ${ratio.toFixed(2)}  (batch API ${(options.rows / seconds).toFixed(0)} records/s, raw COPY ${(options.rows / median(results.map((r) => r.raw.seconds))).toFixed(0)} rows/s)
app peak RSS:     ${toMB(Math.max(...results.map((r) => r.batch.peakRssBytes)))} MB`)
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
    runs: { type: 'string' },
    keep: { type: 'boolean', default: false },
  })
  const batchSize = countFlag('--batch-size', values['batch-size'], 5000)
  if (batchSize > 1_000_000) throw new UsageError('--batch-size is at most 1000000 (MAX_BATCH_RECORDS)')
  return {
    rows: countFlag('--rows', values.rows, 500_000),
    batchSize,
    inFlight: countFlag('--in-flight', values['in-flight'], 1),
    runs: countFlag('--runs', values.runs, 3),
    keep: values.keep === true,
  }
}

/** The fixture's records as JSON request bodies of `size` records each, with their sequence. */
async function readBatches(file: string, size: number): Promise<Batches> {
  const parser = fs.createReadStream(file).pipe(parse({ columns: true }))
  let columns: string[] = []
  const bodies: string[] = []
  let records: Record<string, string>[] = []
  let count = 0
  let jsonBytes = 0
  const flush = () => {
    const body = JSON.stringify({ sequence: bodies.length, records })
    jsonBytes += Buffer.byteLength(body)
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
  return { columns, bodies, records: count, jsonBytes }
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
      while (next < batches.bodies.length) await post(app, `/api/sessions/${session.id}/batches`, batches.bodies[next++]!)
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

async function post(app: App, route: string, body: string): Promise<unknown> {
  const res = await fetch(`${app.baseUrl}${route}`, { method: 'POST', headers: { ...authFor(app.baseUrl), 'Content-Type': 'application/json' }, body })
  const answer = await res.json()
  if (!res.ok) throw new Error(`POST ${route} answered ${res.status}: ${JSON.stringify(answer)}`)
  return answer
}

function printRow(...cells: string[]) {
  const widths = [4, 6, 8, 7, 10, 10, 10, 0]
  console.log(cells.map((c, i) => c.padStart(widths[i] ?? 0)).join('  '))
}

await runBench('bench:batch', USAGE, main)
