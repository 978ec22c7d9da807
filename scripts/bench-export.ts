// npm run bench:export -- [--rows 2000000] [--runs 3] [--keep]
//
// How close does Sluice's export come to the least PostgreSQL can do with the same table? The
// bench starts the real app once as a user does (scripts/start.ts), imports the fixture once
// over tus, and then, run after run, times GET /api/imports/:id/export.csv from the request to
// its last byte and, in the same database, one raw `COPY (SELECT … FROM <the import's table>)
// TO STDOUT (FORMAT csv, HEADER)` read by a plain pg client. It prints both times, their ratio
// (raw/export: 1 would be as fast as raw COPY) and the app's memory and CPU during the export.
// Compare ratios, not times: the times move with the machine and whatever else runs on it.
// Speed is reported, never asserted: the exit code is non-zero only when something went wrong
// (an HTTP error, bytes that differ from the file).
import { createHash, type Hash } from 'node:crypto'
import fs from 'node:fs'
import fsp from 'node:fs/promises'
import http from 'node:http'
import os from 'node:os'
import path from 'node:path'
import type { Readable } from 'node:stream'
import { pipeline } from 'node:stream/promises'
import pg from 'pg'
import { to as copyTo } from 'pg-copy-streams'
import { formatBytes } from '../lib/format'
import { ensureCsv, type Fixture } from './bench/fixture'
import {
  cleanups,
  countFlag,
  interrupted,
  MB,
  median,
  parseFlags,
  printLogTail,
  readAll,
  readCpuSeconds,
  readStatusBytes,
  resetPeakRss,
  runBench,
  sampleRss,
  sleep,
  toMB,
  authFor,
} from './bench/harness'
import { settle, startAppWithDatabase, tableSql, uploadWithTus, waitForImport, type App, type ImportDto } from './bench/imports'

const USAGE = 'usage: npm run bench:export -- [--rows N] [--runs 3] [--keep]'

const DEFAULT_ROWS = 2_000_000
const DEFAULT_RUNS = 3

// The bar for exports (the issue): at least 0.8 of one raw COPY's speed.
const TARGET_RATIO = 0.8

// The export's PostgreSQL backend is looked up and its CPU read this often while it runs; it
// exits with the export, so its figure misses at most this much of the end.
const BACKEND_POLL_MS = 50
// The worker indexes and analyzes the table a second or so after PROCESSED; this only keeps a stuck worker from hanging the bench.
const INDEX_TIMEOUT_MS = 10 * 60_000

type Options = { rows: number; runs: number; keep: boolean }
type ExportRun = {
  seconds: number
  bytes: number
  serverCpuSeconds: number
  postgresCpuSeconds: number | undefined
  clientCpuSeconds: number
  peakRssBytes: number
  hwmBytes: number | undefined
}
type RawRun = { seconds: number; bytes: number; postgresCpuSeconds: number; clientCpuSeconds: number }
type RunResult = { exportFirst: boolean; exp: ExportRun; fetched: ExportRun; raw: RawRun; star: RawRun }
/** How the bench reads the export: node:http, the cheapest client Node has, or fetch(), as most scripts do. */
type Client = 'http' | 'fetch'

