// npm run bench:upload -- [--size 1GiB] [--runs 2] [--chunk 64MiB|Infinity]
//
// How fast does a big CSV reach the disk through Sluice's tus endpoint, compared with the
// least a Node server can do (a plain PUT piped into a file)? One run starts the real app as
// a user does (scripts/start.ts), fresh for each run, uploads the same file both ways, and prints
// both rates, their ratio and the app's peak memory. Compare ratios, not rates: the rates
// move with the machine and whatever else runs on it.
import { execFileSync, fork } from 'node:child_process'
import { once } from 'node:events'
import fs from 'node:fs'
import fsp from 'node:fs/promises'
import http from 'node:http'
import os from 'node:os'
import path from 'node:path'
import { pipeline } from 'node:stream/promises'
import * as tus from 'tus-js-client'
import { generateCsv } from '../lib/csv/generate'
import { formatBytes, parseSize } from '../lib/format'
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
  startApp,
  toMB,
  UsageError,
  authFor,
} from './bench/harness'
import { ensureCsv } from './bench/fixture'

const USAGE = 'usage: npm run bench:upload -- [--size 1GiB] [--runs 2] [--chunk <bytes, e.g. 64MiB>|Infinity]'

const DEFAULT_SIZE = 2 ** 30
const DEFAULT_RUNS = 2
// One PATCH for the whole file. Measured with this script (2 cores, 1 GiB, median of 5):
// tus/raw 0.83–0.92 unbounded, 0.87 with 256 MiB, 0.80–0.86 with 64 MiB, 0.39–0.60 with
// 16 MiB. Each PATCH costs the app about 8 ms of CPU (Next.js routing, a FileStore stat and
// read, a new write stream) while the client waits, and chunked runs fell more often into
// the app's GC-bound slow mode (8–9 s of server CPU per GiB instead of 3).
const DEFAULT_CHUNK = Infinity

// The bar for uploads: at least 0.7 of raw HTTP's rate, with the server's memory flat.
const TARGET_RATIO = 0.7
const TARGET_RSS_MB = 300

type Options = { bytes: number; runs: number; chunkSize: number }
type RawRun = { seconds: number; serverCpuSeconds: number }
type TusRun = RawRun & { rssBeforeBytes: number; peakRssBytes: number; hwmBytes: number | undefined }
type RunResult = { raw: RawRun; tus: TusRun }

// Undone in reverse order at the end, on failure and on Ctrl-C alike.

async function main() {
  const options = parseOptions()
  const { file: csv, size } = await ensureCsv({ bytes: options.bytes })

  const runDir = await fsp.mkdtemp(path.join(os.tmpdir(), 'sluice-bench-run-'))
  cleanups.push(() => fsp.rm(runDir, { recursive: true, force: true }))
  // mkdtemp makes 0700; as root the embedded PostgreSQL runs as the OS user postgres, which must enter it.
  await fsp.chmod(runDir, 0o755)
  const dataDir = path.join(runDir, 'data')
  const rawDir = path.join(runDir, 'raw') // same disk as DATA_DIR/uploads, so both sides write alike
  await fsp.mkdir(rawDir)
  const appLog = path.join(runDir, 'app.log')
  const uploadsDir = path.join(dataDir, 'uploads')

  try {
    const sink = await startRawSink(rawDir)
    const rawUrl = (name: string) => `http://localhost:${sink.port}/${name}`
    const warmup = path.join(runDir, 'warmup.csv')
    await generateCsv({ out: warmup, rows: 1000 })
    await putRaw(rawUrl('warmup.csv'), warmup)

    console.log(`Uploading ${formatBytes(size)} ${options.runs}× each way; tus chunk size ${describeChunk(options.chunkSize)}`)
    // Each run starts a fresh app: the same code has run here at two speeds in different
    // server processes (about 3 s or about 7 s of server CPU per GiB, the slow one in a storm
    // of full garbage collections), so one process's figure would mislead.
    // CPU: seconds the receiving process (all its threads) spent on one upload; steadier than
    // rates on a shared machine, and it shows what the tus path costs the server.
    printRow('run', 'raw MB/s', 'tus MB/s', 'tus/raw', 'CPU s raw/tus', 'server RSS MB before→peak (VmHWM)')
    const results: RunResult[] = []
    for (let run = 1; run <= options.runs; run++) {
      const app = await startApp({ dataDir, logFile: appLog, env: { MAX_UPLOAD_BYTES: String(Math.max(size * 2, 10 * 2 ** 30)) } })
      const tusEndpoint = `http://localhost:${app.port}/api/uploads`
      // The first request to a route loads its module and builds the tus server; that is start-up, not upload speed.
      await removeTusUpload(uploadsDir, (await uploadWithTus(tusEndpoint, warmup, options.chunkSize)).id)
      const raw = await measureRaw(rawUrl('upload.csv'), sink.pid, csv, path.join(rawDir, 'upload.csv'), size)
      const viaTus = await measureTus(tusEndpoint, app.serverPid, csv, options.chunkSize, uploadsDir, size)
      await app.stop()
      results.push({ raw, tus: viaTus })
      printRow(
        String(run),
        (size / MB / raw.seconds).toFixed(0),
        (size / MB / viaTus.seconds).toFixed(0),
        (raw.seconds / viaTus.seconds).toFixed(2),
        `${raw.serverCpuSeconds.toFixed(1)}/${viaTus.serverCpuSeconds.toFixed(1)}`,
        `${toMB(viaTus.rssBeforeBytes)}→${toMB(viaTus.peakRssBytes)}` +
          (viaTus.hwmBytes === undefined ? '' : ` (${toMB(viaTus.hwmBytes)})`),
      )
    }
    printSummary(results, size, options.chunkSize)
  } catch (error) {
    if (!interrupted()) printLogTail(appLog)
    throw error
  }
}

