import { createHash } from 'node:crypto'
import fs from 'node:fs/promises'
import http from 'node:http'
import path from 'node:path'
import { parse } from 'csv-parse/sync'
import { stringify } from 'csv-stringify/sync'
import pg from 'pg'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { generateCsv } from '../csv/generate'
import { freePort } from '../server/free-port'
import { appFetch, authHeaders, createDatabase, health, keyOfNewUser, signInForTests, sleep, startApp, tempDir, uploadFile, type AppProcess } from '../../test/app-process'
import type { ImportDto } from '../imports/schemas'
import type { ExportDto } from './schemas'
import { SLUICE_SEARCH_PATH } from '../db/sluice-schema'

// Exports driven over HTTP against the app as `npm start` runs it, with a database of its own:
// a file of awkward values comes back value for value, a generated file comes back byte for
// byte, date ranges include both ends, jobs download byte-identical to the stream, with Range.

const BIG_ROWS = 1_000_000
let dir: string
let db: pg.Pool
let app: AppProcess
let dataDir: string
let awkward: { file: string; records: string[][]; imp: ImportDto }
let big: { file: string; imp: ImportDto }

// ── the awkward file ───────────────────────────────────────────────────────────────────────

const HEADERS = ['id', 'when', 'Note, "free" text', 'Ünïcode naïve', 'note', '=HYPERLINK("x")']
const TEXTS = [
  'plain',
  'a, b',
  'say "hi"',
  'two\nlines',
  'crlf\r\ninside',
  '  leading and trailing  ',
  'ünïcödé ✓ 日本語 🚀',
  '',
  '=SUM(A1:A2)',
  '+1',
  '-2',
  '@cmd',
  '\tTab first',
  '\rCR first',
  "'already quoted",
  '\\.',
  ',',
  '"',
]
const WHENS = [
  '2024-01-01',
  '2024-01-31',
  '2024-02-01',
  '2024-01-15T10:00:00Z',
  '2024-01-31T23:30:00-05:00',
  '2024-02-01T00:00:00+01:00',
  '2023-12-31T23:59:59.999Z',
  '2024-01-20 08:00',
  'n/a',
  '',
  'today',
  '2024-13-45',
  '31/01/2024',
]
const AWKWARD_ROWS = 2_000

function awkwardRecords(): string[][] {
  const rows: string[][] = []
  for (let i = 0; i < AWKWARD_ROWS; i++) {
    rows.push([String(i + 1), WHENS[i % WHENS.length]!, TEXTS[i % TEXTS.length]!, TEXTS[(i * 7) % TEXTS.length]!, TEXTS[(i * 5 + 3) % TEXTS.length]!, `r${i}`])
  }
  return rows
}

// ── helpers ────────────────────────────────────────────────────────────────────────────────

async function waitForImport(uploadId: string): Promise<ImportDto> {
  for (let i = 0; i < 1200; i++) {
    const { imports } = (await (await appFetch(`${app.url}/api/imports?upload=${uploadId}`)).json()) as { imports: ImportDto[] }
    const imp = imports[0]
    if (imp && !['QUEUED', 'PROCESSING'].includes(imp.status)) return imp
    await sleep(50)
  }
  throw new Error(`the import of upload ${uploadId} did not finish within a minute`)
}

async function waitForExport(id: string, done: (e: ExportDto) => boolean = (e) => !['QUEUED', 'PROCESSING'].includes(e.status)): Promise<ExportDto> {
  for (let i = 0; i < 3000; i++) {
    const exp = (await (await appFetch(`${app.url}/api/exports/${id}`)).json()) as ExportDto
    if (done(exp)) return exp
    await sleep(20)
  }
  throw new Error(`export ${id} did not get there within a minute`)
}

async function getBytes(route: string, headers: Record<string, string> = {}) {
  const res = await appFetch(`${app.url}${route}`, { headers })
  return { status: res.status, headers: res.headers, body: Buffer.from(await res.arrayBuffer()) }
}