async function main() {
  const options = parseOptions()
  const fixture = await ensureCsv({ rows: options.rows })

  const runDir = await fsp.mkdtemp(path.join(os.tmpdir(), 'sluice-bench-export-'))
  if (options.keep) console.log(`Keeping ${runDir} (app log, database, uploads) at the end`)
  else cleanups.push(() => fsp.rm(runDir, { recursive: true, force: true }))
  // mkdtemp makes 0700; as root the embedded PostgreSQL runs as the OS user postgres, which must enter it.
  await fsp.chmod(runDir, 0o755)
  const dataDir = path.join(runDir, 'data')
  const appLog = path.join(runDir, 'app.log')

  try {
    // One app for the whole bench: unlike an import, an export writes nothing that the next
    // run would have to undo, and each run's two sides share the app's process anyway.
    const app = await startAppWithDatabase({ dataDir, logFile: appLog })
    const db = new pg.Client({ connectionString: app.databaseUrl, application_name: 'sluice-bench-export' })
    await db.connect()
    cleanups.push(() => db.end().catch(() => {}))

    console.log(`Importing ${formatBytes(fixture.size)} (${fixture.rows?.toLocaleString('en') ?? 'uncounted'} rows) once…`)
    const imp = await importOnce(app, db, fixture)
    const table = tableSql(db, imp.tableName)

    // The first request to the route loads its module, and the first reads bring the table
    // into memory: that is start-up, not export speed. This untimed export is also the one
    // whose bytes are compared with the file's, hashed as they arrive.
    const [exportHash, fileHash] = await Promise.all([exportThroughApp(app, imp.id, createHash('sha256')), hashFile(fixture.file)])
    checkExportBytes(fixture, exportHash.bytes)
    if (exportHash.sha256 !== fileHash) {
      throw new Error(`the export has the file's size but not its bytes (sha256 ${exportHash.sha256}, the file's ${fileHash})`)
    }
    console.log(`The export is byte-identical to ${path.basename(fixture.file)} (sha256 ${fileHash.slice(0, 16)}…)`)

    console.log(`Exporting ${imp.rowsImported.toLocaleString('en')} rows ${options.runs}× each way`)
    // The order of the two sides alternates between runs. CPU: seconds the app's process (all
    // its threads) and the PostgreSQL backend that ran the COPY spent on each side; steadier
    // than times on a shared machine.
    printRow('run', 'first', 'export s', 'raw s', 'raw/export', 'fetch s', 'raw/fetch', 'raw * s', '*/export', 'export MB/s', 'CPU s app+pg/pg', 'app RSS MB peak (VmHWM)')
    const results: RunResult[] = []
    for (let run = 1; run <= options.runs; run++) {
      const exportFirst = run % 2 === 1
      let exp: ExportRun | undefined
      let fetched: ExportRun | undefined
      let raw: RawRun | undefined
      let star: RawRun | undefined
      for (const side of exportFirst ? ['export', 'raw'] : ['raw', 'export']) {
        await settle(db)
        if (side === 'export') {
          exp = await measureExport(app, db, imp.id, 'http')
          await settle(db)
          fetched = await measureExport(app, db, imp.id, 'fetch')
        } else {
          raw = await measureRawCopy(db, table, imp.columns)
          await settle(db)
          star = await measureRawCopy(db, table, '*')
        }
      }
      checkExportBytes(fixture, exp!.bytes)
      checkExportBytes(fixture, fetched!.bytes)
      // The generator's headers are already the names the app gives the columns, so the raw
      // COPY's HEADER line is the file's too, and both sides send the same number of bytes.
      if (raw!.bytes !== fixture.size) throw new Error(`the raw COPY sent ${raw!.bytes} bytes, the file has ${fixture.size}`)
      results.push({ exportFirst, exp: exp!, fetched: fetched!, raw: raw!, star: star! })
      printRow(
        String(run),
        exportFirst ? 'export' : 'raw',
        exp!.seconds.toFixed(2),
        raw!.seconds.toFixed(2),
        (raw!.seconds / exp!.seconds).toFixed(2),
        fetched!.seconds.toFixed(2),
        (raw!.seconds / fetched!.seconds).toFixed(2),
        star!.seconds.toFixed(2),
        (star!.seconds / exp!.seconds).toFixed(2),
        (fixture.size / MB / exp!.seconds).toFixed(0),
        `${exp!.serverCpuSeconds.toFixed(1)}+${exp!.postgresCpuSeconds?.toFixed(1) ?? '?'}/${raw!.postgresCpuSeconds.toFixed(1)}`,
        toMB(exp!.peakRssBytes) + (exp!.hwmBytes === undefined ? '' : ` (${toMB(exp!.hwmBytes)})`),
      )
    }
    printSummary(results, fixture, imp)
  } catch (error) {
    if (!interrupted()) printLogTail(appLog)
    throw error
  }
}

// ── options ──────────────────────────────────────────────────────────────────────────────

function parseOptions(): Options {
  const values = parseFlags({ rows: { type: 'string' }, runs: { type: 'string' }, keep: { type: 'boolean', default: false } })
  return { rows: countFlag('--rows', values.rows, DEFAULT_ROWS), runs: countFlag('--runs', values.runs, DEFAULT_RUNS), keep: values.keep === true }
}

// ── the import, once ─────────────────────────────────────────────────────────────────────

/**
 * Uploads the file over tus and waits for its import: PROCESSED means ready (its table is
 * stored in file order, its rows written frozen, so no index, ANALYZE or VACUUM comes after),
 * and exports are timed from then on, as a person who exports at once would see them.
 */
