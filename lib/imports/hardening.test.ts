import fs from 'node:fs/promises'
import { existsSync } from 'node:fs'
import path from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { generateCsv } from '../csv/generate'
import { appFetch, sleep, startTestApp, uploadFile, type TestApp } from '../../test/app-process'
import { importApi, processing, settled, tableExists } from '../../test/import-api'
import type { ImportDto } from './schemas'

// Regressions from the adversarial review (issue 17), each named after the defect it pins,
// driven over HTTP against the app as `npm start` runs it, with a database of its own.

const ROWS = 300_000
let t: TestApp
let csv: string

beforeAll(async () => {
  t = await startTestApp('hardening', { IMPORT_BATCH_BYTES: String(64 * 1024), MAX_LINE_BYTES: '1024', MAX_EXPORT_STREAMS: '2' })
  csv = path.join(t.dir, 'rows.csv')
  await generateCsv({ out: csv, rows: ROWS, seed: 11 })
}, 120_000)

afterAll(() => t?.stop())

const { api, importsOf, importOf, waitFor } = importApi(() => t.app.url)
const uploadPath = (uploadId: string) => path.join(t.env.DATA_DIR!, 'uploads', uploadId)
const tus = { 'Tus-Resumable': '1.0.0' }

async function countRows(tableName: string) {
  const [schema, table] = tableName.split('.')
  const { rows } = await t.db.query(`SELECT count(*)::int AS rows, count(DISTINCT id)::int AS ids FROM "${schema}"."${table}"`)
  return rows[0] as { rows: number; ids: number }
}

async function smallFile(name: string, body: string) {
  const file = path.join(t.dir, name)
  await fs.writeFile(file, body)
  return file
}