async function postJson(route: string, body: unknown) {
  const res = await appFetch(`${app.url}${route}`, { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify(body) })
  return { status: res.status, body: (await res.json()) as any }
}

const exportUrl = (imp: ImportDto, query: Record<string, string> = {}) => `/api/imports/${imp.id}/export.csv?${new URLSearchParams(query)}`

/** The date a value starts with, when it starts with a real ISO date; counted here independently of the server. */
function writtenDate(value: string): string | null {
  const day = /^\d{4}-\d{2}-\d{2}/.exec(value)?.[0]
  if (!day) return null
  const parsed = new Date(`${day}T00:00:00Z`)
  return !Number.isNaN(parsed.getTime()) && parsed.toISOString().startsWith(day) ? day : null
}

const records = (csv: Buffer | string) => parse(csv, { relax_column_count: false }) as string[][]

const sha256 = async (file: string) => createHash('sha256').update(await fs.readFile(file)).digest('hex')

async function exportFilesOf(id: string) {
  return (await fs.readdir(path.join(dataDir, 'exports')).catch(() => [] as string[])).filter((f) => f.startsWith(id))
}

async function backendsNamed(name: string) {
  const { rows } = await db.query('SELECT count(*)::int AS n FROM pg_stat_activity WHERE application_name = $1', [name])
  return rows[0].n as number
}

/** Backends with that name, once they have had up to 2 s to go away. */
async function backendsLeft(name: string) {
  let left = await backendsNamed(name)
  for (let i = 0; i < 100 && left > 0; i++) {
    await sleep(20)
    left = await backendsNamed(name)
  }
  return left
}

beforeAll(async () => {
  dir = await tempDir('sluice-exports-')
  dataDir = path.join(dir, 'data')
  const databaseUrl = await createDatabase('sluice_exports_test')
  db = new pg.Pool({ connectionString: databaseUrl, options: SLUICE_SEARCH_PATH })
  // 1 MiB batches: an import of the big file takes long enough to be paused well past its start.
  app = startApp({ PORT: String(await freePort()), DATA_DIR: dataDir, DATABASE_URL: databaseUrl, IMPORT_BATCH_BYTES: String(1024 * 1024) })
  expect(await health(app.url)).toEqual({ ok: true })
  await signInForTests(app.url)

  const rows = awkwardRecords()
  // Written with CRLF line ends, as spreadsheets write them; the export writes LF.
  const awkwardFile = path.join(dir, 'awkward.csv')
  await fs.writeFile(awkwardFile, stringify([HEADERS, ...rows], { record_delimiter: '\r\n', quoted_match: /[\r\n]/ }))
  const bigFile = path.join(dir, 'big.csv')
  await generateCsv({ out: bigFile, rows: BIG_ROWS, seed: 11 })
  const [awkwardImport, bigImport] = await Promise.all([
    uploadFile(app.url, awkwardFile, 'awkward.csv').then(waitForImport),
    uploadFile(app.url, bigFile, 'big.csv').then(waitForImport),
  ])
  expect(awkwardImport).toMatchObject({ status: 'PROCESSED', rowsImported: AWKWARD_ROWS, rowsRejected: 0, error: null })
  expect(bigImport).toMatchObject({ status: 'PROCESSED', rowsImported: BIG_ROWS })
  awkward = { file: awkwardFile, records: rows, imp: awkwardImport }
  big = { file: bigFile, imp: bigImport }
}, 180_000)

afterAll(async () => {
  if (app && app.child.exitCode === null) {
    app.child.kill('SIGTERM')
    await app.exited
  }
  await db?.end()
  if (dir) await fs.rm(dir, { recursive: true, force: true })
})

// ── the stream ─────────────────────────────────────────────────────────────────────────────