async function importOnce(app: App, db: pg.Client, fixture: Fixture): Promise<ImportDto> {
  const started = performance.now()
  const uploadId = await uploadWithTus(app.baseUrl, fixture.file, fixture.size)
  const imp = await waitForImport(app.baseUrl, uploadId)
  if (imp.rowsRejected !== 0) throw new Error(`import ${imp.id} rejected ${imp.rowsRejected} rows of a well-formed file`)
  if (fixture.rows !== undefined && imp.rowsImported !== fixture.rows) {
    throw new Error(`import ${imp.id} holds ${imp.rowsImported} rows, the file ${fixture.rows}`)
  }
  await waitForImportConnections(db, imp)
  console.log(`Imported ${imp.tableName} in ${((performance.now() - started) / 1000).toFixed(1)} s (upload included)`)
  // The upload is not needed any more; the table is.
  await fsp.rm(path.join(app.uploadsDir, uploadId), { force: true })
  await fsp.rm(path.join(app.uploadsDir, `${uploadId}.json`), { force: true })
  return imp
}

/** Polls until the import's connections have closed (a moment after PROCESSED). */
async function waitForImportConnections(db: pg.Client, imp: ImportDto) {
  const deadline = Date.now() + INDEX_TIMEOUT_MS
  for (;;) {
    const { rows } = await db.query<{ working: boolean }>('SELECT EXISTS (SELECT 1 FROM pg_stat_activity WHERE application_name = $1) AS working', [
      `sluice-import:${imp.id}`,
    ])
    if (!rows[0]!.working) return
    if (Date.now() > deadline) throw new Error(`the import's connections were still open ${INDEX_TIMEOUT_MS / 60_000} min after PROCESSED`)
    await sleep(BACKEND_POLL_MS)
  }
}

// ── the export, through the app ──────────────────────────────────────────────────────────

/**
 * One GET of the export, read with node:http (undici's fetch() could not keep up with the
 * app here: the client became the bottleneck); counts the bytes and hashes them when asked.
 * Resolves at the last byte; throws on any status but 200 or a broken response.
 */
function exportThroughApp(app: App, importId: string, hash?: Hash): Promise<{ bytes: number; sha256: string | undefined }> {
  const url = `${app.baseUrl}/api/imports/${importId}/export.csv`
  return new Promise((resolve, reject) => {
    const req = http.get(url, { headers: authFor(url) }, (res) => {
      if (res.statusCode !== 200) {
        void readAll(res).then((body) => reject(new Error(`GET ${url} answered ${res.statusCode} ${body.trim().slice(0, 500)}`)), reject)
        return
      }
      let bytes = 0
      res.on('data', (chunk: Buffer) => {
        bytes += chunk.length
        hash?.update(chunk)
      })
      res.on('end', () => resolve({ bytes, sha256: hash?.digest('hex') }))
      res.on('error', (error) => reject(new Error(`GET ${url} broke off after ${bytes} bytes: ${error.message}`)))
      // The app cut the response short (an error after the first byte): no 'end', maybe no 'error'.
      res.on('close', () => res.complete || reject(new Error(`GET ${url} broke off after ${bytes} bytes`)))
    })
    req.on('error', (error) => reject(new Error(`GET ${url} failed: ${error.message}`)))
  })
}

/** One GET of the export read with fetch(), chunk by chunk from its body stream; resolves at the last byte with the bytes counted. */
async function exportThroughFetch(app: App, importId: string): Promise<{ bytes: number }> {
  const url = `${app.baseUrl}/api/imports/${importId}/export.csv`
  const res = await fetch(url, { headers: authFor(url) })
  if (res.status !== 200 || !res.body) throw new Error(`GET ${url} answered ${res.status} ${(await res.text()).trim().slice(0, 500)}`)
  let bytes = 0
  const reader = res.body.getReader()
  for (let read = await reader.read(); !read.done; read = await reader.read()) bytes += read.value.length
  return { bytes }
}

/**
 * Times one export from the request to its last byte, with the app's CPU and memory over
 * that time and the CPU of the PostgreSQL backend that the app opens for it (found by the
 * connection's name, lib/exports/export-stream.ts).
 */
