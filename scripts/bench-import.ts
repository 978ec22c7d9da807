// npm run bench:import -- [--rows 2000000 | --size 1GiB] [--runs 3] [--batch-bytes 16MiB] [--iso-only] [--keep]
//
// How close does Sluice's import come to the least PostgreSQL can do with the same file? One
// run starts the real app as a user does (scripts/start.ts), fresh for each run, uploads the
// file over tus twice: in one POST (creation-with-upload), so that the import starts with the
// whole file on disk, and timed as the server recorded it (started → PROCESSED); then as a
// browser does (creation, then a PATCH: the import starts with the upload and reads the bytes
// as they land), timed from the upload's first byte to PROCESSED, and after the last byte. In
// the same run and the same database it loads the same file with one raw
// `COPY … FROM STDIN (FORMAT csv, HEADER)` into a table of the column types the import
// detected (so both sides parse the same dates, timestamps and numbers).
// It prints both times, their ratio (raw/import: 1 would be as fast as raw COPY) and the
// app's memory and CPU during the import. Unless --iso-only, each run also imports the same
// rows written as a European spreadsheet writes them (semicolons, decimal commas with dots for
// thousands, D.M.Y dates), on disk, against the same raw COPY of the ISO file: the difference
// between the two ratios is what reading those conventions costs. Compare ratios, not times: the times move with the
// machine and whatever else runs on it. Speed is reported, never asserted: the exit code is
// non-zero only when something went wrong (an import that fails, a wrong row count).
import fsp from 'node:fs/promises'
import os from 'node:os'
import path from 'node:path'
import pg from 'pg'
import { generateCsv } from '../lib/csv/generate'
import { formatBytes, parseSize } from '../lib/format'
import { ensureCsv, type Fixture, type Source } from './bench/fixture'
import {
  cleanups,
  countFlag,
  interrupted,
  MB,
  median,
  parseFlags,
  printLogTail,
  readCpuSeconds,
  readFileOrEmpty,
  readStatusBytes,
  resetPeakRss,
  runBench,
  sampleRss,
  toMB,
  UsageError,
} from './bench/harness'
import { measureRawCopy, settle, startAppWithDatabase, tableSql, uploadInCreation, uploadWithTus, waitForImport, type App, type ImportDto, type RawRun } from './bench/imports'

const USAGE = 'usage: npm run bench:import -- [--rows N | --size <bytes, e.g. 1GiB>] [--runs 3] [--batch-bytes <bytes, e.g. 16MiB>] [--iso-only] [--keep]'

const DEFAULT_ROWS = 2_000_000
const DEFAULT_RUNS = 3

// The bar for imports (issue 14): 1.3 times one raw COPY's speed on two cores, loading on
// IMPORT_PARALLELISM connections; from the upload's first byte to PROCESSED no slower than one
// raw COPY of the file already on disk; for a 1 GiB file the server's peak memory at most
// 64 MB above what it held idle before the upload.
const TARGET_RATIO = 1.3
const TARGET_END_TO_END_RATIO = 1.0
const TARGET_RSS_GROWTH_MB = 64

type Options = { source: Source; runs: number; batchBytes: number | undefined; isoOnly: boolean; keep: boolean }
type ImportRun = {
  /** The import as the server recorded it, from its start to PROCESSED. */
  seconds: number
  /** From the upload's first byte to PROCESSED, as a user waits. */
  endToEndSeconds: number
  /** From the PATCH's answer (the last byte is in) to PROCESSED. */
  afterUploadSeconds: number
  idleRssBytes: number
  rows: number
  uploadSeconds: number
  serverCpuSeconds: number
  postgresCpuSeconds: number
  peakRssBytes: number
  uploadPeakRssBytes: number
  hwmBytes: number | undefined
  dirtyBytes: number
  /** The types the import gave the file's columns: the raw COPY loads a table of the same. */
  types: string[]
}
type RunResult = { importFirst: boolean; imp: ImportRun; onDisk: ImportRun; raw: RawRun; european: ImportRun | undefined }
/** How the file reaches the import: as it is uploaded (creation, then a PATCH), or already whole on disk (creation-with-upload). */
type Arrival = 'following' | 'on disk'

// Undone in reverse order at the end, on failure and on Ctrl-C alike.