describe('GET /api/imports/:id/export.csv', () => {
  it('gives back every value of an awkward file exactly, with the original header, in file order', async () => {
    const res = await getBytes(exportUrl(awkward.imp))
    expect(res.status).toBe(200)
    expect(res.headers.get('content-type')).toBe('text/csv; charset=utf-8')
    expect(res.headers.get('content-disposition')).toBe('attachment; filename=awkward.csv')
    const back = records(res.body)
    expect(back[0]).toEqual(HEADERS)
    expect(back.length - 1).toBe(AWKWARD_ROWS)
    // Record by record: commas, quotes, line breaks, spaces, non-ASCII, empty fields.
    for (let i = 0; i < AWKWARD_ROWS; i++) expect(back[i + 1]).toEqual(awkward.records[i])
  })

  it('gives back a generated file byte for byte', async () => {
    const res = await getBytes(exportUrl(big.imp))
    expect(res.status).toBe(200)
    expect(res.body.length).toBe((await fs.stat(big.file)).size)
    expect(createHash('sha256').update(res.body).digest('hex')).toBe(await sha256(big.file))
  })

  it('includes both ends of a date range, and leaves out values that are not dates', async () => {
    const expected = awkward.records.filter((r) => writtenDate(r[1]!) !== null && writtenDate(r[1]!)! >= '2024-01-01' && writtenDate(r[1]!)! <= '2024-01-31')
    const res = await getBytes(exportUrl(awkward.imp, { column: 'when', from: '2024-01-01', to: '2024-01-31' }))
    expect(res.status).toBe(200)
    const back = records(res.body).slice(1)
    expect(back.length).toBe(expected.length)
    expect(back).toEqual(expected)
    // Both ends are in it (a timestamp late on the 31st too), the days just outside are not.
    expect(new Set(back.map((r) => r[1]))).toEqual(new Set(['2024-01-01', '2024-01-15T10:00:00Z', '2024-01-20 08:00', '2024-01-31', '2024-01-31T23:30:00-05:00']))
  })

  it('compares instants when an end is a timestamp', async () => {
    const from = '2024-01-31T12:00:00Z'
    const to = '2024-02-01'
    const inRange = (v: string) => {
      if (writtenDate(v) === null) return false
      const t = Date.parse(/[zZ]|[+-]\d\d:\d\d$/.test(v) ? v : `${v.replace(' ', 'T')}${v.length === 10 ? 'T00:00:00' : ''}Z`)
      return t >= Date.parse(from) && t < Date.parse('2024-02-02T00:00:00Z')
    }
    const expected = awkward.records.filter((r) => inRange(r[1]!))
    const back = records((await getBytes(exportUrl(awkward.imp, { column: 'when', from, to }))).body).slice(1)
    expect(back).toEqual(expected)
    expect(new Set(back.map((r) => r[1]))).toEqual(new Set(['2024-02-01', '2024-01-31T23:30:00-05:00', '2024-02-01T00:00:00+01:00']))
  })

  it('protects values a spreadsheet would run as formulas, when asked', async () => {
    const back = records((await getBytes(exportUrl(awkward.imp, { protectFormulas: 'true' }))).body)
    expect(back[0]).toEqual(["id", 'when', 'Note, "free" text', 'Ünïcode naïve', 'note', `'=HYPERLINK("x")`])
    const protect = (v: string) => (/^[=+\-@\t\r]/.test(v) ? `'${v}` : v)
    for (let i = 0; i < AWKWARD_ROWS; i++) expect(back[i + 1]).toEqual(awkward.records[i]!.map(protect))
    expect(back.slice(1).filter((r) => r[2] === "'=SUM(A1:A2)").length).toBeGreaterThan(0)
  })

  it('answers 400 for an unknown column, a from after to, and a range without a column', async () => {
    const unknown = await getBytes(exportUrl(awkward.imp, { column: 'nope', from: '2024-01-01' }))
    expect(unknown.status).toBe(400)
    expect(JSON.parse(unknown.body.toString()).error.message).toBe(
      'This import has no column "nope"; its columns are id, when, note_free_text, ünïcode_naïve, note, hyperlink_x',
    )
    const backwards = await getBytes(exportUrl(awkward.imp, { column: 'when', from: '2024-02-01', to: '2024-01-31' }))
    expect(backwards.status).toBe(400)
    expect(JSON.parse(backwards.body.toString()).error).toEqual({ code: 'BAD_REQUEST', message: 'from: must not be later than to' })
    const noColumn = await getBytes(exportUrl(awkward.imp, { from: '2024-01-01' }))
    expect(noColumn.status).toBe(400)
    expect(JSON.parse(noColumn.body.toString()).error.message).toBe('column: is required with from or to: name the date column the range is on')
    expect((await getBytes(exportUrl(awkward.imp, { column: 'when', from: '31/01/2024' }))).status).toBe(400)
    expect((await getBytes('/api/imports/00000000-0000-0000-0000-000000000000/export.csv')).status).toBe(404)
  })

  it('previews an export: the rows it writes and the days its column spans; 400 for a bad range, 404 for another person', async () => {
    const preview = async (query: Record<string, string>, init: RequestInit = {}) => {
      const res = await appFetch(`${app.url}/api/imports/${awkward.imp.id}/export-preview?${new URLSearchParams(query)}`, init)
      return { status: res.status, body: await res.json() }
    }
    const inJanuary = awkward.records.filter((r) => writtenDate(r[1]!) !== null && writtenDate(r[1]!)! >= '2024-01-01' && writtenDate(r[1]!)! <= '2024-01-31')
    const span = { first: '2023-12-31', last: '2024-02-01' }
    expect(await preview({})).toEqual({ status: 200, body: { rows: AWKWARD_ROWS } })
    expect(await preview({ column: 'when' })).toEqual({ status: 200, body: { rows: awkward.records.filter((r) => writtenDate(r[1]!) !== null).length, column: span } })
    expect(await preview({ column: 'when', from: '2024-01-01', to: '2024-01-31' })).toEqual({ status: 200, body: { rows: inJanuary.length, column: span } })
    // The same count as the export's own rows.
    expect(records((await getBytes(exportUrl(awkward.imp, { column: 'when', from: '2024-01-01', to: '2024-01-31' }))).body).length - 1).toBe(inJanuary.length)
    expect(await preview({ column: 'when', from: '2025-01-01' })).toEqual({ status: 200, body: { rows: 0, column: span } })
    expect(await preview({ column: 'when', from: '2024-02-01', to: '2024-01-31' })).toEqual({ status: 400, body: { error: { code: 'BAD_REQUEST', message: 'from: must not be later than to' } } })
    expect((await preview({ column: 'id' })).status).toBe(400)

    const key = await keyOfNewUser(app.url, { email: 'pat@sluice.test', password: 'pat-password-123', name: 'Pat' })
    const other = await fetch(`${app.url}/api/imports/${awkward.imp.id}/export-preview`, { headers: { Authorization: `Bearer ${key}` } })
    expect(other.status).toBe(404)
  })

  it('cancels the query on the server when the client disconnects', async () => {
    const name = `sluice-export-stream:${big.imp.id}`
    const received = await new Promise<number>((resolve, reject) => {
      const req = http.get(`${app.url}${exportUrl(big.imp)}`, { headers: authHeaders(app.url) }, (res) => {
        res.once('data', async (chunk: Buffer) => {
          res.pause() // the query is now running, held up by backpressure
          try {
            expect(await backendsNamed(name)).toBe(1)
          } catch (e) {
            reject(e)
          }
          req.destroy()
          resolve(chunk.length)
        })
      })
      req.on('error', () => {})
    })
    expect(received).toBeGreaterThan(0)
    expect(await backendsLeft(name)).toBe(0)
  })
})

