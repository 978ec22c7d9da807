import { createHash } from 'node:crypto'
import fs from 'node:fs/promises'
import path from 'node:path'
import pg from 'pg'
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest'
import { COLUMNS, generateRecords } from '../lib/csv/generate'
import { formatCount } from '../lib/format'
import type { ImportDto } from '../lib/imports/schemas'
import { freePort } from '../lib/server/free-port'
import type { SessionDto } from '../lib/sessions/schemas'
import { appFetch, createDatabase, health, signInForTests, TEST_ADMIN, sleep, startApp, tempDir, type AppProcess } from '../test/app-process'
import { runNpm, startNpm, type CliRun } from '../test/cli-process'
import { startFaultyProxy, type FaultyProxy } from '../test/faulty-proxy'
import { SLUICE_SEARCH_PATH } from '../lib/db/sluice-schema'

// `npm run upload` as a user runs it, against the app as `npm start` runs it (a database of its
// own, small batch limits so that the batch mode meets its 413s), and through a proxy that
// stalls an upload or loses an answer on demand. Results are read back over HTTP and SQL.

const MAX_RECORDS = 700
const MAX_BYTES = 256 * 1024
let dir: string
let dataDir: string
let app: AppProcess
let db: pg.Pool
let proxy: FaultyProxy
let apiKey: string
const running: CliRun[] = []

beforeAll(async () => {
  dir = await tempDir('sluice-upload-cli-')
  dataDir = path.join(dir, 'data')
  const databaseUrl = await createDatabase('sluice_upload_cli_test')
  db = new pg.Pool({ connectionString: databaseUrl, options: SLUICE_SEARCH_PATH })
  app = startApp({
    PORT: String(await freePort()),
    DATA_DIR: dataDir,
    DATABASE_URL: databaseUrl,
    MAX_BATCH_RECORDS: String(MAX_RECORDS),
    MAX_BATCH_BYTES: String(MAX_BYTES),
  })
  expect(await health(app.url)).toEqual({ ok: true })
  apiKey = await signInForTests(app.url)
  proxy = await startFaultyProxy(app.url)
}, 120_000)

afterEach(() => {
  for (const run of running.splice(0)) if (run.child.exitCode === null && run.child.signalCode === null) run.kill()
  proxy.requests = []
  proxy.patchBytes = 0
  proxy.stallPatchesAt = Infinity
  proxy.mostOpen = 0
  proxy.loseAnswer = () => false
})

afterAll(async () => {
  await proxy?.close()
  app?.child.kill('SIGTERM')
  await app?.exited
  await db?.end()
  await fs.rm(dir, { recursive: true, force: true })
})

/**
 * Each command gets its own cache folder, where the upload keeps what it needs to resume, and
 * config folder (empty: the key comes from SLUICE_API_KEY).
 */
async function cacheEnv(key = apiKey) {
  const cache = await fs.mkdtemp(path.join(dir, 'cache-'))
  return { XDG_CACHE_HOME: cache, XDG_CONFIG_HOME: path.join(cache, 'config'), SLUICE_API_KEY: key }
}

async function generate(name: string, rows: number, seed: number) {
  const file = path.join(dir, name)
  const run = await runNpm('generate', ['--rows', String(rows), '--out', file, '--seed', String(seed)])
  expect(run.code).toBe(0)
  return { file, size: (await fs.stat(file)).size }
}

const api = async <T>(route: string): Promise<T> => (await appFetch(`${app.url}${route}`)).json() as Promise<T>
const importOfUpload = async (uploadId: string) => (await api<{ imports: ImportDto[] }>(`/api/imports?upload=${uploadId}`)).imports
const rowsInTable = async (imp: ImportDto) => Number((await db.query(`SELECT count(*) AS n FROM ${imp.tableName}`)).rows[0].n)
const sha256 = (data: Buffer | string) => createHash('sha256').update(data).digest('hex')
const exported = async (imp: ImportDto) => Buffer.from(await (await appFetch(`${app.url}/api/imports/${imp.id}/export.csv`)).arrayBuffer())
// npm's own complaints about the machine's configuration, not the command's output.
const withoutNpmWarnings = (stderr: string) => stderr.replace(/^npm warn .*\n/gm, '')
const uploadIdIn = (stdout: string) => /as upload ([0-9a-f]+)\n/.exec(stdout)?.[1]