async function main() {
  const options = parseOptions()
  const fixture = await ensureCsv(options.source)
  // The same rows (the generator's count of the ISO file) in European form; none for a file whose rows were not counted.
  const europeanFixture = options.isoOnly || fixture.rows === undefined ? undefined : await ensureCsv({ rows: fixture.rows }, 'european')

  const runDir = await fsp.mkdtemp(path.join(os.tmpdir(), 'sluice-bench-import-'))
  if (options.keep) console.log(`Keeping ${runDir} (app log, database, uploads) at the end`)
  else cleanups.push(() => fsp.rm(runDir, { recursive: true, force: true }))
  // mkdtemp makes 0700; as root the embedded PostgreSQL runs as the OS user postgres, which must enter it.
  await fsp.chmod(runDir, 0o755)
  const dataDir = path.join(runDir, 'data')
  const appLog = path.join(runDir, 'app.log')
  const warmup = path.join(runDir, 'warmup.csv')
  await generateCsv({ out: warmup, rows: 1000 })

  try {
    console.log(
      `Importing ${formatBytes(fixture.size)} (${fixture.rows?.toLocaleString('en') ?? 'uncounted'} rows) ${options.runs}× each way; ` +
        `IMPORT_BATCH_BYTES ${options.batchBytes === undefined ? "the app's default" : `${formatBytes(options.batchBytes)} (${options.batchBytes})`}`,
    )
    // Each run starts a fresh app (one DATA_DIR, so one initdb for the whole bench): the
    // same code has run at two speeds in different server processes (bench-upload.ts), so one
    // process's figure would mislead. The order of the two sides alternates between runs.
    // CPU: seconds the app's process (all its threads) and the PostgreSQL backend that ran
    // the COPY spent on each side; steadier than times on a shared machine.
    printRow('run', 'first', 'import s', 'raw s', 'raw/import', 'byte 1→done s', 'raw/that', 'after last s', 'upload MB/s', 'CPU s app+pg/pg', 'server RSS MB idle→peak (VmHWM)')
    const results: RunResult[] = []
    for (let run = 1; run <= options.runs; run++) {
      const app = await startImportApp({ dataDir, logFile: appLog, batchBytes: options.batchBytes })
      const db = new pg.Client({ connectionString: app.databaseUrl, application_name: 'sluice-bench-import' })
      await db.connect()
      try {
        // The first upload and import load their routes, Prisma's queries and the worker's
        // code paths; that is start-up, not import speed.
        const { types } = await measureImport(app, db, warmup, 'following')
        if (run === 1) {
          console.log(`Column types (the import's, given to the raw COPY's table too): ${types.join(', ')}`)
          // The import creates each batch's table in the transaction that fills it: at wal_level
          // minimal (the embedded PostgreSQL's) that COPY writes no WAL; the raw COPY, into a
          // table that exists already, as psql's \copy would, writes it at any level.
          console.log(`PostgreSQL:       wal_level ${(await db.query<{ wal_level: string }>('SHOW wal_level')).rows[0]!.wal_level}`)
        }
        const importFirst = run % 2 === 1
        let imp: ImportRun | undefined
        let onDisk: ImportRun | undefined
        let raw: RawRun | undefined
        let european: ImportRun | undefined
        for (const side of importFirst ? ['import', 'raw'] : ['raw', 'import']) {
          if (side === 'import') {
            onDisk = await measureImport(app, db, fixture.file, 'on disk')
            imp = await measureImport(app, db, fixture.file, 'following')
            if (europeanFixture) european = await measureImport(app, db, europeanFixture.file, 'on disk')
          } else raw = await measureRawCopy(db, fixture.file, types)
        }
        verifyRows(fixture, imp!, raw!)
        verifyRows(fixture, onDisk!, raw!)
        if (european) {
          verifyRows(fixture, european, raw!)
          // The same rows must get the same types, or the conventions were not read.
          if (european.types.join() !== onDisk!.types.join()) throw new Error(`the European file's columns are ${european.types.join(', ')}, the ISO file's ${onDisk!.types.join(', ')}`)
        }
        results.push({ importFirst, imp: imp!, onDisk: onDisk!, raw: raw!, european })
        printRow(
          String(run),
          importFirst ? 'import' : 'raw',
          onDisk!.seconds.toFixed(2),
          raw!.seconds.toFixed(2),
          (raw!.seconds / onDisk!.seconds).toFixed(2),
          imp!.endToEndSeconds.toFixed(2),
          (raw!.seconds / imp!.endToEndSeconds).toFixed(2),
          imp!.afterUploadSeconds.toFixed(2),
          (fixture.size / MB / imp!.uploadSeconds).toFixed(0),
          `${onDisk!.serverCpuSeconds.toFixed(1)}+${onDisk!.postgresCpuSeconds.toFixed(1)}/${raw!.postgresCpuSeconds.toFixed(1)}`,
          `${toMB(imp!.idleRssBytes)}→${toMB(Math.max(imp!.peakRssBytes, imp!.uploadPeakRssBytes))}` + (imp!.hwmBytes === undefined ? '' : ` (${toMB(imp!.hwmBytes)})`),
        )
        if (european) console.log(`      European file: import ${european.seconds.toFixed(2)} s, raw/import ${(raw!.seconds / european.seconds).toFixed(2)}`)
      } finally {
        await db.end().catch(() => {})
        await app.stop()
      }
    }
    printSummary(results, fixture, options)
  } catch (error) {
    if (!interrupted()) printLogTail(appLog)
    throw error
  }
}