async function measureExport(app: App, db: pg.Client, importId: string, client: Client): Promise<ExportRun> {
  const pid = app.serverPid
  // A backend of an earlier export of the same import may linger a moment after its last byte.
  const since = (await db.query<{ t: Date }>('SELECT clock_timestamp() AS t')).rows[0]!.t
  const hwmIsPerRun = resetPeakRss(pid)
  const sampler = sampleRss(pid)
  const backend = { pid: undefined as number | undefined, cpuSeconds: undefined as number | undefined }
  let exporting = true
  const follow = (async () => {
    while (exporting) {
      await followBackend(db, `sluice-export-stream:${importId}`, since, backend)
      await sleep(BACKEND_POLL_MS)
    }
  })()
  const cpuBefore = readCpuSeconds(pid)
  const clientCpuBefore = process.cpuUsage()
  const started = performance.now()
  let bytes: number
  try {
    ;({ bytes } = client === 'http' ? await exportThroughApp(app, importId) : await exportThroughFetch(app, importId))
  } finally {
    exporting = false
    sampler.stop()
  }
  const seconds = (performance.now() - started) / 1000
  const clientCpuSeconds = cpuSecondsSince(clientCpuBefore)
  const serverCpuSeconds = readCpuSeconds(pid) - cpuBefore
  // One last reading, in case the backend has not exited yet.
  if (backend.pid !== undefined) backend.cpuSeconds = readCpuSeconds(backend.pid) || backend.cpuSeconds
  await follow
  return {
    seconds,
    bytes,
    serverCpuSeconds,
    postgresCpuSeconds: backend.cpuSeconds,
    clientCpuSeconds,
    peakRssBytes: sampler.peak,
    hwmBytes: hwmIsPerRun ? readStatusBytes(pid, 'VmHWM') : undefined,
  }
}

/** Finds the backend by its connection's name (started after `since`), then reads its CPU; the backend exits with the export. */
async function followBackend(db: pg.Client, name: string, since: Date, backend: { pid: number | undefined; cpuSeconds: number | undefined }) {
  if (backend.pid === undefined) {
    const { rows } = await db.query<{ pid: number }>('SELECT pid FROM pg_stat_activity WHERE application_name = $1 AND backend_start >= $2', [name, since])
    backend.pid = rows[0]?.pid
  }
  if (backend.pid !== undefined) backend.cpuSeconds = readCpuSeconds(backend.pid) || backend.cpuSeconds
}

// ── the raw baseline ─────────────────────────────────────────────────────────────────────

/**
 * One `COPY (SELECT <the file's columns> FROM <the import's table>) TO STDOUT (FORMAT csv,
 * HEADER)` on the bench's own connection, read through pg-copy-streams and discarded. The
 * issue says `SELECT *`; the table also holds the app's row numbers (_sluice_row), which `*`
 * would add to every line, so the baseline names the file's columns and sends exactly the
 * export's bytes. It has no ORDER BY: the rows come in the order the table stores them, the
 * least PostgreSQL can do, where the export reads them in file order through the row index.
 * The issue's literal `SELECT *` is timed as well (column "raw *"), for the record.
 */
async function measureRawCopy(db: pg.Client, table: string, columns: ImportDto['columns'] | '*'): Promise<RawRun> {
  const list = columns === '*' ? '*' : columns.map((c) => db.escapeIdentifier(c.name)).join(', ')
  const backendPid = (await db.query<{ pid: number }>('SELECT pg_backend_pid() AS pid')).rows[0]!.pid
  const cpuBefore = readCpuSeconds(backendPid)
  const clientCpuBefore = process.cpuUsage()
  const started = performance.now()
  const bytes = await countBytes(db.query(copyTo(`COPY (SELECT ${list} FROM ${table}) TO STDOUT (FORMAT csv, HEADER)`)))
  const seconds = (performance.now() - started) / 1000
  return { seconds, bytes, postgresCpuSeconds: readCpuSeconds(backendPid) - cpuBefore, clientCpuSeconds: cpuSecondsSince(clientCpuBefore) }
}

/** Reads a stream to its end the way the export's response is read ('data' events), counting bytes. */
function countBytes(stream: Readable): Promise<number> {
  return new Promise((resolve, reject) => {
    let bytes = 0
    stream.on('data', (chunk: Buffer) => (bytes += chunk.length))
    stream.on('end', () => resolve(bytes))
    stream.on('error', reject)
  })
}

// ── checks and small helpers ─────────────────────────────────────────────────────────────

/** The export is the file's header and rows, exactly as written: the same number of bytes. */
function checkExportBytes(fixture: Fixture, bytes: number) {
  if (bytes !== fixture.size) throw new Error(`the export sent ${bytes} bytes, the file has ${fixture.size}`)
}

