import { spawn, type ChildProcess } from 'node:child_process'
import fs from 'node:fs/promises'
import { createReadStream } from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { Readable } from 'node:stream'
import pg from 'pg'
import { migrate } from '../lib/db/migrate'
import { installJobQueue } from '../lib/imports/import-worker'
import { startScriptNodeArgs } from '../lib/server/start-command'

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
    env: { ...process.env, DATABASE_URL: '', DATA_DIR: '', PORT: '', MAX_UPLOAD_BYTES: '', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  })
  let output = ''
  child.stdout!.on('data', (d) => (output += d))
  child.stderr!.on('data', (d) => (output += d))
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)))
  return { child, exited, output: () => output, url: `http://localhost:${env.PORT}` }
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
  const pool = new pg.Pool({ connectionString: url.href })
  pool.on('error', () => {}) // graphile-worker asks every pool for one; this one lives for two statements
  await installJobQueue(pool)
  await pool.end()
  return url.href
}

/** Uploads a file over tus (creation, then one PATCH streaming the whole file); returns the upload id. */
export async function uploadFile(url: string, file: string, name = path.basename(file)): Promise<string> {
  const { size } = await fs.stat(file)
  const created = await fetch(`${url}/api/uploads`, {
    method: 'POST',
    headers: { 'Tus-Resumable': '1.0.0', 'Upload-Length': String(size), 'Upload-Metadata': `filename ${Buffer.from(name).toString('base64')}` },
  })
  if (created.status !== 201) throw new Error(`tus creation answered ${created.status}: ${await created.text()}`)
  const location = created.headers.get('Location')!
  if (size > 0) {
    const patched = await fetch(new URL(location, url), {
      method: 'PATCH',
      headers: { 'Tus-Resumable': '1.0.0', 'Upload-Offset': '0', 'Content-Type': 'application/offset+octet-stream' },
      body: Readable.toWeb(createReadStream(file)) as ReadableStream,
      duplex: 'half',
    } as RequestInit)
    if (patched.status !== 204) throw new Error(`tus PATCH answered ${patched.status}: ${await patched.text()}`)
  }
  return location.split('/').pop()!
}
