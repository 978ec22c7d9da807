// What bench:import and bench:export share about imports: the app with the URL of its
// embedded PostgreSQL, a file uploaded over tus, the wait for its import, the database steps
// around a measurement, and the raw COPY that bench:import and bench:batch compare with.
import { execFileSync } from 'node:child_process'
import { once } from 'node:events'
import fs from 'node:fs'
import http from 'node:http'
import path from 'node:path'
import { pipeline } from 'node:stream/promises'
import type pg from 'pg'
import { from as copyFrom } from 'pg-copy-streams'
import { HEADER } from '../../lib/csv/generate'
import { databaseUrlFile } from '../../lib/db/database-url-file'
import { authFor, readAll, readCpuSeconds, readFileOrEmpty, sleep, startApp, type App as HarnessApp } from './harness'

// The import's status is polled this often, about as often as the page does. The benches time
// an import by the server's own startedAt and finishedAt, so polling faster would only take
// CPU (each request signs in and reads the import) from the import it measures.
const POLL_MS = 500
// A 1 GiB import takes well under a minute here; this only keeps a stuck import from hanging the bench.
const IMPORT_TIMEOUT_MS = 30 * 60_000

export type App = HarnessApp & { databaseUrl: string; uploadsDir: string }

/** The app as harness.startApp starts it, with uploads of up to 100 GiB, and the URL of its embedded PostgreSQL. */
export async function startAppWithDatabase(opts: { dataDir: string; logFile: string; env?: Record<string, string | undefined> }): Promise<App> {
  const app = await startApp({
    dataDir: opts.dataDir,
    logFile: opts.logFile,
    env: { MAX_UPLOAD_BYTES: String(100 * 2 ** 30), ...opts.env },
  })
  // start.ts writes it once its PostgreSQL is up, before it serves: present once healthy.
  const databaseUrl = readFileOrEmpty(databaseUrlFile(opts.dataDir)).trim()
  if (!databaseUrl) throw new Error(`${databaseUrlFile(opts.dataDir)} is missing: did the app start its embedded PostgreSQL?`)
  return { ...app, databaseUrl, uploadsDir: path.join(opts.dataDir, 'uploads') }
}

/** The fields of GET /api/imports/:id that the benches read. */
export type ImportDto = {
  id: string
  status: string
  rowsImported: number
  rowsRejected: number
  columns: Array<{ name: string; header: string; type: string }>
  tableName: string
  error: string | null
  startedAt: string | null
  finishedAt: string | null
}

/** An import's schema-qualified table name (ImportDto.tableName, `imported.<name>`) quoted for SQL. */
export const tableSql = (db: pg.Client, tableName: string) =>
  tableName
    .split('.')
    .map((part) => db.escapeIdentifier(part))
    .join('.')

/** What a tus creation of the whole file says about it: its length and name. */
const creationHeaders = (file: string, size: number) => ({
  'Upload-Length': String(size),
  'Upload-Metadata': `filename ${Buffer.from(path.basename(file)).toString('base64')},filetype ${Buffer.from('text/csv').toString('base64')}`,
})

/** tus creation, then one PATCH of the whole file from offset 0; resolves with the upload id once the PATCH is answered 204. */
export async function uploadWithTus(baseUrl: string, file: string, size: number): Promise<string> {
  const created = await fetch(`${baseUrl}/api/uploads`, {
    method: 'POST',
    headers: {
      ...authFor(baseUrl),
      'Tus-Resumable': '1.0.0',
      ...creationHeaders(file, size),
    },
  })
  const location = created.headers.get('Location')
  if (created.status !== 201 || !location) throw new Error(`tus creation answered ${created.status} ${await created.text()}`)
  const req = http.request(new URL(location, baseUrl), {
    method: 'PATCH',
    headers: {
      ...authFor(baseUrl),
      'Tus-Resumable': '1.0.0',
      'Upload-Offset': '0',
      'Content-Type': 'application/offset+octet-stream',
      'Content-Length': size,
    },
  })
  const [[res]] = await Promise.all([once(req, 'response') as Promise<[http.IncomingMessage]>, pipeline(fs.createReadStream(file), req)])
  const body = await readAll(res)
  if (res.statusCode !== 204 || Number(res.headers['upload-offset']) !== size) {
    throw new Error(`tus PATCH answered ${res.statusCode} (Upload-Offset ${res.headers['upload-offset']}) ${body.trim()}`)
  }
  // The Location is /api/uploads/<id>.
  return path.basename(new URL(location, baseUrl).pathname)
}

/**
 * tus creation-with-upload: one POST carrying the whole file, so that its import starts with
 * every byte already on the server's disk (the upload finishes inside the POST). Resolves with
 * the upload id once the POST is answered 201 with the whole offset.
 */