// ── options ──────────────────────────────────────────────────────────────────────────────

function parseOptions(): Options {
  const values = parseFlags({
    rows: { type: 'string' },
    size: { type: 'string' },
    runs: { type: 'string' },
    'batch-bytes': { type: 'string' },
    'iso-only': { type: 'boolean', default: false },
    keep: { type: 'boolean', default: false },
  })
  if (values.rows !== undefined && values.size !== undefined) throw new UsageError('give --rows or --size, not both')
  const runs = countFlag('--runs', values.runs, DEFAULT_RUNS)
  let source: Source = { rows: DEFAULT_ROWS }
  if (values.size !== undefined) source = { bytes: parseSizeFlag('--size', values.size) }
  if (values.rows !== undefined) source = { rows: countFlag('--rows', values.rows, DEFAULT_ROWS) }
  // The app checks the range (IMPORT_BATCH_BYTES in lib/config.ts) and refuses to start outside it.
  const batchBytes = values['batch-bytes'] === undefined ? undefined : parseSizeFlag('--batch-bytes', values['batch-bytes'])
  return { source, runs, batchBytes, isoOnly: values['iso-only'] === true, keep: values.keep === true }
}

function parseSizeFlag(flag: string, text: string): number {
  let bytes: number
  try {
    bytes = parseSize(text)
  } catch (error) {
    throw new UsageError(`${flag}: ${(error as Error).message}`)
  }
  if (bytes < 1) throw new UsageError(`${flag} must be at least 1 byte`)
  return bytes
}

// ── the app ──────────────────────────────────────────────────────────────────────────────

/** The app with the import batch size asked for, and the URL of its embedded PostgreSQL. */
function startImportApp(opts: { dataDir: string; logFile: string; batchBytes: number | undefined }): Promise<App> {
  return startAppWithDatabase({
    dataDir: opts.dataDir,
    logFile: opts.logFile,
    env: { IMPORT_BATCH_BYTES: opts.batchBytes === undefined ? undefined : String(opts.batchBytes) },
  })
}

/** Bytes in the page cache still waiting to be written to disk (/proc/meminfo Dirty). */
function readDirtyBytes(): number {
  const kib = /^Dirty:\s+(\d+) kB$/m.exec(readFileOrEmpty('/proc/meminfo'))?.[1]
  return kib === undefined ? 0 : Number(kib) * 1024
}

// ── the import, through the app ──────────────────────────────────────────────────────────

/**
 * Uploads the file with two tus requests (creation, which starts the import, then one PATCH
 * with the whole file) and times it: the import as the server recorded it, the whole way from
 * the creation to PROCESSED, and the part after the PATCH's answer. Checks the rows, then
 * drops the import's table and removes the uploaded file, so the next side starts from the
 * same database and disk.
 */