// ── options ──────────────────────────────────────────────────────────────────────────────

function parseOptions(): Options {
  const values = parseFlags({ size: { type: 'string' }, runs: { type: 'string' }, chunk: { type: 'string' } })
  const runs = countFlag('--runs', values.runs, DEFAULT_RUNS)
  const bytes = values.size === undefined ? DEFAULT_SIZE : parseSizeFlag(values.size)
  if (!Number.isFinite(bytes) || bytes < 1) throw new UsageError(`--size must be a finite size, not ${values.size}`)
  const chunkSize = values.chunk === undefined ? DEFAULT_CHUNK : parseSizeFlag(values.chunk)
  if (chunkSize < 1) throw new UsageError(`--chunk must be at least 1 byte`)
  return { bytes, runs, chunkSize }
}

/** A size flag, or "Infinity" (one PATCH for the whole file) for the chunk size. */
function parseSizeFlag(text: string): number {
  if (/^(infinity|unbounded)$/i.test(text.trim())) return Infinity
  try {
    return parseSize(text)
  } catch (error) {
    throw new UsageError((error as Error).message)
  }
}

const describeChunk = (chunkSize: number) =>
  Number.isFinite(chunkSize) ? `${formatBytes(chunkSize)} (${chunkSize} bytes)` : 'unbounded (one PATCH)'

// ── the two uploads ──────────────────────────────────────────────────────────────────────

type RawSink = { port: number; pid: number }

/** Forks scripts/bench/raw-sink.ts: its own process, so it does not share an event loop with the client. */
async function startRawSink(dir: string): Promise<RawSink> {
  // fork() reuses this process's execArgv, which holds tsx's loader, so the .ts file runs as is.
  const child = fork(path.join(import.meta.dirname, 'bench', 'raw-sink.ts'), [dir], { stdio: 'inherit' })
  cleanups.push(() => {
    if (child.connected) child.disconnect()
  })
  const [message] = (await Promise.race([
    once(child, 'message'),
    once(child, 'exit').then(([code]) => Promise.reject(new Error(`the raw sink exited (${code}) before it listened`))),
  ])) as [{ port: number }]
  return { port: message.port, pid: child.pid! }
}

/** PUTs the file to the raw sink; resolves with the seconds from first byte sent to the sink's answer. */
async function putRaw(url: string, file: string): Promise<number> {
  const size = (await fsp.stat(file)).size
  const started = performance.now()
  const req = http.request(url, { method: 'PUT', headers: { 'content-length': size } })
  const [[res]] = await Promise.all([once(req, 'response') as Promise<[http.IncomingMessage]>, pipeline(fs.createReadStream(file), req)])
  const body = (await readAll(res)).trim()
  if (res.statusCode !== 201 || Number(body) !== size) {
    throw new Error(`raw PUT answered ${res.statusCode} "${body}", expected 201 and ${size} bytes written`)
  }
  return (performance.now() - started) / 1000
}

async function measureRaw(url: string, sinkPid: number, csv: string, stored: string, size: number): Promise<RawRun> {
  settleDisk()
  const cpuBefore = readCpuSeconds(sinkPid)
  const seconds = await putRaw(url, csv)
  const serverCpuSeconds = readCpuSeconds(sinkPid) - cpuBefore
  await expectFileSize(stored, size)
  await fsp.rm(stored)
  return { seconds, serverCpuSeconds }
}

/**
 * Uploads the file with tus-js-client as a Node program would. A path-based fs.ReadStream
 * makes tus-js-client open a fresh ranged read stream per chunk (its FileSource), so any
 * chunkSize works, Infinity included; a plain Readable would need a finite chunkSize,
 * because it must be buffered in memory to be resent.
 */