export async function uploadInCreation(baseUrl: string, file: string, size: number): Promise<string> {
  const req = http.request(new URL('/api/uploads', baseUrl), {
    method: 'POST',
    headers: {
      ...authFor(baseUrl),
      'Tus-Resumable': '1.0.0',
      ...creationHeaders(file, size),
      'Content-Type': 'application/offset+octet-stream',
      'Content-Length': size,
    },
  })
  const [[res]] = await Promise.all([once(req, 'response') as Promise<[http.IncomingMessage]>, pipeline(fs.createReadStream(file), req)])
  const body = await readAll(res)
  const location = res.headers.location
  if (res.statusCode !== 201 || !location || Number(res.headers['upload-offset']) !== size) {
    throw new Error(`tus creation-with-upload answered ${res.statusCode} (Upload-Offset ${res.headers['upload-offset']}) ${body.trim()}`)
  }
  return path.basename(new URL(location, baseUrl).pathname)
}

/** Finds the upload's import and polls it every POLL_MS until PROCESSED; throws on any other end. */
export async function waitForImport(baseUrl: string, uploadId: string, onPoll: (imp: ImportDto) => Promise<void> = async () => {}): Promise<ImportDto> {
  const deadline = Date.now() + IMPORT_TIMEOUT_MS
  let id: string | undefined
  while (id === undefined) {
    // Made with the upload (it follows the bytes as they arrive), so it is there at once.
    const { imports } = (await getJson(`${baseUrl}/api/imports?upload=${encodeURIComponent(uploadId)}`)) as { imports: ImportDto[] }
    id = imports[0]?.id
    if (id === undefined) {
      if (Date.now() > deadline) throw new Error(`no import appeared for upload ${uploadId}`)
      await sleep(POLL_MS)
    }
  }
  for (;;) {
    const imp = (await getJson(`${baseUrl}/api/imports/${id}`)) as ImportDto
    if (imp.status === 'PROCESSED') return imp
    await onPoll(imp)
    if (imp.status !== 'QUEUED' && imp.status !== 'PROCESSING') {
      throw new Error(`import ${id} ended ${imp.status}${imp.error ? `: ${imp.error}` : ''}`)
    }
    if (Date.now() > deadline) throw new Error(`import ${id} was still ${imp.status} after ${IMPORT_TIMEOUT_MS / 60_000} min`)
    await sleep(POLL_MS)
  }
}

export async function getJson(url: string): Promise<unknown> {
  const res = await fetch(url, { headers: authFor(url) })
  if (!res.ok) throw new Error(`GET ${url} answered ${res.status} ${await res.text()}`)
  return res.json()
}

/**
 * Before each side: PostgreSQL writes its dirty buffers (CHECKPOINT), then the OS flushes
 * the page cache (sync), so neither side pays for the other's writeback.
 */
export async function settle(db: pg.Client) {
  await db.query('CHECKPOINT')
  execFileSync('sync')
}

// The raw baseline's table, in the app's database but outside the app's schemas.
const RAW_TABLE = 'bench_raw_copy'

export type RawRun = { seconds: number; rows: number; postgresCpuSeconds: number }

/**
 * One `COPY … FROM STDIN (FORMAT csv, HEADER)` of the whole file into a table of the given
 * column types, else text (no row-number column, no checkpoint, one transaction), in the app's database.
 * The table is made before the clock starts and dropped after it stops.
 */
export async function measureRawCopy(db: pg.Client, file: string, types?: readonly string[]): Promise<RawRun> {
  const table = db.escapeIdentifier(RAW_TABLE)
  // The generator's header; the file is always the generator's. Of the types given (the ones
  // the import gave its table, so both sides parse the same values), else text.
  const columns = HEADER.split(',').map((name, i) => `${db.escapeIdentifier(name)} ${types?.[i] ?? 'text'}`)
  await db.query(`DROP TABLE IF EXISTS ${table}`)
  await db.query(`CREATE TABLE ${table} (${columns.join(', ')})`)
  const backendPid = (await db.query<{ pid: number }>('SELECT pg_backend_pid() AS pid')).rows[0]!.pid
  await settle(db)
  const cpuBefore = readCpuSeconds(backendPid)
  const started = performance.now()
  const copy = db.query(copyFrom(`COPY ${table} FROM STDIN (FORMAT csv, HEADER)`))
  await pipeline(fs.createReadStream(file), copy)
  const seconds = (performance.now() - started) / 1000
  const postgresCpuSeconds = readCpuSeconds(backendPid) - cpuBefore
  const rows = copy.rowCount
  await db.query(`DROP TABLE ${table}`)
  return { seconds, rows, postgresCpuSeconds }
}