async function measureImport(app: App, db: pg.Client, file: string, arrival: Arrival): Promise<ImportRun> {
  const size = (await fsp.stat(file)).size
  await settle(db)
  const pid = app.serverPid
  const hwmIsPerRun = resetPeakRss(pid)
  const idleRssBytes = readStatusBytes(pid, 'VmRSS') ?? 0
  const uploadSampler = sampleRss(pid)
  // Wall-clock times, as the server's startedAt and finishedAt (same machine, same clock).
  const uploadStarted = Date.now()
  let uploadId: string
  try {
    uploadId = arrival === 'following' ? await uploadWithTus(app.baseUrl, file, size) : await uploadInCreation(app.baseUrl, file, size)
  } finally {
    uploadSampler.stop()
  }

  // The clock starts with the PATCH's answer: the upload has finished, the import is queued.
  const started = Date.now()
  const cpuBefore = readCpuSeconds(pid)
  // The upload's own bytes are still on their way to the disk while the import runs.
  const dirtyBytes = readDirtyBytes()
  const sampler = sampleRss(pid)
  let done: ImportDto
  const backend = { pid: undefined as number | undefined, cpuSeconds: 0 }
  try {
    done = await waitForImport(app.baseUrl, uploadId, (imp) => followBackend(db, imp, backend))
  } finally {
    sampler.stop()
  }
  const ended = Date.parse(done.finishedAt!)
  const serverCpuSeconds = readCpuSeconds(pid) - cpuBefore
  const hwmBytes = hwmIsPerRun ? readStatusBytes(pid, 'VmHWM') : undefined

  if (done.rowsRejected !== 0) throw new Error(`import ${done.id} rejected ${done.rowsRejected} rows of a well-formed file`)
  const table = tableSql(db, done.tableName)
  const counted = Number((await db.query(`SELECT count(*) AS n FROM ${table}`)).rows[0].n)
  if (counted !== done.rowsImported) {
    throw new Error(`import ${done.id} reports ${done.rowsImported} rows, but ${done.tableName} holds ${counted}`)
  }
  await db.query(`DROP TABLE ${table}`)
  await fsp.rm(path.join(app.uploadsDir, uploadId), { force: true })
  await fsp.rm(path.join(app.uploadsDir, `${uploadId}.json`), { force: true })
  return {
    seconds: (Date.parse(done.finishedAt!) - Date.parse(done.startedAt!)) / 1000,
    endToEndSeconds: (ended - uploadStarted) / 1000,
    afterUploadSeconds: (ended - started) / 1000,
    idleRssBytes,
    rows: counted,
    uploadSeconds: (started - uploadStarted) / 1000,
    serverCpuSeconds,
    postgresCpuSeconds: backend.cpuSeconds,
    peakRssBytes: sampler.peak,
    uploadPeakRssBytes: uploadSampler.peak,
    hwmBytes,
    dirtyBytes,
    types: done.columns.map((c) => c.type),
  }
}

/**
 * The CPU of the PostgreSQL backend that runs the import: the worker opens a connection of
 * its own per run, named after the import (lib/imports/import-connection.ts). Read at every
 * poll, since the backend exits with the import; so it misses at most one poll's worth.
 */
async function followBackend(db: pg.Client, imp: ImportDto, backend: { pid: number | undefined; cpuSeconds: number }) {
  if (imp.status !== 'PROCESSING') return
  if (backend.pid === undefined) {
    const { rows } = await db.query<{ pid: number }>('SELECT pid FROM pg_stat_activity WHERE application_name = $1', [`sluice-import:${imp.id}`])
    backend.pid = rows[0]?.pid
  }
  if (backend.pid !== undefined) backend.cpuSeconds = readCpuSeconds(backend.pid) || backend.cpuSeconds
}

/** The import, the raw COPY and the generator (when it counted) must agree on the rows. */
function verifyRows(fixture: Fixture, imp: ImportRun, raw: RawRun) {
  const expected = fixture.rows ?? raw.rows
  if (raw.rows !== expected) throw new Error(`the raw COPY loaded ${raw.rows} rows, the file holds ${expected}`)
  if (imp.rows !== expected) throw new Error(`the import loaded ${imp.rows} rows, the file holds ${expected}`)
}

// ── output ───────────────────────────────────────────────────────────────────────────────