async function until(what: string, check: () => Promise<boolean> | boolean, ms = 30_000) {
  const deadline = Date.now() + ms
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`waited ${ms / 1000} s for ${what}`)
    await sleep(50)
  }
}

describe('npm run upload -- FILE', () => {
  it('uploads a generated file, follows its import to PROCESSED and exits 0, printing plain progress lines when not on a terminal', async () => {
    const { file, size } = await generate('plain.csv', 30_000, 1)
    const run = await runNpm('upload', [file, '--url', app.url], await cacheEnv())
    expect(withoutNpmWarnings(run.stderr)).toBe('')
    expect(run.code).toBe(0)

    const uploadId = uploadIdIn(run.stdout)!
    expect(run.stdout).toContain(`Uploading plain.csv (${(size / 2 ** 20).toFixed(1)} MiB) as upload ${uploadId}\n`)
    expect(run.stdout).toMatch(/^Uploading 100% \| 3\.\d MiB of 3\.\d MiB \| .*done$/m)
    expect(run.stdout).toMatch(/^Importing 100% \| 3\.\d MiB of 3\.\d MiB \| 30,000 rows \| .*done$/m)
    expect(run.stdout).not.toContain('\x1b') // no escape codes in a log

    const [imp] = await importOfUpload(uploadId)
    expect(imp).toMatchObject({ status: 'PROCESSED', fileName: 'plain.csv', rowsImported: 30_000, rowsRejected: 0, bytesProcessed: size, totalBytes: size })
    expect(await rowsInTable(imp!)).toBe(30_000)
    expect(run.stdout).toContain(`Imported 30,000 rows (0 rejected) into ${imp!.tableName}\nSee ${app.url}/imports/${imp!.id}\n`)
  }, 120_000)

  it('resumes an upload killed halfway from where the server stopped, and imports every row once', async () => {
    const { file, size } = await generate('resumed.csv', 150_000, 2)
    const env = await cacheEnv()
    const stallAt = 8 * 2 ** 20
    proxy.stallPatchesAt = stallAt
    const first = startNpm('upload', [file, '--url', proxy.url], env)
    running.push(first)
    await until('8 MiB to pass the proxy', () => proxy.patchBytes === stallAt)
    const uploadId = uploadIdIn(first.stdout())!
    const stored = path.join(dataDir, 'uploads', uploadId)
    await until('the server to store them', async () => (await fs.stat(stored).catch(() => ({ size: 0 }))).size === stallAt)
    first.kill('SIGKILL')
    expect((await first.done).code).toBe(null)

    proxy.stallPatchesAt = Infinity
    proxy.patchBytes = 0
    proxy.requests = []
    const second = await runNpm('upload', [file, '--url', proxy.url], env)
    expect(second.code).toBe(0)
    expect(second.stdout).toContain(`Resuming upload ${uploadId} of resumed.csv from byte ${formatCount(stallAt)} of ${formatCount(size)}`)
    // Only what was missing went over the wire, to the same upload.
    expect(proxy.patchBytes).toBe(size - stallAt)
    expect(proxy.requests.filter((r) => r.method === 'POST' && r.path === '/api/uploads')).toEqual([])

    const [imp] = await importOfUpload(uploadId)
    expect(imp).toMatchObject({ status: 'PROCESSED', rowsImported: 150_000, rowsRejected: 0, totalBytes: size })
    expect(await rowsInTable(imp!)).toBe(150_000)
    expect(sha256(await exported(imp!))).toBe(sha256(await fs.readFile(file)))
    // A finished upload is forgotten: the same file sent again later is a new upload.
    expect(JSON.parse(await fs.readFile(path.join(env.XDG_CACHE_HOME, 'sluice', 'uploads.json'), 'utf8'))).toEqual({})
  }, 180_000)

  it('stops on Ctrl-C and says how to resume', async () => {
    const { file } = await generate('interrupted.csv', 30_000, 4)
    proxy.stallPatchesAt = 2 ** 20
    const run = startNpm('upload', [file, '--url', proxy.url], await cacheEnv())
    running.push(run)
    await until('1 MiB to pass the proxy', () => proxy.patchBytes === 2 ** 20)
    run.kill('SIGINT') // what Ctrl-C sends: to every process of the terminal's foreground group
    const { stderr } = await run.done
    expect(run.child.signalCode).toBe('SIGINT') // npm's own answer to Ctrl-C: the shell shows 130
    // What tus-js-client last reported as sent (its progress events come at most every 100 ms).
    expect(stderr).toMatch(/^Interrupted after \d+(\.\d)? (bytes|KiB|MiB) of 3\.\d MiB: run the same command again to resume$/m)
  }, 60_000)

  it('exits 1 with the reason when the import fails, when the server is not there, and 2 for bad flags', async () => {
    const png = path.join(dir, 'photo.csv')
    await fs.writeFile(png, Buffer.concat([Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]), Buffer.alloc(1000, 7)]))
    const failed = await runNpm('upload', [png, '--url', app.url], await cacheEnv())
    expect(failed.code).toBe(1)
    const [imp] = await importOfUpload(uploadIdIn(failed.stdout)!)
    expect(imp).toMatchObject({ status: 'FAILED', error: 'This file is a PNG image, not a CSV file' })
    expect(failed.stderr).toContain(`The import failed: This file is a PNG image, not a CSV file (its page: ${app.url}/imports/${imp!.id})`)

    const nobody = `http://localhost:${await freePort()}`
    const unreachable = await runNpm('upload', [png, '--url', nobody], await cacheEnv())
    expect(unreachable.code).toBe(1)
    expect(unreachable.stderr).toContain(`Cannot reach Sluice at ${nobody} (ECONNREFUSED): is it running? Start it with \`npm start\`, or give its address with --url`)

    const missing = await runNpm('upload', [path.join(dir, 'nothing.csv'), '--url', app.url])
    expect(missing.code).toBe(1)
    expect(missing.stderr).toContain(`No such file: ${path.join(dir, 'nothing.csv')}`)
    const noFile = await runNpm('upload', [])
    expect(noFile.code).toBe(2)
    expect(noFile.stderr).toContain('give the CSV file to upload\nusage: npm run upload -- FILE [--url URL]')
    const rowsWithoutBatch = await runNpm('upload', [png, '--rows', '10'])
    expect(rowsWithoutBatch.code).toBe(2)
    expect(rowsWithoutBatch.stderr).toContain('--rows goes with --batch')
  }, 120_000)
})

