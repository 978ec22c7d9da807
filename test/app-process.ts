import { spawn, type ChildProcess } from 'node:child_process'
import fs from 'node:fs/promises'
import { createReadStream } from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { Readable } from 'node:stream'
import pg from 'pg'
import { migrate } from '../lib/db/migrate'
import { installJobQueue } from '../lib/imports/import-worker'
import { freePort } from '../lib/server/free-port'
import { startScriptNodeArgs } from '../lib/server/start-command'
import { SLUICE_SEARCH_PATH } from '../lib/db/sluice-schema'

// Helpers for tests that drive Sluice as its users do: `npm start` as a child process, HTTP
// requests, its signals.

export type AppProcess = {
  child: ChildProcess
  url: string
  /** Exit code, or 128 + the signal's number when a signal ended it. */
  exited: Promise<number | null>
  output: () => string
}

const root = path.resolve(import.meta.dirname, '..')

/**
 * Starts the app as package.json's start script does (or `script`, e.g. the worker's): one node
 * process, since tsx's CLI would add a wrapper process between the test and the app.
 */
export function startApp(env: Record<string, string>, script = 'scripts/start.ts'): AppProcess {
  const args = startScriptNodeArgs(root).map((a) => (a === 'scripts/start.ts' ? script : a))
  const child = spawn(process.execPath, args, {
    cwd: root,
    // The first admin comes from the environment (ignored once the database has an account).
    // NODE_ENV as `npm start` has it, not vitest's "test": better-auth skips its origin checks
    // under "test", and the tests must meet the app its users meet.
    env: {
      ...process.env,
      NODE_ENV: 'production',
      TEST: '',
      DATABASE_URL: '',
      DATA_DIR: '',
      PORT: '',
      MAX_UPLOAD_BYTES: '',
      ADMIN_EMAIL: TEST_ADMIN.email,
      ADMIN_PASSWORD: TEST_ADMIN.password,
      ...env,
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  })
  let output = ''
  child.stdout!.on('data', (d) => (output += d))
  child.stderr!.on('data', (d) => (output += d))
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)))
  return { child, exited, output: () => output, url: `http://localhost:${env.PORT}` }
}

/** The first admin of every app a test starts (unless its env says otherwise). */
export const TEST_ADMIN = { email: 'admin@sluice.test', password: 'admin-password-for-tests' }

/** Signs in over HTTP; the session cookie (name=value) to send back. */
export async function signIn(url: string, account: { email: string; password: string }): Promise<string> {
  const res = await fetch(`${url}/api/auth/sign-in/email`, {
    method: 'POST',
    headers: { 'Content-Type': 'application/json' },
    body: JSON.stringify({ email: account.email, password: account.password }),
  })
  if (res.status !== 200) throw new Error(`sign-in as ${account.email} answered ${res.status}: ${await res.text()}`)
  return res.headers.getSetCookie().map((c) => c.split(';')[0]).join('; ')
}

/** A new API key of the account, made over HTTP as a person does on the settings page. */
export async function createApiKey(url: string, account: { email: string; password: string }, name = 'tests'): Promise<string> {
  const cookie = await signIn(url, account)
  const res = await fetch(`${url}/api/keys`, { method: 'POST', headers: { Cookie: cookie, 'Content-Type': 'application/json' }, body: JSON.stringify({ name }) })
  if (res.status !== 201) throw new Error(`POST /api/keys answered ${res.status}: ${await res.text()}`)
  return ((await res.json()) as { key: string }).key
}

/** Another person: an account (role user) the test admin creates, and an API key of theirs. */
export async function keyOfNewUser(url: string, account: { email: string; password: string; name: string }): Promise<string> {
  const made = await fetch(`${url}/api/auth/admin/create-user`, {
    method: 'POST',
    headers: { Cookie: await signIn(url, TEST_ADMIN), Origin: url, 'Content-Type': 'application/json' },
    body: JSON.stringify({ ...account, role: 'user' }),
  })
  if (made.status !== 200) throw new Error(`creating ${account.email} answered ${made.status}: ${await made.text()}`)
  return createApiKey(url, account)
}

// The key appFetch sends to each app (by origin), registered by useKey or signInForTests.
const keys = new Map<string, string>()

/** Makes appFetch (and uploadFile) send `key` to the app at `url`. */
export function useKey(url: string, key: string): void {
  keys.set(new URL(url).origin, key)
}

/** Creates a key of the test admin on the app at `url` and makes appFetch use it; the key. */
export async function signInForTests(url: string): Promise<string> {
  const key = await createApiKey(url, TEST_ADMIN)
  useKey(url, key)
  return key
}

/** The Authorization header of the key registered for the app at `url` (for node:http requests). */
export function authHeaders(url: string): { Authorization: string } {
  const key = keys.get(new URL(url).origin)
  if (!key) throw new Error(`no API key registered for ${new URL(url).origin}: call signInForTests or useKey first`)
  return { Authorization: `Bearer ${key}` }
}