// ── export jobs ───────────────────────────────────────────────────────────────────────────

describe('export jobs', () => {
  it('writes a file byte-identical to the streamed export, served with its name, ETag and Range', async () => {
    const filter = { column: 'when', from: '2024-01-01', to: '2024-01-31', protectFormulas: true }
    const created = await postJson('/api/exports', { importId: awkward.imp.id, ...filter })
    expect(created.status).toBe(201)
    expect(created.body).toMatchObject({ importId: awkward.imp.id, status: 'QUEUED', column: 'when', from: '2024-01-01', to: '2024-01-31', protectFormulas: true })
    const done = await waitForExport(created.body.id)
    const streamed = await getBytes(exportUrl(awkward.imp, { ...filter, protectFormulas: 'true' }))
    const rows = records(streamed.body).length - 1
    expect(done).toMatchObject({ status: 'PROCESSED', rowsTotal: rows, rowsWritten: rows, bytesWritten: streamed.body.length, error: null })
    expect(done.downloadUrl).toBe(`/api/exports/${done.id}/download`)
    expect(Date.parse(done.expiresAt!) - Date.parse(done.finishedAt!)).toBe(24 * 3_600_000)

    const file = await getBytes(done.downloadUrl!)
    expect(file.status).toBe(200)
    expect(file.body.equals(streamed.body)).toBe(true)
    expect(file.headers.get('content-length')).toBe(String(streamed.body.length))
    expect(file.headers.get('content-encoding')).toBeNull() // fetch asked for gzip; ranges are of the file itself
    expect(file.headers.get('accept-ranges')).toBe('bytes')
    expect(file.headers.get('content-disposition')).toBe('attachment; filename=awkward_when_2024-01-01_to_2024-01-31.csv')
    const etag = file.headers.get('etag')!
    expect(etag).toBe(`"${done.id}-${streamed.body.length}"`)

    // HEAD: the size a download manager checks before it resumes, and no body.
    const head = await appFetch(`${app.url}${done.downloadUrl}`, { method: 'HEAD' })
    expect(head.status).toBe(200)
    expect(head.headers.get('content-length')).toBe(String(streamed.body.length))
    expect((await head.arrayBuffer()).byteLength).toBe(0)

    const part = await getBytes(done.downloadUrl!, { Range: 'bytes=100-199' })
    expect(part.status).toBe(206)
    expect(part.headers.get('content-range')).toBe(`bytes 100-199/${streamed.body.length}`)
    expect(part.body.equals(streamed.body.subarray(100, 200))).toBe(true)
    const tail = await getBytes(done.downloadUrl!, { Range: 'bytes=-50' })
    expect(tail.status).toBe(206)
    expect(tail.body.equals(streamed.body.subarray(-50))).toBe(true)
    // A suffix longer than the file selects all of it (RFC 9110 §14.1.2), rather than a 416.
    const longerSuffix = await getBytes(done.downloadUrl!, { Range: `bytes=-${streamed.body.length + 1000}` })
    expect(longerSuffix.status).toBe(206)
    expect(longerSuffix.headers.get('content-range')).toBe(`bytes 0-${streamed.body.length - 1}/${streamed.body.length}`)
    expect(longerSuffix.body.equals(streamed.body)).toBe(true)
    // A resumed download: the rest from where it broke off, for the same file only.
    const rest = await getBytes(done.downloadUrl!, { Range: 'bytes=1000-', 'If-Range': etag })
    expect(rest.status).toBe(206)
    expect(rest.body.equals(streamed.body.subarray(1000))).toBe(true)
    const changed = await getBytes(done.downloadUrl!, { Range: 'bytes=1000-', 'If-Range': '"another-file"' })
    expect(changed.status).toBe(200)
    expect(changed.body.length).toBe(streamed.body.length)

    const outside = await getBytes(done.downloadUrl!, { Range: `bytes=${streamed.body.length}-` })
    expect(outside.status).toBe(416)
    expect(outside.headers.get('content-range')).toBe(`bytes */${streamed.body.length}`)
    expect((await getBytes(done.downloadUrl!, { 'If-None-Match': etag })).status).toBe(304)

    const { body: listed } = await appFetch(`${app.url}/api/exports?import=${awkward.imp.id}`).then(async (r) => ({ body: await r.json() }))
    expect(listed.exports.map((e: ExportDto) => e.id)).toContain(done.id)
  })

  it('exports every row of a million-row import byte for byte', async () => {
    const created = await postJson('/api/exports', { importId: big.imp.id })
    expect(created.status).toBe(201)
    const done = await waitForExport(created.body.id)
    expect(done).toMatchObject({ status: 'PROCESSED', rowsTotal: BIG_ROWS, rowsWritten: BIG_ROWS, fileName: 'big.csv' })
    expect(await sha256(path.join(dataDir, 'exports', `${done.id}.csv`))).toBe(await sha256(big.file))
  })

  it('stops a running export: STOPPED, its partial file removed, its query gone', async () => {
    // Protection and a range make the copy slower, so it is caught while it runs.
    const created = await postJson('/api/exports', { importId: big.imp.id, column: 'created_on', from: '2000-01-01', protectFormulas: true })
    const id = created.body.id as string
    await waitForExport(id, (e) => e.status === 'PROCESSING' && e.rowsTotal !== null)
    const stopped = await postJson(`/api/exports/${id}/stop`, {})
    expect(stopped.status).toBe(200)
    expect(stopped.body).toMatchObject({ id, status: 'STOPPED', downloadUrl: null })
    let files = await exportFilesOf(id)
    for (let i = 0; i < 100 && (files.length > 0 || (await backendsNamed(`sluice-export:${id}`)) > 0); i++) {
      await sleep(20)
      files = await exportFilesOf(id)
    }
    expect(files).toEqual([])
    expect(await backendsNamed(`sluice-export:${id}`)).toBe(0)
    await sleep(600) // a progress tick later, it is still STOPPED and still has no file
    expect((await waitForExport(id)).status).toBe('STOPPED')
    expect(await exportFilesOf(id)).toEqual([])
    expect((await getBytes(`/api/exports/${id}/download`)).status).toBe(409)
    expect((await postJson(`/api/exports/${id}/stop`, {})).status).toBe(409)
  })

  it('refuses bad requests with the right status', async () => {
    expect((await postJson('/api/exports', { importId: awkward.imp.id, column: 'nope' })).status).toBe(400)
    expect((await postJson('/api/exports', { importId: awkward.imp.id, column: 'when', from: '2024-02-02', to: '2024-02-01' })).status).toBe(400)
    expect((await postJson('/api/exports', { importId: '00000000-0000-0000-0000-000000000000' })).status).toBe(404)
    const notJson = await appFetch(`${app.url}/api/exports`, { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: '{' })
    expect(notJson.status).toBe(400)
    const form = await appFetch(`${app.url}/api/exports`, { method: 'POST', body: 'importId=x', headers: { 'Content-Type': 'application/x-www-form-urlencoded' } })
    expect(form.status).toBe(415)
    expect((await getBytes('/api/exports/00000000-0000-0000-0000-000000000000')).status).toBe(404)
    expect((await getBytes('/api/exports/not-a-uuid/download')).status).toBe(404)
  })
})