describe('npm run upload -- --batch', () => {
  it('sends generated records within the server’s limits, survives a lost answer without sending a record twice, and finishes PROCESSED', async () => {
    // The answer to the fifth batch request (the third applied) is lost after the server applied
    // it: sent again with its sequence, it is not applied twice.
    let batchAnswers = 0
    proxy.loseAnswer = (r) => r.path.endsWith('/batches') && ++batchAnswers === 5
    // One JSON batch at a time, so that the order of the answers is known.
    const run = await runNpm('upload', ['--batch', '--rows', '5000', '--seed', '3', '--format', 'json', '--in-flight', '1', '--url', proxy.url], await cacheEnv())
    expect(withoutNpmWarnings(run.stderr)).toBe('')
    expect(run.code).toBe(0)

    const batches = proxy.requests.filter((r) => r.path.endsWith('/batches'))
    // 5,000 records at once are refused for their bytes (256 KiB), the next try for its
    // records (700), then 8 batches of at most 700 go through, one of them twice.
    expect(batches.map((r) => r.status)).toEqual([413, 413, 200, 200, 502, 200, 200, 200, 200, 200, 200])
    expect(batches.map((r) => r.status === 200 && (JSON.parse(r.body) as { applied: boolean }).applied)).toEqual([
      false, false, true, true, false, false, true, true, true, true, true,
    ])
    const sessionId = /^Opened session ([0-9a-f-]+) /m.exec(run.stdout)![1]!
    const session = await api<SessionDto>(`/api/sessions/${sessionId}`)
    expect(session).toMatchObject({ status: 'FINISHED', recordsReceived: 5000, batchesReceived: 8 })

    const imp = await api<ImportDto>(`/api/imports/${session.importId}`)
    expect(imp).toMatchObject({ status: 'PROCESSED', fileName: 'generated-5000', rowsImported: 5000, rowsRejected: 0 })
    expect(run.stdout).toContain(`Finished session ${sessionId}: 5,000 records in 8 batches, import ${imp.id} PROCESSED with 5,000 rows in ${imp.tableName}`)
    // Every record once, in order, as generateRecords made it.
    const { rows } = await db.query(`SELECT ${COLUMNS.join(', ')} FROM ${imp.tableName} ORDER BY _sluice_row`)
    const records = generateRecords(3)
    expect(rows).toEqual(Array.from({ length: 5000 }, () => records.next().value))
  }, 120_000)

  it.each(['ndjson', 'csv'])('sends %s (NDJSON by default) several batches at a time, each record once, and says how many records a second', async (format) => {
    // A lost answer again: its batch goes again with its sequence while the others go on.
    let batchAnswers = 0
    proxy.loseAnswer = (r) => r.path.endsWith('/batches?sequence=4') && ++batchAnswers === 1
    const flags = format === 'ndjson' ? [] : ['--format', format]
    const run = await runNpm('upload', ['--batch', '--rows', '6000', '--seed', '4', '--batch-size', '500', ...flags, '--url', proxy.url], await cacheEnv())
    expect(withoutNpmWarnings(run.stderr)).toBe('')
    expect(run.code).toBe(0)
    expect(run.stdout).toContain(`sending 6,000 records as ${format.toUpperCase()} in batches of 500, 3 at a time`)
    expect(run.stdout).toMatch(/^Sent 6,000 records in \d+\.\d s: [\d,]+ records\/s$/m)

    const batches = proxy.requests.filter((r) => r.path.includes('/batches'))
    // 12 batches of 500 (within both of the server's limits), the one whose answer was lost twice.
    expect(batches.map((r) => r.status).sort()).toEqual([...Array<number>(12).fill(200), 502])
    expect(batches.filter((r) => r.path.endsWith('?sequence=4')).map((r) => r.status === 200 && (JSON.parse(r.body) as { applied: boolean }).applied)).toEqual([false, false])
    // Several at once (the proxy sees a request close a moment after its client has its answer, so not exactly 3).
    expect(proxy.mostOpen).toBeGreaterThanOrEqual(2)
    const sessionId = /^Opened session ([0-9a-f-]+) /m.exec(run.stdout)![1]!
    const session = await api<SessionDto>(`/api/sessions/${sessionId}`)
    expect(session).toMatchObject({ status: 'FINISHED', recordsReceived: 6000, batchesReceived: 12 })
    const imp = await api<ImportDto>(`/api/imports/${session.importId}`)
    expect(imp).toMatchObject({ status: 'PROCESSED', rowsImported: 6000, rowsRejected: 0 })
    // Every record once, as generateRecords made it (batches in flight together apply in any order).
    const { rows } = await db.query(`SELECT ${COLUMNS.join(', ')} FROM ${imp.tableName} ORDER BY id::bigint`)
    const records = generateRecords(4)
    expect(rows).toEqual(Array.from({ length: 6000 }, () => records.next().value))
  }, 120_000)

  it('meets the server’s limits with NDJSON batches in flight: a 413 half-way through a body applies nothing and comes as an answer, not a reset connection; its records go again in smaller batches', async () => {
    const run = await runNpm('upload', ['--batch', '--rows', '5000', '--seed', '5', '--url', proxy.url], await cacheEnv())
    expect(withoutNpmWarnings(run.stderr)).toBe('')
    expect(run.code).toBe(0)
    const statuses = proxy.requests.filter((r) => r.path.includes('/batches')).map((r) => r.status)
    // The first batch (5,000 records) is refused for its bytes, and batches then grow no larger than the limits.
    expect(statuses[0]).toBe(413)
    expect(statuses.filter((s) => s !== 413 && s !== 200)).toEqual([])
    const session = await api<SessionDto>(`/api/sessions/${/^Opened session ([0-9a-f-]+) /m.exec(run.stdout)![1]!}`)
    expect(session).toMatchObject({ status: 'FINISHED', recordsReceived: 5000, batchesReceived: statuses.filter((s) => s === 200).length })
    const imp = await api<ImportDto>(`/api/imports/${session.importId}`)
    const { rows } = await db.query(`SELECT ${COLUMNS.join(', ')} FROM ${imp.tableName} ORDER BY id::bigint`)
    const records = generateRecords(5)
    expect(rows).toEqual(Array.from({ length: 5000 }, () => records.next().value))
  }, 120_000)
})