/** fetch, with the Authorization header of the key registered for the request's origin. */
export const appFetch: typeof fetch = (input, init = {}) => {
  const url = new URL(input instanceof Request ? input.url : String(input))
  const key = keys.get(url.origin)
  if (!key) throw new Error(`no API key registered for ${url.origin}: call signInForTests or useKey first`)
  const headers = new Headers(init.headers)
  headers.set('Authorization', `Bearer ${key}`)
  return fetch(input, { ...init, headers })
}

/** Resolves with /api/health's answer once the app serves it (within 60 s). */
export async function health(url: string): Promise<unknown> {
  for (let i = 0; i < 600; i++) {
    const body = await fetch(`${url}/api/health`).then((r) => r.json(), () => null)
    if (body) return body
    await sleep(100)
  }
  throw new Error('the app did not answer within 60 s')
}

export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms))

/** A temporary folder the OS user postgres can traverse (the embedded server runs as it under root). */
export async function tempDir(prefix: string): Promise<string> {
  const dir = await fs.mkdtemp(path.join(os.tmpdir(), prefix))
  await fs.chmod(dir, 0o755)
  return dir
}

/** A fresh database beside the test run's own (same server), migrated, with the job queue installed. */
export async function createDatabase(name: string): Promise<string> {
  const admin = new pg.Client(process.env.DATABASE_URL)
  await admin.connect()
  await admin.query(`DROP DATABASE IF EXISTS "${name}" WITH (FORCE)`)
  await admin.query(`CREATE DATABASE "${name}"`)
  await admin.end()
  const url = new URL(process.env.DATABASE_URL!)
  url.pathname = `/${name}`
  await migrate(url.href)
  const pool = new pg.Pool({ connectionString: url.href, options: SLUICE_SEARCH_PATH })
  pool.on('error', () => {}) // graphile-worker asks every pool for one; this one lives for two statements
  await installJobQueue(pool)
  await pool.end()
  return url.href
}

/** Uploads a file over tus (creation, then one PATCH streaming the whole file); returns the upload id. */
export async function uploadFile(url: string, file: string, name = path.basename(file)): Promise<string> {
  const { size } = await fs.stat(file)
  const created = await appFetch(`${url}/api/uploads`, {
    method: 'POST',
    headers: { 'Tus-Resumable': '1.0.0', 'Upload-Length': String(size), 'Upload-Metadata': `filename ${Buffer.from(name).toString('base64')}` },
  })
  if (created.status !== 201) throw new Error(`tus creation answered ${created.status}: ${await created.text()}`)
  const location = created.headers.get('Location')!
  if (size > 0) {
    const patched = await appFetch(new URL(location, url), {
      method: 'PATCH',
      headers: { 'Tus-Resumable': '1.0.0', 'Upload-Offset': '0', 'Content-Type': 'application/offset+octet-stream' },
      body: Readable.toWeb(createReadStream(file)) as ReadableStream,
      duplex: 'half',
    } as RequestInit)
    if (patched.status !== 204) throw new Error(`tus PATCH answered ${patched.status}: ${await patched.text()}`)
  }
  return location.split('/').pop()!
}

export type TestApp = {
  /** The app as it runs now (restart() replaces it). */
  app: AppProcess
  /** The test file's folder; the app's data is in its `data`. */
  dir: string
  /** The app's database, for checks behind its back. */
  db: pg.Pool
  /** The settings the app runs with: PORT, DATA_DIR and DATABASE_URL, and those given. */
  env: Record<string, string>
  /** Starts the app again with the same settings (after a kill) and signs in. */
  restart(): Promise<void>
  /** Ends the app, closes the pool and removes the folder; prints the app's output when SHOW_APP_OUTPUT is set. */
  stop(): Promise<void>
}

/**
 * An app of one test file's own, as `npm start` runs it: a temporary folder, a database named
 * after `name`, `settings` on top of the port, folder and database, started and signed in.
 */
export async function startTestApp(name: string, settings: Record<string, string> = {}): Promise<TestApp> {
  const dir = await tempDir(`sluice-${name}-`)
  const databaseUrl = await createDatabase(`sluice_${name.replace(/\W/g, '_')}_test`)
  const env = { PORT: String(await freePort()), DATA_DIR: path.join(dir, 'data'), DATABASE_URL: databaseUrl, ...settings }
  const t: TestApp = {
    app: undefined as unknown as AppProcess,
    dir,
    db: new pg.Pool({ connectionString: databaseUrl, options: SLUICE_SEARCH_PATH }),
    env,
    async restart() {
      t.app = startApp(env)
      const answer = await health(t.app.url)
      if ((answer as { ok?: boolean }).ok !== true) throw new Error(`the app's health check answered ${JSON.stringify(answer)}`)
      // A failure here is the app's: its output says why (a 500 once in CI had no trace).
      await signInForTests(t.app.url).catch((error: Error) => {
        throw new Error(`${error.message}\nthe app's output:\n${t.app.output().slice(-4000)}`)
      })
    },
    async stop() {
      if (process.env.SHOW_APP_OUTPUT) console.log(t.app?.output())
      if (t.app?.child.exitCode === null) {
        t.app.child.kill('SIGTERM')
        await t.app.exited
      }
      await t.db.end()
      await fs.rm(dir, { recursive: true, force: true })
    },
  }
  await t.restart()
  return t
}
