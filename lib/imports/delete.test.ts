import fs from 'node:fs/promises'
import path from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { generateCsv } from '../csv/generate'
import { appFetch, keyOfNewUser, sleep, startTestApp, type TestApp, uploadFile } from '../../test/app-process'
import { importApi, processing, tableExists } from '../../test/import-api'

// DELETE /api/imports/:id over HTTP: the import, its table, its uploaded file and its exports
// go for good; another person's import answers 404 and loses nothing.

let t: TestApp
const { api, importOf, waitFor } = importApi(() => t.app.url)
const uploadsDir = () => path.join(t.dir, 'data', 'uploads')
const exportsDir = () => path.join(t.dir, 'data', 'exports')
const exists = (file: string) => fs.stat(file).then(() => true, () => false)
const del = (id: string, init: RequestInit = {}) => appFetch(`${t.app.url}/api/imports/${id}`, { method: 'DELETE', ...init })

async function csvFile(name: string, rows: number): Promise<string> {
  const file = path.join(t.dir, name)
  await generateCsv({ out: file, rows, seed: rows })
  return file
}

beforeAll(async () => {
  // Small batches, so that an import of a few MB is still running when it is deleted.
  t = await startTestApp('delete', { IMPORT_BATCH_BYTES: String(64 * 1024), IMPORT_PARALLELISM: '1' })
}, 120_000)

afterAll(async () => {
  await t?.stop()
})

describe('deleting an import', () => {
  it("removes a finished import's table, uploaded file, exports and download link; another person gets 404 and loses nothing", async () => {
    const uploadId = await uploadFile(t.app.url, await csvFile('done.csv', 1000))
    const imp = await waitFor((await importOf(uploadId)).id, (i) => i.status === 'PROCESSED')
    expect(imp.rowsImported).toBe(1000)
    const created = await appFetch(`${t.app.url}/api/exports`, { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify({ importId: imp.id }) })
    expect(created.status).toBe(201)
    const exportId = ((await created.json()) as { id: string }).id
    for (let i = 0; i < 500 && (await api('GET', `/api/exports/${exportId}`)).body.status !== 'PROCESSED'; i++) await sleep(20)
    const shared = await api('POST', `/api/exports/${exportId}/link`)
    const linkUrl = new URL(shared.body.linkUrl as string, t.app.url)
    expect((await fetch(linkUrl)).status).toBe(200)
    expect(await exists(path.join(exportsDir(), `${exportId}.csv`))).toBe(true)
    expect(await exists(path.join(uploadsDir(), uploadId))).toBe(true)

    // Someone else, with a key of their own: 404, as if it did not exist, and nothing is removed.
    const malloryKey = await keyOfNewUser(t.app.url, { email: 'mallory@sluice.test', password: 'mallory-password-1', name: 'Mallory' })
    const refused = await fetch(`${t.app.url}/api/imports/${imp.id}`, { method: 'DELETE', headers: { Authorization: `Bearer ${malloryKey}` } })
    expect(refused.status).toBe(404)
    expect(await tableExists(t.db, imp.tableName)).toBe(true)

    const deleted = await del(imp.id)
    expect(deleted.status).toBe(204)
    expect(await deleted.text()).toBe('')
    expect(await tableExists(t.db, imp.tableName)).toBe(false)
    expect(await exists(path.join(uploadsDir(), uploadId))).toBe(false)
    expect(await exists(path.join(exportsDir(), `${exportId}.csv`))).toBe(false)
    expect((await api('GET', `/api/imports/${imp.id}`)).status).toBe(404)
    expect((await api('GET', `/api/exports/${exportId}`)).status).toBe(404)
    expect((await fetch(linkUrl)).status).toBe(404)
    const left = await t.db.query(
      `SELECT (SELECT count(*) FROM imports WHERE id = $1)::int AS imports, (SELECT count(*) FROM import_batches WHERE import_id = $1)::int AS batches,
              (SELECT count(*) FROM exports WHERE import_id = $1)::int AS exports`,
      [imp.id],
    )
    expect(left.rows[0]).toEqual({ imports: 0, batches: 0, exports: 0 })
    // Deleted once: again is 404.
    expect((await del(imp.id)).status).toBe(404)
  })

  it('stops an import still running first: its table and file go, and it never comes back', async () => {
    const uploadId = await uploadFile(t.app.url, await csvFile('running.csv', 200_000))
    const imp = await waitFor((await importOf(uploadId)).id, processing)
    expect((await del(imp.id)).status).toBe(204)
    expect(await tableExists(t.db, imp.tableName)).toBe(false)
    expect(await exists(path.join(uploadsDir(), uploadId))).toBe(false)
    // The worker's next batch finds no import to write for.
    await sleep(500)
    expect((await t.db.query('SELECT count(*)::int AS n FROM imports WHERE id = $1', [imp.id])).rows[0].n).toBe(0)
    expect(await tableExists(t.db, imp.tableName)).toBe(false)
  })

  it('two deletes at once: one 204, the other 404', async () => {
    const uploadId = await uploadFile(t.app.url, await csvFile('twice.csv', 100))
    const imp = await waitFor((await importOf(uploadId)).id, (i) => i.status === 'PROCESSED')
    const statuses = (await Promise.all([del(imp.id), del(imp.id), del(imp.id)])).map((r) => r.status).sort()
    expect(statuses).toEqual([204, 404, 404])
    expect(await tableExists(t.db, imp.tableName)).toBe(false)
  })

  it('two deletes at once while a reader holds the table: the second no longer cancels the first one\'s DROP (was a 500)', async () => {
    const uploadId = await uploadFile(t.app.url, await csvFile('held.csv', 100))
    const imp = await waitFor((await importOf(uploadId)).id, (i) => i.status === 'PROCESSED')
    // A reader idle in its transaction ignores a cancel: the first DROP waits a second for it.
    const reader = await t.db.connect()
    reader.on('error', () => {})
    try {
      await reader.query(`BEGIN; SELECT count(*) FROM ${imp.tableName}`)
      const first = del(imp.id)
      // The second comes once the first's DROP waits for the reader.
      const dropWaiting = async () =>
        (await t.db.query("SELECT count(*)::int AS n FROM pg_stat_activity WHERE wait_event_type = 'Lock' AND query LIKE 'DROP TABLE%'")).rows[0].n === 1
      while (!(await dropWaiting())) await sleep(20)
      const statuses = (await Promise.all([first, del(imp.id)])).map((r) => r.status)
      expect(statuses).toEqual([204, 404])
      expect(await tableExists(t.db, imp.tableName)).toBe(false)
    } finally {
      reader.release(true)
    }
  })

  it('answers 404 for an id that is not one and for one that names nothing, as GET does', async () => {
    expect((await del('not-an-id')).status).toBe(404)
    expect((await del('00000000-0000-4000-8000-000000000000')).status).toBe(404)
  })
})