describe('npm run login', () => {
  it('signs in once and stores a key only its user can read, which npm run upload then uses; a revoked key is refused with what to do', async () => {
    const env = await cacheEnv('')
    const wrong = await runNpm('login', ['--url', app.url], env, `${TEST_ADMIN.email}\nnot the password\n`)
    expect(wrong.code).toBe(1)
    expect(wrong.stderr).toContain('Wrong email or password.')

    const login = await runNpm('login', ['--url', app.url], env, `${TEST_ADMIN.email}\n${TEST_ADMIN.password}\n`)
    expect(withoutNpmWarnings(login.stderr)).toBe('')
    expect(login.code).toBe(0)
    const file = path.join(env.XDG_CONFIG_HOME, 'sluice', 'credentials.json')
    expect(login.stdout).toContain(`Signed in to ${app.url} as ${TEST_ADMIN.email}. The key for \`npm run upload\` is in ${file}`)
    expect((await fs.stat(file)).mode & 0o777).toBe(0o600)
    const stored = JSON.parse(await fs.readFile(file, 'utf8')) as { servers: Record<string, { key: string }> }
    const key = stored.servers[new URL(app.url).origin]!.key
    expect(key).toMatch(/^sluice_[A-Za-z]{64}$/)
    // The password is nowhere in what the command printed or stored.
    expect(login.stdout + JSON.stringify(stored)).not.toContain(TEST_ADMIN.password)

    const { file: csv } = await generate('after-login.csv', 1000, 5)
    const uploaded = await runNpm('upload', [csv, '--url', app.url], env)
    expect(uploaded.code).toBe(0)
    const [imp] = await importOfUpload(uploadIdIn(uploaded.stdout)!)
    expect(imp).toMatchObject({ status: 'PROCESSED', rowsImported: 1000 })

    const { keys } = (await (await appFetch(`${app.url}/api/keys`)).json()) as { keys: { id: string; start: string }[] }
    const made = keys.find((k) => key.startsWith(k.start))!
    expect((await appFetch(`${app.url}/api/keys/${made.id}`, { method: 'DELETE' })).status).toBe(204)
    const refused = await runNpm('upload', [csv, '--url', app.url], env)
    expect(refused.code).toBe(1)
    expect(refused.stderr).toContain('The server refused the API key (revoked, expired or mistyped): run `npm run login` again, or set SLUICE_API_KEY')

    const none = await runNpm('upload', [csv, '--url', app.url], await cacheEnv(''))
    expect(none.code).toBe(1)
    expect(none.stderr).toContain(`No API key for ${app.url}: run \`npm run login\` once`)
  }, 120_000)
})
