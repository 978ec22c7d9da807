import fs from 'node:fs/promises'
import { existsSync } from 'node:fs'
import path from 'node:path'
import pg from 'pg'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { generateCsv } from '../csv/generate'
import { freePort } from '../server/free-port'
import { appFetch, createDatabase, health, signInForTests, sleep, startApp, tempDir, uploadFile, type AppProcess } from '../../test/app-process'
import { importApi, processing, settled, tableExists } from '../../test/import-api'
import type { ImportDto } from './schemas'
import { SLUICE_SEARCH_PATH } from '../db/sluice-schema'

// The import engine driven over HTTP, against the app running as `npm start` runs it, with a
// database of its own. Small batches (256 KiB) give a million-row file about 300 batch
// boundaries, so pause, kill, stop and SIGKILL land mid-import.

const ROWS = 1_000_000
let dir: string
let csv: string
let databaseUrl: string
let db: pg.Pool
let app: AppProcess
let env: Record<string, string>

beforeAll(async () => {
  dir = await tempDir('sluice-imports-')
  csv = path.join(dir, 'million.csv')
  await generateCsv({ out: csv, rows: ROWS, seed: 7 })
  databaseUrl = await createDatabase('sluice_imports_test')
  db = new pg.Pool({ connectionString: databaseUrl, options: SLUICE_SEARCH_PATH })
  env = {
    PORT: String(await freePort()),
    DATA_DIR: path.join(dir, 'data'),
    DATABASE_URL: databaseUrl,
    IMPORT_BATCH_BYTES: String(256 * 1024),
    PAUSE_TIMEOUT_SECONDS: '3',
  }
  await restartApp(env)
}, 120_000)

afterAll(async () => {
  if (process.env.SHOW_APP_OUTPUT) console.log(app?.output())
  if (app.child.exitCode === null) {
    app.child.kill('SIGTERM')
    await app.exited
  }
  await db.end()
  await fs.rm(dir, { recursive: true, force: true })
})

const { api, getImport, importOf, waitFor } = importApi(() => app.url)

/** Rows in the import's table, and how many distinct ids (the generator numbers rows 1..N). */
async function countRows(tableName: string) {
  const [schema, table] = tableName.split('.')
  const { rows } = await db.query(`SELECT count(*)::int AS rows, count(DISTINCT id)::int AS ids, max(id::int) AS max FROM "${schema}"."${table}"`)
  return rows[0] as { rows: number; ids: number; max: number }
}

/** Starts the app (again) with `settings` and waits until it serves. */
async function restartApp(settings: Record<string, string>) {
  app = startApp(settings)
  expect(await health(app.url)).toEqual({ ok: true })
  await signInForTests(app.url)
}

/** Waits for the import to end, and checks it is PROCESSED with every row of the file exactly once. */
async function expectEveryRowOnce(id: string): Promise<ImportDto> {
  const done = await waitFor(id, settled)
  expect(done).toMatchObject({ status: 'PROCESSED', rowsImported: ROWS })
  expect(await countRows(done.tableName)).toEqual({ rows: ROWS, ids: ROWS, max: ROWS })
  return done
}

async function getImportFromDatabase(id: string) {
  return (await db.query('SELECT status, rows_imported FROM imports WHERE id = $1', [id])).rows[0] as { status: string; rows_imported: string }
}

async function uploadAndStart(name: string) {
  const imp = await importOf(await uploadFile(app.url, csv, name))
  return waitFor(imp.id, processing)
}