function printSummary(results: RunResult[], fixture: Fixture, options: Options) {
  const ratio = median(results.map((r) => r.raw.seconds / r.onDisk.seconds))
  const endToEndRatio = median(results.map((r) => r.raw.seconds / r.imp.endToEndSeconds))
  const afterUpload = median(results.map((r) => r.imp.afterUploadSeconds))
  const growth = Math.max(...results.map((r) => Math.max(r.imp.peakRssBytes, r.imp.uploadPeakRssBytes, r.imp.hwmBytes ?? 0) - r.imp.idleRssBytes))
  const importSeconds = median(results.map((r) => r.onDisk.seconds))
  const rawSeconds = median(results.map((r) => r.raw.seconds))
  const cpu = median(results.map((r) => r.onDisk.serverCpuSeconds))
  const importPgCpu = median(results.map((r) => r.onDisk.postgresCpuSeconds))
  const rawPgCpu = median(results.map((r) => r.raw.postgresCpuSeconds))
  const importPeak = Math.max(...results.map((r) => r.imp.peakRssBytes))
  const uploadPeak = Math.max(...results.map((r) => r.imp.uploadPeakRssBytes))
  const hwm = Math.max(...results.map((r) => r.imp.hwmBytes ?? 0))
  const dirty = Math.max(...results.map((r) => r.imp.dirtyBytes))
  const rows = results[0]!.raw.rows
  const verdict = (ok: boolean) => (ok ? 'ok' : 'MISSED')
  const batch = options.batchBytes === undefined ? "app's default" : formatBytes(options.batchBytes)
  console.log(`
file:             ${fixture.file}, ${formatBytes(fixture.size)}, ${rows.toLocaleString('en')} rows (import, raw COPY${fixture.rows === undefined ? '' : ' and generator'} agree)
batch size:       IMPORT_BATCH_BYTES ${batch}, IMPORT_PARALLELISM ${process.env.IMPORT_PARALLELISM ?? `the app's default (${os.availableParallelism()} cores)`}
median times:     import ${importSeconds.toFixed(2)} s (${(fixture.size / MB / importSeconds).toFixed(0)} MB/s), raw COPY ${rawSeconds.toFixed(2)} s (${(fixture.size / MB / rawSeconds).toFixed(0)} MB/s)
median raw/import: ${ratio.toFixed(2)}  (the file whole on the server's disk, as the server recorded the import; target ≥ ${TARGET_RATIO}: ${verdict(ratio >= TARGET_RATIO)})
median raw/(first byte → PROCESSED): ${endToEndRatio.toFixed(2)}  (target ≥ ${TARGET_END_TO_END_RATIO}: ${verdict(endToEndRatio >= TARGET_END_TO_END_RATIO)}); PROCESSED ${afterUpload.toFixed(2)} s after the last byte
CPU (medians):    import: app ${cpu.toFixed(1)} s + its first PostgreSQL connection ${importPgCpu.toFixed(1)} s; raw COPY: backend ${rawPgCpu.toFixed(1)} s
server peak RSS:  ${toMB(importPeak)} MB during the import, ${toMB(uploadPeak)} MB during the upload, VmHWM ${hwm ? `${toMB(hwm)} MB` : 'unavailable'}; at most ${toMB(growth)} MB above idle  (target ≤ ${TARGET_RSS_GROWTH_MB} MB${fixture.size >= 2 ** 30 ? `: ${verdict(growth / MB <= TARGET_RSS_GROWTH_MB)}` : ', set for a 1 GiB file'})
page cache:       up to ${toMB(dirty)} MB of the upload still unwritten when the import began (its writeback overlaps the import)`)
  const europeans = results.flatMap((r) => (r.european ? [r.raw.seconds / r.european.seconds] : []))
  if (europeans.length) {
    const european = median(europeans)
    console.log(
      `conventions:      the same rows with decimal commas (1.234,56) and D.M.Y dates: median raw/import ${european.toFixed(2)} against ${ratio.toFixed(2)} in ISO form (${((1 - european / ratio) * 100).toFixed(0)}% slower; target ≤ 10%: ${verdict(european >= ratio * 0.9)})`,
    )
  }
}

function printRow(...cells: string[]) {
  const widths = [4, 6, 9, 7, 11, 14, 9, 13, 12, 16, 0]
  console.log(cells.map((c, i) => c.padStart(widths[i] ?? 0)).join('  '))
}

await runBench('bench:import', USAGE, main)
