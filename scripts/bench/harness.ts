// What the benches share: the app started as `npm start` starts it, /proc
// readings of its memory and CPU, cleanup on exit or Ctrl-C, and small number helpers.
import { spawn, type ChildProcess } from 'node:child_process'
import { once } from 'node:events'
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { parseArgs, type ParseArgsConfig } from 'node:util'
import { stopOrphanedPostgres } from '../../lib/db/orphaned-postgres'
import { freePort } from '../../lib/server/free-port'
import { startScriptNodeArgs } from '../../lib/server/start-command'

export const ROOT = path.resolve(import.meta.dirname, '../..')
export const MB = 1e6 // rates and memory in decimal megabytes, the unit of the design's measurements
// Sampling the server's RSS this often catches a peak that lasts a tenth of a second.
const RSS_SAMPLE_MS = 100
// The first start builds the app (about 20 s here, longer on a loaded machine) and initialises PostgreSQL.
const START_TIMEOUT_MS = 5 * 60_000
// Stopping hands imports back and stops PostgreSQL; longer than this means it hangs.
const STOP_TIMEOUT_MS = 30_000

/** A bad command line: printed with the usage, exit code 2. */
export class UsageError extends Error {}

/** The command line's flags; an unknown flag or a missing value is a usage error. */
export function parseFlags<const T extends NonNullable<ParseArgsConfig['options']>>(options: T) {
  try {
    return parseArgs({ options }).values
  } catch (error) {
    throw new UsageError((error as Error).message)
  }
}

/** A whole number ≥ 1 given with `flag` (`--runs`, `--rows`), or `fallback` when it was not given. */
export function countFlag(flag: string, text: string | undefined, fallback: number): number {
  if (text === undefined) return fallback
  const n = Number(text)
  if (!Number.isSafeInteger(n) || n < 1) throw new UsageError(`${flag} must be a whole number ≥ 1, not ${text}`)
  return n
}

/** Steps undone at exit, last first: the apps started, the temp folders made. */
export const cleanups: Array<() => Promise<void> | void> = []

export type App = { port: number; baseUrl: string; serverPid: number; stop: () => Promise<void> }

// Each bench signs in as a person would: the app's first admin (from ADMIN_EMAIL and
// ADMIN_PASSWORD) makes an API key once, and every request of the bench carries it.
const BENCH_ADMIN = { email: 'bench@sluice.local', password: 'bench-admin-password' }
const keys = new Map<string, string>()

/** The Authorization header for the app at `url` (one of the apps startApp started). */
export function authFor(url: string): { Authorization: string } {
  const key = keys.get(new URL(url).origin)
  if (!key) throw new Error(`no API key for ${new URL(url).origin}`)
  return { Authorization: `Bearer ${key}` }
}

async function makeKey(baseUrl: string): Promise<string> {
  const signedIn = await fetch(`${baseUrl}/api/auth/sign-in/email`, { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify(BENCH_ADMIN) })
  if (!signedIn.ok) throw new Error(`sign-in answered ${signedIn.status} ${await signedIn.text()}`)
  const cookie = signedIn.headers.getSetCookie().map((c) => c.split(';')[0]).join('; ')
  const created = await fetch(`${baseUrl}/api/keys`, { method: 'POST', headers: { Cookie: cookie, 'Content-Type': 'application/json' }, body: JSON.stringify({ name: 'bench' }) })
  if (created.status !== 201) throw new Error(`POST /api/keys answered ${created.status} ${await created.text()}`)
  return ((await created.json()) as { key: string }).key
}

/**
 * Starts Sluice as `npm start` does (the start script's node arguments, one process, so the
 * child's pid is the server's and the embedded PostgreSQL's processes are not counted in its
 * memory or CPU), in its own DATA_DIR, always with the embedded database so a bench never
 * writes into someone's real one; resolves once /api/health says ok.
 */