describe('imports over HTTP', () => {
  it('imports a million rows, each exactly once and exactly as in the file', async () => {
    const uploadId = await uploadFile(app.url, csv, 'million.csv')
    const started = await importOf(uploadId)
    expect(started).toMatchObject({ uploadId, fileName: 'million.csv', totalBytes: (await fs.stat(csv)).size })
    const done = await waitFor(started.id, settled)
    expect(done).toMatchObject({ status: 'PROCESSED', rowsImported: ROWS, rowsRejected: 0, bytesProcessed: done.totalBytes, error: null })
    expect(done.columns.map((c) => c.header)).toEqual(['id', 'created_on', 'updated_at', 'customer', 'email', 'amount', 'category', 'note'])
    expect(await countRows(done.tableName)).toEqual({ rows: ROWS, ids: ROWS, max: ROWS })

    // The first records, as csv-parse reads the file, come back value for value.
    const { parse } = await import('csv-parse/sync')
    const head = (await fs.readFile(csv)).subarray(0, 64 * 1024).toString('utf8')
    const records = (parse(head, { relax_column_count: true, to: 11 }) as string[][]).slice(1)
    const { body } = await api('GET', `/api/imports/${done.id}/rows?limit=10`)
    expect(body.rows.map((r: Record<string, string>) => Object.values(r).map((v) => v ?? ''))).toEqual(records)
  }, 120_000)

  it('pause holds the row count still, and resume completes the import', async () => {
    const imp = await uploadAndStart('pause.csv')
    const paused = await api('POST', `/api/imports/${imp.id}/pause`)
    expect(paused.status).toBe(200)
    expect(paused.body).toMatchObject({ status: 'PAUSED' })
    expect(Date.parse(paused.body.pauseExpiresAt) - Date.parse(paused.body.pausedAt)).toBe(3000)
    const held = paused.body.rowsImported
    expect(held).toBeGreaterThan(0)
    expect(held).toBeLessThan(ROWS)
    await sleep(1500)
    expect(await getImport(imp.id)).toMatchObject({ status: 'PAUSED', rowsImported: held })
    expect((await countRows(paused.body.tableName)).rows).toBe(held)

    const resumed = await api('POST', `/api/imports/${imp.id}/resume`)
    expect(resumed.status).toBe(200)
    expect(['QUEUED', 'PROCESSING']).toContain(resumed.body.status)
    expect((await expectEveryRowOnce(imp.id)).pausedAt).toBeNull()
  }, 120_000)

  it('stop removes every row, the table and the uploaded file', async () => {
    const imp = await uploadAndStart('stop.csv')
    const stopped = await api('POST', `/api/imports/${imp.id}/stop`)
    expect(stopped.status).toBe(200)
    expect(stopped.body).toMatchObject({ status: 'STOPPED', rowsImported: 0, rowsRejected: 0 })
    expect(await tableExists(db, imp.tableName)).toBe(false)
    expect(existsSync(path.join(env.DATA_DIR!, 'uploads', imp.uploadId!))).toBe(false)
    expect((await api('GET', `/api/imports/${imp.id}/rows`)).body.rows).toEqual([])
    await sleep(500) // a batch that was in flight must not bring anything back
    expect(await getImport(imp.id)).toMatchObject({ status: 'STOPPED', rowsImported: 0 })
    expect(await tableExists(db, imp.tableName)).toBe(false)
  }, 60_000)

  it('kill keeps exactly the committed rows, and resume completes them', async () => {
    const imp = await uploadAndStart('kill.csv')
    const killed = await api('POST', `/api/imports/${imp.id}/kill`)
    expect(killed.status).toBe(200)
    expect(killed.body.status).toBe('KILLED')
    const kept = killed.body.rowsImported
    await sleep(500)
    expect(await getImport(imp.id)).toMatchObject({ status: 'KILLED', rowsImported: kept })
    expect((await countRows(imp.tableName)).rows).toBe(kept)
    // Its file is still needed, so tus termination is refused.
    const deleted = await appFetch(`${app.url}/api/uploads/${imp.uploadId}`, { method: 'DELETE', headers: { 'Tus-Resumable': '1.0.0' } })
    expect(deleted.status).toBe(409)
    expect(await deleted.text()).toBe(`This upload is being imported (import ${imp.id} is killed): stop the import to remove it\n`)

    expect((await api('POST', `/api/imports/${imp.id}/resume`)).status).toBe(200)
    await expectEveryRowOnce(imp.id)
  }, 120_000)

  it('the same file dropped again resumes its KILLED import instead of importing it twice', async () => {
    const imp = await uploadAndStart('again.csv')
    const killed = (await api('POST', `/api/imports/${imp.id}/kill`)).body as ImportDto
    expect(killed.status).toBe('KILLED')

    const secondUpload = await uploadFile(app.url, csv, 'again.csv')
    const resumed = await importOf(secondUpload)
    expect(resumed.id).toBe(imp.id)
    expect(resumed.rowsImported).toBeGreaterThanOrEqual(killed.rowsImported)
    expect((await expectEveryRowOnce(imp.id)).uploadId).toBe(secondUpload)
    const all = (await api('GET', '/api/imports')).body.imports as ImportDto[]
    expect(all.filter((i) => i.fileName === 'again.csv').map((i) => i.id)).toEqual([imp.id])
    expect(existsSync(path.join(env.DATA_DIR!, 'uploads', imp.uploadId!))).toBe(false) // the first copy is gone
  }, 120_000)

  it('a pause longer than PAUSE_TIMEOUT_SECONDS ends the import as kill does, keeping its rows, and resume finishes it', async () => {
    const imp = await uploadAndStart('timeout.csv')
    const paused = (await api('POST', `/api/imports/${imp.id}/pause`)).body as ImportDto
    expect(paused.status).toBe('PAUSED')
    const ended = await waitFor(imp.id, (i) => i.status !== 'PAUSED', 10_000)
    expect(ended).toMatchObject({
      status: 'KILLED',
      rowsImported: paused.rowsImported,
      pausedAt: null,
      error: 'Ended after a pause of more than 3 s; the rows imported so far are kept.',
    })
    expect(paused.rowsImported).toBeGreaterThan(0)
    expect((await countRows(imp.tableName)).rows).toBe(paused.rowsImported)
    expect(existsSync(path.join(env.DATA_DIR!, 'uploads', imp.uploadId!))).toBe(true)
    expect((await api('POST', `/api/imports/${imp.id}/resume`)).status).toBe(200)
    expect((await expectEveryRowOnce(imp.id)).error).toBeNull()
  }, 120_000)

  it('answers 409 for a transition the state machine does not allow, 404 for what does not exist', async () => {
    const file = path.join(dir, 'tiny.csv')
    await fs.writeFile(file, 'a,b\n1,2\n')
    const imp = await waitFor((await importOf(await uploadFile(app.url, file))).id, settled)
    expect(imp.status).toBe('PROCESSED')
    expect(await api('POST', `/api/imports/${imp.id}/pause`)).toEqual({
      status: 409,
      body: { error: { code: 'INVALID_TRANSITION', message: 'Cannot pause this import: it is processed, and only a processing import can be paused' } },
    })
    expect(await api('POST', `/api/imports/${imp.id}/resume`)).toEqual({
      status: 409,
      body: { error: { code: 'INVALID_TRANSITION', message: 'Cannot resume this import: it is processed, and only a paused, killed or failed import can be resumed' } },
    })
    expect((await api('POST', `/api/imports/${imp.id}/stop`)).status).toBe(409)
    expect((await api('POST', `/api/imports/${imp.id}/kill`)).status).toBe(409)
    expect(await api('POST', `/api/imports/${imp.id}/explode`)).toEqual({
      status: 404,
      body: { error: { code: 'NOT_FOUND', message: 'No command "explode": use pause, resume, stop, kill' } },
    })
    const missing = '00000000-0000-4000-8000-000000000000'
    expect(await api('POST', `/api/imports/${missing}/pause`)).toEqual({
      status: 404,
      body: { error: { code: 'NOT_FOUND', message: `No import with id ${missing}` } },
    })
    expect((await api('GET', '/api/imports/not-a-uuid')).status).toBe(404)
  })

  it('rejects ragged records with their line numbers and imports the rest exactly', async () => {
    const file = path.join(dir, 'ragged.csv')
    await fs.writeFile(file, ['a,b,c', '1,2,3', '4,5', '"multi', 'line",7,8', '', '9,10,11,12', '"x","y ", z', '"open,1,2'].join('\n'))
    const imp = await waitFor((await importOf(await uploadFile(app.url, file))).id, settled)
    expect(imp).toMatchObject({ status: 'PROCESSED', rowsImported: 3, rowsRejected: 3 })
    expect((await api('GET', `/api/imports/${imp.id}/rejects`)).body.rejects).toEqual([
      { line: 3, reason: 'expected 3 fields, found 2', record: '4,5' },
      { line: 7, reason: 'expected 3 fields, found 4', record: '9,10,11,12' },
      { line: 9, reason: 'a quoted field is not closed before the end of the file', record: '"open,1,2' },
    ])
    expect((await api('GET', `/api/imports/${imp.id}/rows`)).body.rows).toEqual([
      { a: '1', b: '2', c: '3' },
      { a: 'multi\nline', b: '7', c: '8' },
      { a: 'x', b: 'y ', c: ' z' },
    ])
  })

  it('a header-only file is a PROCESSED import of zero rows; an empty file FAILS with a message', async () => {
    const headerOnly = path.join(dir, 'header-only.csv')
    await fs.writeFile(headerOnly, 'Name,Name,\n')
    const imp = await waitFor((await importOf(await uploadFile(app.url, headerOnly))).id, settled)
    expect(imp).toMatchObject({ status: 'PROCESSED', rowsImported: 0, rowsRejected: 0 })
    expect(imp.columns).toEqual([
      { name: 'name', header: 'Name', type: 'text' },
      { name: 'name_2', header: 'Name', type: 'text' },
      { name: 'column_3', header: '', type: 'text' },
    ])
    const [schema, table] = imp.tableName.split('.')
    expect((await db.query(`SELECT count(*)::int AS n FROM "${schema}"."${table}"`)).rows).toEqual([{ n: 0 }])

    const empty = path.join(dir, 'empty.csv')
    await fs.writeFile(empty, '')
    const failed = await waitFor((await importOf(await uploadFile(app.url, empty))).id, settled)
    expect(failed).toMatchObject({ status: 'FAILED', error: 'The file is empty: there is no header and no data', rowsImported: 0 })
  })

  it('a server stopped with SIGTERM mid-import hands it back to the queue, and the next start finishes it', async () => {
    const imp = await uploadAndStart('sigterm.csv')
    app.child.kill('SIGTERM')
    expect(await app.exited).toBe(0)
    const handedBack = await getImportFromDatabase(imp.id)
    expect(handedBack.status).toBe('QUEUED')
    expect((await countRows(imp.tableName)).rows).toBe(Number(handedBack.rows_imported))

    await restartApp(env)
    await expectEveryRowOnce(imp.id)
  }, 120_000)

  it('after a SIGKILL of the server mid-import, the next start finishes it with every row once', async () => {
    const imp = await uploadAndStart('crash.csv')
    app.child.kill('SIGKILL')
    await app.exited
    const before = await countRows(imp.tableName)
    expect(before.rows).toBeGreaterThan(0)
    expect(before.rows).toBeLessThan(ROWS)

    await restartApp(env)
    await expectEveryRowOnce(imp.id)
  }, 120_000)

  it('runs imports in a separate `npm run worker` process, and kill reaches its batch there', async () => {
    app.child.kill('SIGTERM')
    await app.exited
    await restartApp({ ...env, IMPORT_WORKERS: '0' })
    const worker = startApp({ DATABASE_URL: databaseUrl, DATA_DIR: env.DATA_DIR!, IMPORT_BATCH_BYTES: env.IMPORT_BATCH_BYTES! }, 'scripts/worker.ts')
    try {
      const imp = await uploadAndStart('worker.csv')
      const killed = await api('POST', `/api/imports/${imp.id}/kill`)
      expect(killed.body.status).toBe('KILLED')
      await sleep(500)
      expect((await countRows(imp.tableName)).rows).toBe(killed.body.rowsImported)
      expect((await api('POST', `/api/imports/${imp.id}/resume`)).status).toBe(200)
      await expectEveryRowOnce(imp.id)
      expect(worker.output()).toContain('Sluice worker is running 2 import(s) at a time')
    } finally {
      worker.child.kill('SIGTERM')
      expect(await worker.exited).toBe(0)
    }
  }, 120_000)
})
