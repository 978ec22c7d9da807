import fs from 'node:fs/promises'
import path from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { generateCsv } from '../csv/generate'
import { appFetch, sleep, startTestApp, type TestApp, uploadFile } from '../../test/app-process'
import { importApi, processing } from '../../test/import-api'

// The uploaded file of a finished import is deleted once its rows are in (unless
// KEEP_UPLOADED_FILES is set, as the other tests run): a killed import keeps it to resume from.
// An import read on its own says what it occupies on disk and in the database.

let t: TestApp
const { api, importOf, waitFor } = importApi(() => t.app.url)
const exists = (file: string) => fs.stat(file).then(() => true, () => false)
const uploaded = (uploadId: string) => path.join(t.dir, 'data', 'uploads', uploadId)

beforeAll(async () => {
  t = await startTestApp('retention', { KEEP_UPLOADED_FILES: '', IMPORT_BATCH_BYTES: String(64 * 1024), IMPORT_PARALLELISM: '1' })
}, 120_000)

afterAll(async () => {
  await t?.stop()
})

async function untilGone(file: string) {
  for (let i = 0; i < 200 && (await exists(file)); i++) await sleep(25)
  return !(await exists(file))
}

describe('the uploaded file of an import', () => {
  it('is deleted once the import is PROCESSED, and the import says it occupies no file', async () => {
    const file = path.join(t.dir, 'small.csv')
    await generateCsv({ out: file, rows: 1000, seed: 1 })
    const uploadId = await uploadFile(t.app.url, file)
    const imp = await waitFor((await importOf(uploadId)).id, (i) => i.status === 'PROCESSED')
    expect(await untilGone(uploaded(uploadId))).toBe(true)
    expect(await exists(`${uploaded(uploadId)}.json`)).toBe(false)
    const read = (await api('GET', `/api/imports/${imp.id}`)).body
    expect(read.storage.fileBytes).toBe(0)
    const { rows } = await t.db.query(`SELECT sum(pg_total_relation_size(relid))::bigint AS n FROM pg_partition_tree('${imp.tableName}')`)
    expect(read.storage.tableBytes).toBe(Number(rows[0].n))
    expect(read.storage.tableBytes).toBeGreaterThan(0)
  })

  it('is kept while the import is killed, so that resume finishes it; then it goes', async () => {
    const file = path.join(t.dir, 'big.csv')
    await generateCsv({ out: file, bytes: 3 * 1024 * 1024, seed: 2 })
    const { size } = await fs.stat(file)
    const uploadId = await uploadFile(t.app.url, file)
    const running = await waitFor((await importOf(uploadId)).id, processing)
    expect((await api('POST', `/api/imports/${running.id}/kill`)).status).toBe(200)
    await waitFor(running.id, (i) => i.status === 'KILLED')
    expect((await fs.stat(uploaded(uploadId))).size).toBe(size)
    expect((await api('GET', `/api/imports/${running.id}`)).body.storage.fileBytes).toBe(size)
    expect((await api('POST', `/api/imports/${running.id}/resume`)).status).toBe(200)
    const done = await waitFor(running.id, (i) => i.status === 'PROCESSED')
    expect(done.rowsRejected).toBe(0)
    const { rows } = await t.db.query(`SELECT count(*)::int AS n, count(DISTINCT id)::int AS ids FROM ${done.tableName}`)
    expect(rows[0]).toEqual({ n: done.rowsImported, ids: done.rowsImported })
    expect(await untilGone(uploaded(uploadId))).toBe(true)
    const res = await appFetch(`${t.app.url}/api/imports/${done.id}/export.csv`)
    expect(res.status).toBe(200)
    expect(Buffer.from(await res.arrayBuffer()).equals(await fs.readFile(file))).toBe(true)
  })
})