export async function startApp(opts: { dataDir: string; logFile: string; env: Record<string, string | undefined> }): Promise<App> {
  const port = await freePort()
  const env: NodeJS.ProcessEnv = {
    ...process.env,
    PORT: String(port),
    DATA_DIR: opts.dataDir,
    NEXT_TELEMETRY_DISABLED: '1',
    ADMIN_EMAIL: BENCH_ADMIN.email,
    ADMIN_PASSWORD: BENCH_ADMIN.password,
    ...opts.env,
  }
  env.DATABASE_URL = '' // empty means unset (lib/config.ts)
  for (const [key, value] of Object.entries(env)) if (value === undefined) delete env[key]
  const log = fs.openSync(opts.logFile, 'a')
  // BENCH_CPU_PROF=<folder> writes the app's CPU profile there (node --cpu-prof), to find where its time goes.
  const profile = process.env.BENCH_CPU_PROF ? ['--cpu-prof', `--cpu-prof-dir=${process.env.BENCH_CPU_PROF}`] : []
  const child = spawn(process.execPath, [...profile, ...startScriptNodeArgs(ROOT)], {
    cwd: ROOT,
    env,
    stdio: ['ignore', log, log], // to a file: the build's output would bury the results
  })
  fs.closeSync(log)
  const stop = () => stopApp(child, opts.dataDir)
  cleanups.push(stop)
  const baseUrl = `http://localhost:${port}`
  await waitUntilHealthy(`${baseUrl}/api/health`, child)
  keys.set(new URL(baseUrl).origin, await makeKey(baseUrl))
  return { port, baseUrl, serverPid: child.pid!, stop }
}

async function waitUntilHealthy(url: string, child: ChildProcess) {
  const deadline = Date.now() + START_TIMEOUT_MS
  while (Date.now() < deadline) {
    if (child.exitCode !== null || child.signalCode !== null) {
      throw new Error(`the app exited (${child.exitCode ?? child.signalCode}) before /api/health answered`)
    }
    const healthy = await fetch(url, { signal: AbortSignal.timeout(5000) })
      .then(async (res) => res.ok && ((await res.json()) as { ok?: unknown }).ok === true)
      .catch(() => false)
    if (healthy) return
    await sleep(500)
  }
  throw new Error(`/api/health did not answer {"ok":true} within ${START_TIMEOUT_MS / 1000} s`)
}

/** SIGTERM (start.ts hands imports back, stops PostgreSQL, then exits); SIGKILL if it hangs. */
async function stopApp(child: ChildProcess, dataDir: string) {
  if (child.exitCode === null && child.signalCode === null) {
    const exited = once(child, 'exit')
    child.kill('SIGTERM')
    if (!(await Promise.race([exited.then(() => true), sleep(STOP_TIMEOUT_MS).then(() => false)]))) {
      console.error(`Sluice did not stop within ${STOP_TIMEOUT_MS / 1000} s; killing it`)
      child.kill('SIGKILL')
    }
  }
  // An app that crashed or was killed leaves its PostgreSQL running; its folder is about to go.
  const orphan = await stopOrphanedPostgres(path.join(dataDir, 'postgres'), STOP_TIMEOUT_MS)
  if (orphan) console.error(`Stopped the PostgreSQL (pid ${orphan}) that Sluice left running`)
}

// ── /proc ────────────────────────────────────────────────────────────────────────────────

/** A size line of /proc/<pid>/status (VmRSS: resident now, VmHWM: peak resident), in bytes. */
export function readStatusBytes(pid: number, field: 'VmRSS' | 'VmHWM'): number | undefined {
  const kib = new RegExp(`^${field}:\\s+(\\d+) kB$`, 'm').exec(readFileOrEmpty(`/proc/${pid}/status`))?.[1]
  return kib === undefined ? undefined : Number(kib) * 1024
}

/** Samples a process's RSS every RSS_SAMPLE_MS until stopped, keeping the peak in bytes. */
export function sampleRss(pid: number): { readonly peak: number; stop: () => void } {
  let peak = 0
  const sample = () => (peak = Math.max(peak, readStatusBytes(pid, 'VmRSS') ?? 0))
  sample()
  const timer = setInterval(sample, RSS_SAMPLE_MS)
  return {
    get peak() {
      return peak
    },
    stop: () => {
      clearInterval(timer)
      sample()
    },
  }
}