describe('hardening', () => {
  it('an empty PATCH to a finished upload starts no second import', async () => {
    const file = await smallFile('finished.csv', 'a,b\n1,2\n3,4\n')
    const uploadId = await uploadFile(t.app.url, file)
    const first = await waitFor((await importOf(uploadId)).id, settled)
    expect(first).toMatchObject({ status: 'PROCESSED', rowsImported: 2 })
    for (let i = 0; i < 2; i++) {
      const res = await appFetch(`${t.app.url}/api/uploads/${uploadId}`, {
        method: 'PATCH',
        headers: { ...tus, 'Upload-Offset': '12', 'Content-Type': 'application/offset+octet-stream', 'Content-Length': '0' },
        body: '',
      })
      expect(res.status).toBe(204)
      expect(res.headers.get('Upload-Offset')).toBe('12')
    }
    await sleep(300)
    expect((await t.db.query('SELECT count(*)::int AS n FROM imports WHERE upload_id = $1', [uploadId])).rows).toEqual([{ n: 1 }])
    expect((await importsOf(uploadId)).map((i) => i.id)).toEqual([first.id])
  })

  it('a KILLED file dropped twice at the same instant is resumed once and never imported twice', async () => {
    const imp = await waitFor((await importOf(await uploadFile(t.app.url, csv, 'twice.csv'))).id, processing)
    const killed = (await api('POST', `/api/imports/${imp.id}/kill`)).body as ImportDto
    expect(killed.status).toBe('KILLED')

    const [a, b] = await Promise.all([uploadFile(t.app.url, csv, 'twice.csv'), uploadFile(t.app.url, csv, 'twice.csv')])
    expect((await importOf(a)).id).toBe(imp.id)
    expect((await importOf(b)).id).toBe(imp.id)
    const done = await waitFor(imp.id, settled)
    expect(done).toMatchObject({ status: 'PROCESSED', rowsImported: ROWS })
    expect(await countRows(done.tableName)).toEqual({ rows: ROWS, ids: ROWS })
    expect((await t.db.query(`SELECT count(*)::int AS n FROM imports WHERE file_name = 'twice.csv'`)).rows).toEqual([{ n: 1 }])
  }, 120_000)

  it('a FAILED import can be stopped, which removes its partial table and its file', async () => {
    // About 5 MiB of short records (past the 4 MiB the sniffer reads), then a record longer than a batch
    // (64 KiB) and MAX_LINE_BYTES.
    const lines = ['n,word']
    for (let i = 1; i <= 400_000; i++) lines.push(`${i},w${i}`)
    const file = await smallFile('fails-late.csv', `${lines.join('\n')}\n400001,${'x'.repeat(70_000)}\n400002,end\n`)
    const uploadId = await uploadFile(t.app.url, file)
    const failed = await waitFor((await importOf(uploadId)).id, settled)
    expect(failed.status).toBe('FAILED')
    expect(failed.rowsImported).toBeGreaterThan(0)
    expect(await tableExists(t.db, failed.tableName)).toBe(true)

    const stopped = await api('POST', `/api/imports/${failed.id}/stop`)
    expect(stopped.status).toBe(200)
    expect(stopped.body).toMatchObject({ status: 'STOPPED', rowsImported: 0, rowsRejected: 0 })
    expect(await tableExists(t.db, failed.tableName)).toBe(false)
    expect(existsSync(uploadPath(uploadId))).toBe(false)
  }, 60_000)

  it('a DELETE of an upload under import with its id percent-encoded is refused like the plain id', async () => {
    const imp = await waitFor((await importOf(await uploadFile(t.app.url, csv, 'encoded.csv'))).id, processing)
    expect((await api('POST', `/api/imports/${imp.id}/kill`)).body.status).toBe('KILLED')
    const uploadId = imp.uploadId!
    const encoded = `%${uploadId.charCodeAt(0).toString(16)}${uploadId.slice(1)}`
    for (const id of [uploadId, encoded]) {
      const res = await appFetch(`${t.app.url}/api/uploads/${id}`, { method: 'DELETE', headers: tus })
      expect(res.status).toBe(409)
      expect(await res.text()).toBe(`This upload is being imported (import ${imp.id} is killed): stop the import to remove it\n`)
    }
    expect(existsSync(uploadPath(uploadId))).toBe(true)
    expect((await api('POST', `/api/imports/${imp.id}/stop`)).status).toBe(200)
  }, 60_000)

  it('a DELETE racing the last PATCH never leaves an import without its file', async () => {
    const body = 'a,b\n1,2\n3,4\n5,6\n'
    const outcomes = await Promise.all(
      Array.from({ length: 12 }, async () => {
        const created = await appFetch(`${t.app.url}/api/uploads`, {
          method: 'POST',
          headers: { ...tus, 'Upload-Length': String(body.length), 'Upload-Metadata': `filename ${Buffer.from('race.csv').toString('base64')}` },
        })
        const url = new URL(created.headers.get('Location')!, t.app.url)
        const [patch, del] = await Promise.all([
          appFetch(url, { method: 'PATCH', headers: { ...tus, 'Upload-Offset': '0', 'Content-Type': 'application/offset+octet-stream' }, body }),
          appFetch(url, { method: 'DELETE', headers: tus }),
        ])
        const outcome = { uploadId: url.pathname.split('/').pop()!, patch: patch.status, del: del.status }
        return outcome
      }),
    )
    expect(t.app.output()).not.toContain('tus request failed')
    for (const { uploadId, patch, del } of outcomes) {
      const imports = await importsOf(uploadId)
      expect(imports).toHaveLength(1) // the import starts with the upload
      if (del === 204) {
        // Cancelled before its last byte: the import that followed it stopped with it. Or it
        // was already done with the file. Never FAILED for a file that went missing.
        const imp = await waitFor(imports[0]!.id, settled)
        if (imp.status === 'STOPPED') expect(imp).toMatchObject({ rowsImported: 0, error: 'The upload was cancelled before the whole file arrived, so its import was stopped' })
        else expect(imp).toMatchObject({ status: 'PROCESSED', rowsImported: 3 })
      } else {
        expect([patch, del]).toEqual([204, 409])
        expect(imports).toHaveLength(1)
        expect(await waitFor(imports[0]!.id, settled)).toMatchObject({ status: 'PROCESSED', rowsImported: 3 })
      }
    }
  }, 60_000)

  it('a NUL in tus metadata answers 400 with a message, not 500 with the database\'s text', async () => {
    const res = await appFetch(`${t.app.url}/api/uploads`, {
      method: 'POST',
      headers: { ...tus, 'Upload-Length': '10', 'Upload-Metadata': `filename ${Buffer.from('a\0b.csv').toString('base64')}` },
    })
    expect(res.status).toBe(400)
    expect(await res.text()).toBe('"filename" must not contain control characters')
  })

  it('creation-with-upload with a body longer than Upload-Length answers 413 and leaves no upload behind', async () => {
    const before = (await t.db.query('SELECT count(*)::int AS n FROM uploads')).rows[0].n
    const res = await appFetch(`${t.app.url}/api/uploads`, {
      method: 'POST',
      headers: { ...tus, 'Upload-Length': '4', 'Content-Type': 'application/offset+octet-stream', 'Upload-Metadata': `filename ${Buffer.from('long.csv').toString('base64')}` },
      body: 'a,b\n1,2\n',
    })
    expect(res.status).toBe(413)
    expect((await t.db.query('SELECT count(*)::int AS n FROM uploads')).rows[0].n).toBe(before)
  })

  it('JSON bodies past 1 MiB answer 413 without being read, and a 404 quotes at most a short piece of the id', async () => {
    const huge = JSON.stringify({ name: 'x'.repeat(2 * 1024 * 1024) })
    for (const route of ['/api/sessions', '/api/exports', '/api/sessions/00000000-0000-4000-8000-000000000000/finish']) {
      const res = await appFetch(`${t.app.url}${route}`, { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: huge })
      expect(res.status).toBe(413)
      expect(await res.json()).toEqual({ error: { code: 'TOO_LARGE', message: 'A request may carry at most 1 MiB', details: { maxBytes: 1048576 } } })
    }
    const longId = 'y'.repeat(100_000)
    const res = await appFetch(`${t.app.url}/api/exports`, { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify({ importId: longId }) })
    expect(res.status).toBe(404)
    expect(await res.json()).toEqual({ error: { code: 'NOT_FOUND', message: `No import with id ${'y'.repeat(80)}…` } })
  })

  it('a NUL in a session\'s name, columns or keys answers 400, and a __proto__ key 422, not a silently lost field', async () => {
    const post = async (route: string, body: unknown) => {
      const res = await appFetch(`${t.app.url}${route}`, { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify(body) })
      return { status: res.status, body: await res.json() }
    }
    expect((await post('/api/sessions', { name: 'a\0b' })).status).toBe(400)
    expect((await post('/api/sessions', { name: 'ok', columns: ['a\0'] })).status).toBe(400)
    expect((await post('/api/sessions', { name: 'ok', columns: Array.from({ length: 1600 }, (_, i) => `c${i}`) })).status).toBe(400)
    const session = (await post('/api/sessions', { name: 'keys' })).body
    expect((await post(`/api/sessions/${session.id}/batches`, { records: [{ 'k\0': '1' }] })).body.error).toEqual({
      code: 'UNPROCESSABLE',
      message: 'records[0] has a key with a NUL character, which PostgreSQL text cannot hold; the batch was not applied',
      details: { record: 0, key: 'k\0' },
    })
    const proto = await appFetch(`${t.app.url}/api/sessions/${session.id}/batches`, {
      method: 'POST',
      headers: { 'Content-Type': 'application/json' },
      body: '{"records":[{"a":"1","__proto__":"2"}]}',
    })
    expect(proto.status).toBe(422)
    expect(await proto.json()).toEqual({
      error: { code: 'UNPROCESSABLE', message: 'records[0] has the key "__proto__", which cannot name a column; the batch was not applied', details: { record: 0, key: '__proto__' } },
    })
    expect((await post(`/api/sessions/${session.id}/batches`, { records: [{ a: '1' }] })).status).toBe(200)
  })

  it('a date range from year 0000 answers 400 for export.csv and for an export job', async () => {
    const imp = await waitFor((await importOf(await uploadFile(t.app.url, await smallFile('dated.csv', 'd,n\n2024-01-02,1\n')))).id, settled)
    expect(imp.columns).toEqual([
      { name: 'd', header: 'd', type: 'date' },
      { name: 'n', header: 'n', type: 'bigint' },
    ])
    const streamed = await appFetch(`${t.app.url}/api/imports/${imp.id}/export.csv?column=d&from=0000-01-01`)
    expect(streamed.status).toBe(400)
    expect(await streamed.json()).toEqual({ error: { code: 'BAD_REQUEST', message: 'from: must be in the year 0001 or later' } })
    const job = await appFetch(`${t.app.url}/api/exports`, {
      method: 'POST',
      headers: { 'Content-Type': 'application/json' },
      body: JSON.stringify({ importId: imp.id, column: 'd', from: '0000-01-01' }),
    })
    expect(job.status).toBe(400)
  })

  it('headers named like PostgreSQL system columns import under numbered names and export as written', async () => {
    const body = 'label,xmin,ymin,xmax,ymax,ctid\ncat,1,2,3,4,x\ndog,5,6,7,8,y\n'
    const imp = await waitFor((await importOf(await uploadFile(t.app.url, await smallFile('boxes.csv', body)))).id, settled)
    expect(imp).toMatchObject({ status: 'PROCESSED', rowsImported: 2 })
    expect(imp.columns.map((c) => c.name)).toEqual(['label', 'xmin_2', 'ymin', 'xmax_2', 'ymax', 'ctid_2'])
    const exported = await appFetch(`${t.app.url}/api/imports/${imp.id}/export.csv`)
    expect(await exported.text()).toBe(body)

    const res = await appFetch(`${t.app.url}/api/sessions`, { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify({ name: 'boxes', columns: ['xmin', 'cmax'] }) })
    expect(res.status).toBe(201)
    const session = await res.json()
    const batch = await appFetch(`${t.app.url}/api/sessions/${session.id}/batches`, {
      method: 'POST',
      headers: { 'Content-Type': 'application/json' },
      body: JSON.stringify({ records: [{ xmin: 1, cmax: 2 }] }),
    })
    expect(batch.status).toBe(200)
    expect((await batch.json()).session.recordsReceived).toBe(1)
  })

  it('an export of an unfinished import says it holds only the rows imported so far, in its name, listing and answer', async () => {
    const imp = await waitFor((await importOf(await uploadFile(t.app.url, csv, 'early.csv'))).id, processing)
    const paused = (await api('POST', `/api/imports/${imp.id}/pause`)).body as ImportDto
    expect(paused.status).toBe('PAUSED')
    const res = await appFetch(`${t.app.url}/api/exports`, { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify({ importId: imp.id }) })
    expect(res.status).toBe(201)
    const created = await res.json()
    expect(created).toMatchObject({ partial: true, fileName: 'early_partial.csv' })
    let done = created
    for (let i = 0; i < 300 && done.status !== 'PROCESSED'; i++) {
      await sleep(100)
      done = (await api('GET', `/api/exports/${created.id}`)).body
    }
    expect(done).toMatchObject({ status: 'PROCESSED', partial: true, rowsTotal: paused.rowsImported, rowsWritten: paused.rowsImported })
    const streamed = await appFetch(`${t.app.url}/api/imports/${imp.id}/export.csv`)
    expect(streamed.headers.get('content-disposition')).toBe('attachment; filename=early_partial.csv')
    await streamed.body?.cancel()
    expect((await api('POST', `/api/imports/${imp.id}/resume`)).status).toBe(200)
    await waitFor(imp.id, settled)
    const after = await appFetch(`${t.app.url}/api/exports`, { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify({ importId: imp.id }) })
    expect(await after.json()).toMatchObject({ partial: false, fileName: 'early.csv' })
  }, 60_000)

  // The records quote "Doe, Jane" and one in the middle opens a quote that never closes.
  for (const rows of [5, 300, 60_000]) {
    it(`one record whose quote never closes keeps the quote the other records use, and costs only its line (${rows} rows)`, async () => {
      const bad = Math.ceil(rows / 2)
      const lines = ['id,name,amount']
      for (let i = 1; i <= rows; i++) lines.push(i === bad ? `${i},"open,1` : `${i},"Doe, Jane",${i}.5`)
      const imp = await waitFor((await importOf(await uploadFile(t.app.url, await smallFile(`unclosed-${rows}.csv`, `${lines.join('\n')}\n`)))).id, settled)
      expect(imp.dialect).toMatchObject({ quote: '"', delimiter: ',' })
      expect(imp.columns).toEqual([
        { name: 'id', header: 'id', type: 'bigint' },
        { name: 'name', header: 'name', type: 'text' },
        { name: 'amount', header: 'amount', type: 'numeric' },
      ])
      const line = bad + 1 // the header is line 1
      // The next quote closes it in the middle of a field, on the next line: only the bad line is lost.
      expect(imp).toMatchObject({ status: 'PROCESSED', rowsImported: rows - 1, rowsRejected: 1 })
      const rejects = (await api('GET', `/api/imports/${imp.id}/rejects`)).body.rejects
      expect(rejects).toEqual([
        {
          line,
          reason: 'a quoted field opened on this line is not closed on it: the next quote, on a later line, is in the middle of a field',
          record: `${bad},"open,1`,
        },
      ])
      const [schema, table] = imp.tableName.split('.')
      const { rows: ids } = await t.db.query(`SELECT count(*)::int AS n, sum(id)::bigint AS total FROM "${schema}"."${table}"`)
      expect(ids[0]).toEqual({ n: rows - 1, total: String((rows * (rows + 1)) / 2 - bad) })
      const { rows: first } = (await api('GET', `/api/imports/${imp.id}/rows?limit=1`)).body
      expect(first).toEqual([{ id: '1', name: 'Doe, Jane', amount: '1.5' }])
    })
  }

  it('streamed exports past MAX_EXPORT_STREAMS answer 503 with Retry-After instead of exhausting PostgreSQL', async () => {
    const imp = await waitFor((await importOf(await uploadFile(t.app.url, csv, 'streams.csv'))).id, settled)
    expect(imp.status).toBe('PROCESSED')
    const url = `${t.app.url}/api/imports/${imp.id}/export.csv`
    // Two downloads that stop reading after their first bytes hold both places.
    const stalled = [new AbortController(), new AbortController()]
    // Held: a response no one refers to may be collected, and undici then cancels its body,
    // which frees its place on the server (CI once saw the third request get 200 this way).
    const held: Response[] = []
    for (const abort of stalled) held.push(await appFetch(url, { signal: abort.signal }))
    expect(held.map((r) => r.status)).toEqual([200, 200])
    const refused = await appFetch(url)
    expect(refused.status).toBe(503)
    expect(refused.headers.get('retry-after')).toBe('5')
    expect((await refused.json()).error.code).toBe('UNAVAILABLE')
    for (const abort of stalled) abort.abort()
    held.length = 0
    await expect.poll(async () => (await appFetch(url, { method: 'GET' }).then(async (r) => (await r.body?.cancel(), r.status))), { timeout: 10_000 }).toBe(200)
  }, 60_000)

  /** About 6.5 MB of short records (past the 4 MiB the sniffer reads), with `bad` records as given. */
  async function lateBytesFile(name: string, rows: number, bad: Record<number, Buffer>, first = 'w1') {
    const parts: Buffer[] = [Buffer.from('n,word\n')]
    for (let i = 1; i <= rows; i++) parts.push(bad[i] ?? Buffer.from(`${i},${i === 1 ? first : `w${i}`}\n`, 'latin1'))
    const file = path.join(t.dir, name)
    await fs.writeFile(file, Buffer.concat(parts))
    return file
  }

  async function sumOf(tableName: string) {
    const { rows } = await t.db.query(`SELECT count(*)::int AS n, sum(n)::bigint AS total FROM ${tableName.split('.').map((p) => `"${p}"`).join('.')}`)
    return rows[0]
  }

  it('an invalid UTF-8 byte and a NUL past the sniffed sample reject their records, not the import', async () => {
    const rows = 500_000
    const file = await lateBytesFile('late-bytes.csv', rows, {
      400_000: Buffer.concat([Buffer.from('400000,bad'), Buffer.from([0xff, 0xfe]), Buffer.from('\n')]),
      450_000: Buffer.from('450000,nul\0here\n'),
    })
    const imp = await waitFor((await importOf(await uploadFile(t.app.url, file))).id, settled)
    expect(imp.dialect).toMatchObject({ encoding: 'utf-8' })
    expect(imp).toMatchObject({ status: 'PROCESSED', rowsImported: rows - 2, rowsRejected: 2, error: null })
    const rejects = (await api('GET', `/api/imports/${imp.id}/rejects`)).body.rejects
    expect(rejects.map((r: { line: number; reason: string }) => [r.line, r.reason])).toEqual([
      [400_001, 'the record holds bytes that are not valid UTF-8 (the file is read as UTF-8)'],
      [450_001, 'the record holds a NUL byte, which PostgreSQL text cannot hold'],
    ])
    expect(await sumOf(imp.tableName)).toEqual({ n: rows - 2, total: String((rows * (rows + 1)) / 2 - 400_000 - 450_000) })
  }, 60_000)

  it('a byte Windows-1252 does not map, past the sniffed sample, rejects its record, not the import', async () => {
    const rows = 500_000
    const file = await lateBytesFile('late-1252.csv', rows, { 420_000: Buffer.from([...Buffer.from('420000,x'), 0x81, 0x0a]) }, 'caf\xe9')
    const imp = await waitFor((await importOf(await uploadFile(t.app.url, file))).id, settled)
    expect(imp.dialect).toMatchObject({ encoding: 'windows-1252' })
    expect(imp).toMatchObject({ status: 'PROCESSED', rowsImported: rows - 1, rowsRejected: 1, error: null })
    const rejects = (await api('GET', `/api/imports/${imp.id}/rejects`)).body.rejects
    expect(rejects.map((r: { line: number; reason: string }) => [r.line, r.reason])).toEqual([
      [420_001, 'the record holds the byte 0x81, which Windows-1252 does not map to a character'],
    ])
    expect(await sumOf(imp.tableName)).toEqual({ n: rows - 1, total: String((rows * (rows + 1)) / 2 - 420_000) })
    expect((await api('GET', `/api/imports/${imp.id}/rows?limit=1`)).body.rows).toEqual([{ n: '1', word: 'café' }])
  }, 60_000)

  it('a typed row wider than a page (1,100 bigint columns) imports as text instead of failing with "row is too big"', async () => {
    const header = Array.from({ length: 1100 }, (_, i) => `c${i}`).join(',')
    const row = (n: number) => Array.from({ length: 1100 }, (_, i) => String(n * 10_000 + i)).join(',')
    const body = `${header}\n${row(1)}\n${row(2)}\n`
    const imp = await waitFor((await importOf(await uploadFile(t.app.url, await smallFile('wide.csv', body)))).id, settled)
    expect(imp).toMatchObject({ status: 'PROCESSED', rowsImported: 2, rowsRejected: 0 })
    expect(new Set(imp.columns.map((c) => c.type))).toEqual(new Set(['text']))
    expect(await (await appFetch(`${t.app.url}/api/imports/${imp.id}/export.csv`)).text()).toBe(body)
  })

  it('a row too wide for any layout fails with a person\'s message and its line, and the batch API answers 422, not 500', async () => {
    const header = Array.from({ length: 1598 }, (_, i) => `c${i}`).join(',')
    const row = Array.from({ length: 1598 }, () => 'abcde').join(',')
    const imp = await waitFor((await importOf(await uploadFile(t.app.url, await smallFile('too-wide.csv', `${header}\n${row}\n`)))).id, settled)
    expect(imp).toMatchObject({
      status: 'FAILED',
      rowsImported: 0,
      error: 'A record from line 2 on is wider than a PostgreSQL row can hold (8,160 bytes for its 1,598 values): the rows before line 2 are kept',
    })

    const columns = Array.from({ length: 1599 }, (_, i) => `k${i}`)
    const opened = await appFetch(`${t.app.url}/api/sessions`, { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify({ name: 'wide', columns }) })
    expect(opened.status).toBe(201)
    const session = await opened.json()
    const batch = await appFetch(`${t.app.url}/api/sessions/${session.id}/batches`, {
      method: 'POST',
      headers: { 'Content-Type': 'application/json' },
      body: JSON.stringify({ records: [Object.fromEntries(columns.map((k) => [k, 'abcde']))] }),
    })
    expect(batch.status).toBe(422)
    expect((await batch.json()).error.message).toBe('A record of this batch is wider than a PostgreSQL row can hold (8,160 bytes for its 1599 values); the batch was not applied')
  })
})