describe('an import stopped while it is being exported', () => {
  it('cancels the export reading it, so its rows are removed at once', async () => {
    const uploadId = await uploadFile(app.url, big.file, 'paused.csv')
    let imp: ImportDto | undefined
    // Paused with more rows than the sockets between PostgreSQL and the client can hold.
    const enough = (i: ImportDto | undefined) => i !== undefined && i.rowsImported >= BIG_ROWS / 2
    for (let i = 0; i < 3000 && !enough(imp); i++) {
      imp = ((await (await appFetch(`${app.url}/api/imports?upload=${uploadId}`)).json()) as { imports: ImportDto[] }).imports[0]
      if (!enough(imp)) await sleep(10)
    }
    const paused = await postJson(`/api/imports/${imp!.id}/pause`, {})
    expect(paused.body).toMatchObject({ status: 'PAUSED' })

    // A client that reads one chunk and no more: the COPY holds its lock on the table for as
    // long as the client keeps the connection open, which would hold DROP TABLE up for ever.
    const streamName = `sluice-export-stream:${imp!.id}`
    let response: http.IncomingMessage | undefined
    const outcome = new Promise<string>((resolve) => {
      const req = http.get(`${app.url}${exportUrl(paused.body)}`, { headers: authHeaders(app.url) }, (res) => {
        response = res
        res.once('data', () => res.pause())
        res.on('end', () => resolve('complete'))
        res.on('error', (e) => resolve(`broken off: ${e.message}`))
        res.on('aborted', () => resolve('broken off'))
      })
      req.on('error', (e) => resolve(`broken off: ${e.message}`))
    })
    // The COPY is stuck writing to a client that does not read, holding its lock on the table.
    const waitingOnClient = async () =>
      (await db.query(`SELECT count(*)::int AS n FROM pg_stat_activity WHERE application_name = $1 AND wait_event = 'ClientWrite'`, [streamName])).rows[0].n
    for (let i = 0; i < 100 && (await waitingOnClient()) === 0; i++) await sleep(20)
    expect(await waitingOnClient()).toBe(1)

    const stopped = await postJson(`/api/imports/${imp!.id}/stop`, {})
    expect(stopped).toMatchObject({ status: 200, body: { status: 'STOPPED', rowsImported: 0 } })
    // The client reads on: its file must end broken off, never pass for a complete one.
    response!.resume()
    expect(await outcome).toMatch(/^broken off/)
    expect(await backendsLeft(streamName)).toBe(0)
    expect((await db.query('SELECT to_regclass($1) AS t', [paused.body.tableName])).rows[0].t).toBeNull()
    const after = await getBytes(exportUrl(paused.body))
    expect(after.status).toBe(409)
    expect(JSON.parse(after.body.toString()).error.message).toBe('This import was stopped: its rows were removed, so there is nothing to export')
  })
})