/** User plus system CPU of all a process's threads: /proc/<pid>/stat fields 14 and 15, in USER_HZ (100 on Linux). */
export function readCpuSeconds(pid: number): number {
  const stat = readFileOrEmpty(`/proc/${pid}/stat`)
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ') // fields from the 3rd on
  return (Number(fields[11]) + Number(fields[12])) / 100
}

/** Resets VmHWM (Linux: writing 5 to clear_refs), so the next reading is this measurement's peak. */
export function resetPeakRss(pid: number): boolean {
  try {
    fs.writeFileSync(`/proc/${pid}/clear_refs`, '5')
    return true
  } catch {
    return false // not our process, or an old kernel: VmHWM then covers the app's whole life
  }
}

export const readFileOrEmpty = (file: string) => {
  try {
    return fs.readFileSync(file, 'utf8')
  } catch {
    return '' // the process went away between listing and reading
  }
}

// ── small helpers ────────────────────────────────────────────────────────────────────────

export function printLogTail(file: string, lines = 40) {
  const text = readFileOrEmpty(file).trimEnd()
  if (text) console.error(`\nLast lines of the app's output (${file}):\n${text.split('\n').slice(-lines).join('\n')}\n`)
}

export const toMB = (bytes: number) => (bytes / MB).toFixed(0)
export const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms))

export function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b)
  const mid = Math.floor(sorted.length / 2)
  return sorted.length % 2 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2
}

export async function readAll(stream: NodeJS.ReadableStream): Promise<string> {
  const chunks: Buffer[] = []
  for await (const chunk of stream) chunks.push(Buffer.from(chunk))
  return Buffer.concat(chunks).toString('utf8')
}

// ── entry ────────────────────────────────────────────────────────────────────────────────

let interruptedBy: NodeJS.Signals | undefined
/** True once Ctrl-C (or SIGTERM) asked the bench to stop: a failure then is no news. */
export const interrupted = () => interruptedBy !== undefined

// Ctrl-C reaches the app too, so the request in flight fails and main's own exit path cleans
// up at the same moment as the signal handler: both share one pass, in order.
let cleaning: Promise<void> | undefined
const runCleanups = () => (cleaning ??= cleanUp())

async function cleanUp() {
  while (cleanups.length) {
    try {
      await cleanups.pop()!()
    } catch (error) {
      console.error('cleanup step failed:', error instanceof Error ? error.message : error)
    }
  }
}

/** Runs a bench's main, cleans up whatever happens, and exits: 2 for a bad command line, 1 for a failure. */
export async function runBench(name: string, usage: string, main: () => Promise<void>): Promise<never> {
  // `on`, not `once`: tsx's CLI relays a Ctrl-C once more when it misses this process's
  // acknowledgement, and its preload exits at once when a signal finds no listener.
  for (const signal of ['SIGINT', 'SIGTERM'] as const) {
    process.on(signal, () => {
      if (interruptedBy) return
      interruptedBy = signal
      console.error('\nInterrupted: stopping the app and removing the temp folder…')
      void runCleanups().finally(() => process.exit(128 + os.constants.signals[signal]))
    })
  }
  let exitCode = 0
  try {
    await main()
  } catch (error) {
    exitCode = error instanceof UsageError ? 2 : 1
    // A message, not the object: tus-js-client's errors carry whole request objects.
    if (error instanceof UsageError) console.error(`${error.message}\n${usage}`)
    else if (!interruptedBy) console.error(`${name} failed: ${error instanceof Error ? error.message : String(error)}`)
  }
  await runCleanups()
  // Open sockets (tus-js-client's keep-alive agent) would otherwise hold the process for seconds.
  process.exit(interruptedBy ? 128 + os.constants.signals[interruptedBy] : exitCode)
}