async function hashFile(file: string): Promise<string> {
  const hash = createHash('sha256')
  await pipeline(fs.createReadStream(file), hash)
  return hash.digest('hex')
}

function cpuSecondsSince(before: NodeJS.CpuUsage): number {
  const { user, system } = process.cpuUsage(before)
  return (user + system) / 1e6
}

// ── output ───────────────────────────────────────────────────────────────────────────────

function printSummary(results: RunResult[], fixture: Fixture, imp: ImportDto) {
  const ratio = median(results.map((r) => r.raw.seconds / r.exp.seconds))
  const exportSeconds = median(results.map((r) => r.exp.seconds))
  const rawSeconds = median(results.map((r) => r.raw.seconds))
  const appCpu = median(results.map((r) => r.exp.serverCpuSeconds))
  const exportPgCpus = results.flatMap((r) => (r.exp.postgresCpuSeconds === undefined ? [] : [r.exp.postgresCpuSeconds]))
  const rawPgCpu = median(results.map((r) => r.raw.postgresCpuSeconds))
  const clientCpu = (side: 'exp' | 'fetched' | 'raw') => median(results.map((r) => r[side].clientCpuSeconds))
  const fetchRatio = median(results.map((r) => r.raw.seconds / r.fetched.seconds))
  const fetchAllCpu = median(results.map((r) => r.fetched.serverCpuSeconds + (r.fetched.postgresCpuSeconds ?? 0) + r.fetched.clientCpuSeconds))
  // Every process that handles the bytes, per side: on a machine with fewer idle cores than
  // that chain has processes, the times follow these sums rather than the slowest process.
  const exportAllCpu = median(results.map((r) => r.exp.serverCpuSeconds + (r.exp.postgresCpuSeconds ?? 0) + r.exp.clientCpuSeconds))
  const rawAllCpu = median(results.map((r) => r.raw.postgresCpuSeconds + r.raw.clientCpuSeconds))
  const peak = Math.max(...results.map((r) => Math.max(r.exp.peakRssBytes, r.exp.hwmBytes ?? 0)))
  console.log(`
file:              ${fixture.file}, ${formatBytes(fixture.size)}, ${imp.rowsImported.toLocaleString('en')} rows in ${imp.tableName}
checked:           every export and raw COPY sent ${fixture.size.toLocaleString('en')} bytes; the first export is byte-identical to the file (sha256)
median times:      export ${exportSeconds.toFixed(2)} s (${(fixture.size / MB / exportSeconds).toFixed(0)} MB/s), raw COPY ${rawSeconds.toFixed(2)} s (${(fixture.size / MB / rawSeconds).toFixed(0)} MB/s)
median raw/export: ${ratio.toFixed(2)}  (target ≥ ${TARGET_RATIO}: ${ratio >= TARGET_RATIO ? 'ok' : 'MISSED'})
read with fetch(): ${fetchRatio.toFixed(2)}  (raw/export when the client reads the export with fetch(), as most Node scripts do; the raw side is read with pg-copy-streams either way)
with SELECT *:     ${median(results.map((r) => r.star.seconds / r.exp.seconds)).toFixed(2)}  (the raw side also sends _sluice_row: ${median(results.map((r) => r.star.bytes)).toLocaleString('en')} bytes)
CPU (medians):     export: app ${appCpu.toFixed(1)} s + its PostgreSQL backend ${exportPgCpus.length ? `${median(exportPgCpus).toFixed(1)} s` : 'unread'}; raw COPY: backend ${rawPgCpu.toFixed(1)} s
bench client CPU:  ${clientCpu('exp').toFixed(1)} s reading the export with node:http, ${clientCpu('fetched').toFixed(1)} s with fetch(), ${clientCpu('raw').toFixed(1)} s reading the raw COPY (medians)
CPU summed:        export ${exportAllCpu.toFixed(1)} s (backend → app → client), raw COPY ${rawAllCpu.toFixed(1)} s (backend → client); raw/export ${(rawAllCpu / exportAllCpu).toFixed(2)}; export read with fetch() ${fetchAllCpu.toFixed(1)} s (medians; ${os.availableParallelism()} cores here)
app peak RSS:      ${toMB(peak)} MB during the exports`)
}

function printRow(...cells: string[]) {
  const widths = [4, 6, 9, 7, 11, 8, 10, 8, 9, 12, 16, 0]
  console.log(cells.map((c, i) => c.padStart(widths[i] ?? 0)).join('  '))
}

await runBench('bench:export', USAGE, main)