describe('the order rows are read in', () => {
  const storedInFileOrder = async (id: string) =>
    (await db.query('SELECT stored_in_file_order AS s FROM imports WHERE id = $1', [id])).rows[0].s as boolean
  const quoted = (tableName: string) => tableName.split('.').map((part) => `"${part}"`).join('.')

  /** Waits for the worker's check after the import (it adds the change trigger in the same transaction). */
  async function checked(imp: ImportDto) {
    const trigger = async () =>
      (await db.query(`SELECT count(*)::int AS n FROM pg_trigger WHERE tgrelid = to_regclass($1) AND tgname = 'sluice_changed'`, [imp.tableName])).rows[0].n
    for (let i = 0; i < 500 && (await trigger()) === 0; i++) await sleep(20)
    expect(await trigger()).toBe(1)
  }

  it('a parallel import is stored in file order: read as stored, its batches never go back, and no row has a number yet', async () => {
    await checked(big.imp)
    expect(await storedInFileOrder(big.imp.id)).toBe(true)
    const client = await db.connect()
    try {
      await client.query('BEGIN')
      await client.query('SET LOCAL synchronize_seqscans = off')
      await client.query('SET LOCAL max_parallel_workers_per_gather = 0')
      const { rows } = await client.query(
        `SELECT count(*) FILTER (WHERE back)::int AS back, count(DISTINCT _sluice_batch)::int AS batches, count(*)::int AS n, count(_sluice_row)::int AS numbered FROM (
           SELECT _sluice_batch, _sluice_row, _sluice_batch < lag(_sluice_batch) OVER () AS back FROM ${quoted(big.imp.tableName)}) s`,
      )
      await client.query('COMMIT')
      // IMPORT_BATCH_BYTES is 1 MiB here: the file is many batches of at most that, a partition each.
      const { size } = await fs.stat(big.file)
      const committed = await client.query('SELECT count(*)::int AS n, max(end_byte - start_byte)::int AS longest FROM import_batches WHERE import_id = $1', [big.imp.id])
      expect(rows[0]).toEqual({ back: 0, batches: committed.rows[0].n, n: big.imp.rowsImported, numbered: 0 })
      expect(committed.rows[0].n).toBeGreaterThanOrEqual(Math.ceil(size / (1024 * 1024)))
      expect(committed.rows[0].longest).toBeLessThanOrEqual(1024 * 1024)
    } finally {
      client.release()
    }
  })

  it('reads a table stored in file order as stored, and goes back to its row numbers once someone changes it', async () => {
    // One COPY into an empty table: stored in file order.
    await checked(awkward.imp)
    expect(await storedInFileOrder(awkward.imp.id)).toBe(true)

    // An UPDATE that changes no value still writes a new version of the row after the others:
    // read as stored, row 1 would now come later.
    const numbered = async () =>
      (await db.query(`SELECT id, _sluice_row::text AS n FROM ${quoted(awkward.imp.tableName)} WHERE _sluice_row IS NOT NULL ORDER BY id`)).rows
    expect(await numbered()).toEqual([])
    await db.query(`UPDATE ${quoted(awkward.imp.tableName)} SET note = note WHERE id = '1'`)
    expect(await storedInFileOrder(awkward.imp.id)).toBe(false)
    // Row 1 alone was moved, and keeps the place it left as its number.
    const first = await numbered()
    expect(first.map((r) => r.id)).toEqual(['1'])
    const back = records((await getBytes(exportUrl(awkward.imp))).body)
    expect(back.slice(1)).toEqual(awkward.records)

    // Row 1 moved again and the last row for the first time: row 1 keeps its number.
    const last = awkward.records.at(-1)![0]!
    await db.query(`UPDATE ${quoted(awkward.imp.tableName)} SET note = note WHERE id IN ('1', $1)`, [last])
    const second = await numbered()
    expect(second.map((r) => r.id).sort()).toEqual(['1', last].sort())
    expect(second.find((r) => r.id === '1')!.n).toBe(first[0]!.n)
    expect(records((await getBytes(exportUrl(awkward.imp))).body).slice(1)).toEqual(awkward.records)
  })

  it("a parallel import's table changed in many batches at once, some rows twice, still exports in the file's order", async () => {
    await checked(big.imp)
    const table = quoted(big.imp.tableName)
    const column = quoted(big.imp.columns[1]!.name)
    // The second row of every batch, then every 7th row: in many partitions, a few moved twice.
    const second = await db.query(`UPDATE ${table} SET ${column} = ${column} WHERE ctid = '(0,2)'`)
    const batches = (await db.query('SELECT count(*)::int AS n FROM import_batches WHERE import_id = $1', [big.imp.id])).rows[0].n
    expect(second.rowCount).toBe(batches)
    const seventh = await db.query(`UPDATE ${table} SET ${column} = ${column} WHERE sluice.sluice_place(ctid) % 7 = 0`)
    expect(seventh.rowCount).toBeGreaterThan(batches)
    const { rows } = await db.query(`SELECT count(*)::int AS n, count(_sluice_row)::int AS numbered FROM ${table}`)
    expect(rows[0].n).toBe(big.imp.rowsImported)
    expect(rows[0].numbered).toBeGreaterThan(0)
    expect(rows[0].numbered).toBeLessThan(big.imp.rowsImported)
    expect(createHash('sha256').update((await getBytes(exportUrl(big.imp))).body).digest('hex')).toBe(await sha256(big.file))
  })
})