async function uploadWithTus(endpoint: string, file: string, chunkSize: number): Promise<{ id: string; seconds: number }> {
  const started = performance.now()
  const url = await new Promise<string>((resolve, reject) => {
    const upload: tus.Upload = new tus.Upload(fs.createReadStream(file), {
      endpoint,
      chunkSize,
      metadata: { filename: path.basename(file), filetype: 'text/csv' },
      headers: authFor(endpoint),
      retryDelays: null, // a silent retry would hide a failure inside the timing
      onSuccess: () => resolve(upload.url!),
      onError: reject,
    })
    upload.start()
  })
  // The Location is /api/uploads/<id>, and FileStore names the file by that id.
  return { id: path.basename(new URL(url).pathname), seconds: (performance.now() - started) / 1000 }
}

async function measureTus(
  endpoint: string,
  serverPid: number,
  csv: string,
  chunkSize: number,
  uploadsDir: string,
  size: number,
): Promise<TusRun> {
  settleDisk()
  const hwmIsPerRun = resetPeakRss(serverPid)
  const rssBeforeBytes = readStatusBytes(serverPid, 'VmRSS') ?? 0
  const cpuBefore = readCpuSeconds(serverPid)
  const sampler = sampleRss(serverPid)
  const upload = await uploadWithTus(endpoint, csv, chunkSize).finally(sampler.stop)
  const serverCpuSeconds = readCpuSeconds(serverPid) - cpuBefore
  const hwmBytes = hwmIsPerRun ? readStatusBytes(serverPid, 'VmHWM') : undefined
  // A cheap proof that the bench timed a real upload: the stored file has every byte.
  await expectFileSize(path.join(uploadsDir, upload.id), size)
  await removeTusUpload(uploadsDir, upload.id)
  return { seconds: upload.seconds, serverCpuSeconds, rssBeforeBytes, peakRssBytes: sampler.peak, hwmBytes }
}

/**
 * Deletes a finished upload's file and FileStore's JSON beside it, to keep 1 GiB runs off
 * the disk. Straight from the disk rather than by a tus DELETE: termination is not what this
 * measures, and the app's database row does not matter in a throwaway DATA_DIR.
 */
async function removeTusUpload(uploadsDir: string, id: string) {
  await fsp.rm(path.join(uploadsDir, id))
  await fsp.rm(path.join(uploadsDir, `${id}.json`), { force: true })
}

async function expectFileSize(file: string, size: number) {
  const actual = (await fsp.stat(file)).size
  if (actual !== size) throw new Error(`${file} holds ${actual} bytes, expected ${size}`)
}

/**
 * Flushes the previous upload's dirty pages before the next one starts, so neither side
 * pays for the other's writeback (a gigabyte waits in the page cache after each upload).
 */
function settleDisk() {
  execFileSync('sync')
}

// ── output ───────────────────────────────────────────────────────────────────────────────

function printSummary(results: RunResult[], size: number, chunkSize: number) {
  const ratio = median(results.map((r) => r.raw.seconds / r.tus.seconds))
  const rawRate = median(results.map((r) => size / MB / r.raw.seconds))
  const tusRate = median(results.map((r) => size / MB / r.tus.seconds))
  const rawCpu = median(results.map((r) => r.raw.serverCpuSeconds))
  const tusCpu = median(results.map((r) => r.tus.serverCpuSeconds))
  const peak = Math.max(...results.map((r) => Math.max(r.tus.peakRssBytes, r.tus.hwmBytes ?? 0)))
  const growth = Math.max(...results.map((r) => Math.max(r.tus.peakRssBytes, r.tus.hwmBytes ?? 0) - r.tus.rssBeforeBytes))
  const verdict = (ok: boolean) => (ok ? 'ok' : 'MISSED')
  console.log(`
tus chunk size:   ${describeChunk(chunkSize)}
median rates:     raw ${rawRate.toFixed(0)} MB/s, tus ${tusRate.toFixed(0)} MB/s
median tus/raw:   ${ratio.toFixed(2)}  (target ≥ ${TARGET_RATIO}: ${verdict(ratio >= TARGET_RATIO)})
server CPU:       raw sink ${rawCpu.toFixed(1)} s, Sluice ${tusCpu.toFixed(1)} s per upload (median)
server peak RSS:  ${toMB(peak)} MB, at most ${toMB(growth)} MB above its level before the upload  (target < ${TARGET_RSS_MB} MB: ${verdict(peak / MB < TARGET_RSS_MB)})`)
}

function printRow(...cells: string[]) {
  const widths = [4, 9, 9, 8, 13, 0]
  console.log(cells.map((c, i) => c.padStart(widths[i] ?? 0)).join('  '))
}

await runBench('bench:upload', USAGE, main)
