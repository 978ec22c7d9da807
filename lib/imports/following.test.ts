import { createHash } from 'node:crypto'
import { existsSync } from 'node:fs'
import fs from 'node:fs/promises'
import path from 'node:path'
import { Readable } from 'node:stream'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { generateCsv } from '../csv/generate'
import { appFetch, sleep, startTestApp, uploadFile, type TestApp } from '../../test/app-process'
import { importApi, settled, tableExists } from '../../test/import-api'

// An import starts with its upload and reads the file as it arrives: these drive tus by hand,
// a piece at a time, and look at the import between the pieces.

const ROWS = 100_000
const TUS = { 'Tus-Resumable': '1.0.0' }
const sha256 = (bytes: Buffer | string) => createHash('sha256').update(bytes).digest('hex')

describe('an import that follows its upload', () => {
  let t: TestApp
  let file: Buffer
  const { api, getImport, importOf, waitFor } = importApi(() => t.app.url)

  beforeAll(async () => {
    t = await startTestApp('following', {
      IMPORT_BATCH_BYTES: String(64 * 1024),
      IMPORT_PARALLELISM: '2',
      // One import at a time: an import waiting for a stalled upload must not hold it.
      IMPORT_WORKERS: '1',
    })
    const generated = path.join(t.dir, 'generated.csv')
    await generateCsv({ out: generated, rows: ROWS, seed: 5 })
    file = await fs.readFile(generated)
  }, 120_000)

  afterAll(() => t?.stop())

  /** Creates an upload of the whole file's size; its id and URL. */
  async function create(name: string) {
    const res = await appFetch(`${t.app.url}/api/uploads`, {
      method: 'POST',
      headers: { ...TUS, 'Upload-Length': String(file.length), 'Upload-Metadata': `filename ${Buffer.from(name).toString('base64')}` },
    })
    expect(res.status).toBe(201)
    const url = new URL(res.headers.get('Location')!, t.app.url)
    return { id: url.pathname.split('/').pop()!, url }
  }

  /** Sends bytes [from, to) of the file in one PATCH; its status. */
  async function patch(url: URL, from: number, to: number, body: BodyInit = new Uint8Array(file.subarray(from, to))) {
    const res = await appFetch(url, {
      method: 'PATCH',
      headers: { ...TUS, 'Upload-Offset': String(from), 'Content-Type': 'application/offset+octet-stream' },
      body,
      duplex: 'half',
    } as RequestInit)
    return res.status
  }

  const offsetOf = async (url: URL) => Number((await appFetch(url, { method: 'HEAD', headers: TUS })).headers.get('Upload-Offset'))
  const exported = async (id: string) => Buffer.from(await (await appFetch(`${t.app.url}/api/imports/${id}/export.csv`)).arrayBuffer())
  const rowsIn = async (table: string) => (await t.db.query(`SELECT count(*)::int AS n FROM ${table}`)).rows[0].n as number
  const half = () => Math.floor(file.length / 2)
  const following = (imp: { status: string; rowsImported: number }) => imp.status === 'PROCESSING' && imp.rowsImported > 0

  /** An upload of the file's first half, and its import once it has rows. */
  async function halfUploaded(name: string) {
    const { id, url } = await create(name)
    expect(await patch(url, 0, half())).toBe(204)
    return { id, url, imp: await waitFor((await importOf(id)).id, following, 30_000) }
  }

  it('is PROCESSING with rows in its table before the last byte arrives, never reads past the bytes uploaded, and exports the file byte for byte', async () => {
    const { id, url } = await create('follow.csv')
    let release!: () => void
    const gate = new Promise<void>((resolve) => (release = resolve))
    // One PATCH that sends half the file, holds still until the test has looked, then sends the rest.
    const body = Readable.toWeb(
      Readable.from(
        (async function* () {
          for (let at = 0; at < half(); at += 256 * 1024) yield file.subarray(at, Math.min(half(), at + 256 * 1024))
          await gate
          for (let at = half(); at < file.length; at += 256 * 1024) yield file.subarray(at, Math.min(file.length, at + 256 * 1024))
        })(),
      ),
    ) as ReadableStream
    const sent = patch(url, 0, file.length, body)
    sent.catch(() => {}) // awaited below; a failed test must not leave it unhandled
    const imp = await waitFor((await importOf(id)).id, following, 30_000)
    // The server records the upload's offset once a second while bytes flow.
    const seen = await waitFor(imp.id, (i) => i.bytesUploaded === half(), 5_000)
    expect(seen.status).toBe('PROCESSING')
    expect(seen.bytesProcessed).toBeLessThanOrEqual(half())
    expect(seen.bytesProcessed).toBeGreaterThan(0)
    expect(await rowsIn(imp.tableName)).toBeGreaterThan(0)
    release()
    expect(await sent).toBe(204)
    const done = await waitFor(imp.id, settled)
    expect(done).toMatchObject({ status: 'PROCESSED', rowsImported: ROWS, rowsRejected: 0, bytesProcessed: file.length, bytesUploaded: file.length })
    expect(sha256(await exported(imp.id))).toBe(sha256(file))
  }, 90_000)

  it('an upload cut off mid-way and resumed: its import waits for it and finishes with every row once', async () => {
    const { id, url } = await create('cut.csv')
    const abort = new AbortController()
    const body = Readable.toWeb(
      Readable.from(
        (async function* () {
          for (let at = 0; at < half(); at += 256 * 1024) yield file.subarray(at, Math.min(half(), at + 256 * 1024))
          await sleep(300)
          abort.abort() // the connection drops with the rest unsent
          await new Promise(() => {})
        })(),
      ),
    ) as ReadableStream
    await appFetch(url, { method: 'PATCH', headers: { ...TUS, 'Upload-Offset': '0', 'Content-Type': 'application/offset+octet-stream' }, body, duplex: 'half', signal: abort.signal } as RequestInit).catch(() => {})
    const imp = await waitFor((await importOf(id)).id, following, 30_000)
    let offset = 0
    for (let i = 0; i < 100 && offset === 0; i++) offset = await offsetOf(url).then((o) => (o ? o : sleep(50).then(() => 0)))
    expect(offset).toBeGreaterThan(0)
    expect(offset).toBeLessThanOrEqual(half())
    expect(await patch(url, offset, file.length)).toBe(204)
    const done = await waitFor(imp.id, settled)
    expect(done).toMatchObject({ status: 'PROCESSED', rowsImported: ROWS, rowsRejected: 0 })
    expect(sha256(await exported(imp.id))).toBe(sha256(file))
  }, 90_000)

  it('an upload that stalls lets its import wait off the worker (QUEUED): another file imports meanwhile, and the next bytes wake it', async () => {
    const { url, imp } = await halfUploaded('stalled.csv')
    // After FOLLOW_IDLE_MS (10 s) without bytes it hands its worker back (IMPORT_WORKERS is 1).
    const waiting = await waitFor(imp.id, (i) => i.status === 'QUEUED', 30_000)
    expect(waiting.bytesProcessed).toBeLessThanOrEqual(half())
    expect(waiting.bytesProcessed).toBeGreaterThan(0)

    const other = path.join(t.dir, 'other.csv')
    await fs.writeFile(other, 'id,name\n1,one\n2,two\n')
    const otherDone = await waitFor((await importOf(await uploadFile(t.app.url, other))).id, settled, 30_000)
    expect(otherDone).toMatchObject({ status: 'PROCESSED', rowsImported: 2 })
    expect((await getImport(imp.id)).status).toBe('QUEUED')

    expect(await patch(url, half(), file.length)).toBe(204)
    const done = await waitFor(imp.id, settled)
    expect(done).toMatchObject({ status: 'PROCESSED', rowsImported: ROWS, rowsRejected: 0 })
    expect(sha256(await exported(imp.id))).toBe(sha256(file))
  }, 90_000)

  it('pause holds a following import within a second while its upload goes on, and resume finishes it', async () => {
    const { url, imp } = await halfUploaded('pause.csv')
    const paused = await api('POST', `/api/imports/${imp.id}/pause`)
    expect(paused.body.status).toBe('PAUSED')
    const held = paused.body.rowsImported as number
    expect(await patch(url, half(), file.length)).toBe(204)
    await sleep(1000)
    expect((await getImport(imp.id)).rowsImported).toBe(held)
    expect(await rowsIn(imp.tableName)).toBe(held)
    expect((await api('POST', `/api/imports/${imp.id}/resume`)).status).toBe(200)
    expect(await waitFor(imp.id, settled)).toMatchObject({ status: 'PROCESSED', rowsImported: ROWS })
    expect(sha256(await exported(imp.id))).toBe(sha256(file))
  }, 90_000)

  it('cancelling an upload (tus DELETE) while its import follows it stops the import: no rows, no table, no file', async () => {
    const { id, url, imp } = await halfUploaded('cancel.csv')
    expect((await appFetch(url, { method: 'DELETE', headers: TUS })).status).toBe(204)
    const stopped = await getImport(imp.id)
    expect(stopped).toMatchObject({
      status: 'STOPPED',
      rowsImported: 0,
      bytesProcessed: 0,
      error: 'The upload was cancelled before the whole file arrived, so its import was stopped',
    })
    expect(await tableExists(t.db, imp.tableName)).toBe(false)
    expect(existsSync(path.join(t.env.DATA_DIR!, 'uploads', id))).toBe(false)
    expect((await appFetch(url, { method: 'HEAD', headers: TUS })).status).toBe(404)
  }, 60_000)

  it('an upload left unfinished past its expiry stops the import that follows it, with the reason', async () => {
    const { id, imp } = await halfUploaded('expired.csv')
    // A day older: the sweep at the next start finds it expired.
    await t.db.query("UPDATE uploads SET created_at = now() - interval '25 hours' WHERE id = $1", [id])
    t.app.child.kill('SIGTERM')
    await t.app.exited
    await t.restart()
    const stopped = await waitFor(imp.id, (i) => i.status === 'STOPPED', 30_000)
    expect(stopped).toMatchObject({ rowsImported: 0, error: 'The upload was left unfinished for a day and expired, so its import was stopped' })
    expect((await t.db.query('SELECT status FROM uploads WHERE id = $1', [id])).rows[0].status).toBe('EXPIRED')
    expect(await tableExists(t.db, imp.tableName)).toBe(false)
    expect(existsSync(path.join(t.env.DATA_DIR!, 'uploads', id))).toBe(false)
  }, 90_000)

  it('stop on a following import ends its upload too: the next PATCH answers 404 and nothing is imported', async () => {
    const { id, url, imp } = await halfUploaded('stop.csv')
    expect((await api('POST', `/api/imports/${imp.id}/stop`)).body).toMatchObject({ status: 'STOPPED', rowsImported: 0 })
    expect(await patch(url, half(), file.length)).toBe(404)
    expect((await t.db.query('SELECT status FROM uploads WHERE id = $1', [id])).rows[0].status).toBe('TERMINATED')
    expect(await tableExists(t.db, imp.tableName)).toBe(false)
    expect((await getImport(imp.id)).rowsImported).toBe(0)
  }, 60_000)

  it('a file dropped again after its import was killed mid-upload resumes that import from its partial upload, every row once', async () => {
    const { imp } = await halfUploaded('again.csv')
    const killed = await api('POST', `/api/imports/${imp.id}/kill`)
    expect(killed.body.status).toBe('KILLED')
    // The same file again, whole: it starts no import of its own until it is complete, and then continues the killed one.
    const again = await create('again.csv')
    expect(await patch(again.url, 0, file.length)).toBe(204)
    expect((await importOf(again.id)).id).toBe(imp.id)
    const done = await waitFor(imp.id, settled)
    expect(done).toMatchObject({ status: 'PROCESSED', rowsImported: ROWS, uploadId: again.id })
    expect(sha256(await exported(imp.id))).toBe(sha256(file))
    expect((await t.db.query('SELECT count(*)::int AS n FROM imports WHERE file_name = $1', ['again.csv'])).rows[0].n).toBe(1)
  }, 90_000)

  it('four files uploaded at once, slowly, are each imported with every row once: none waits for ever, no "too many connections"', async () => {
    const uploads = await Promise.all(['one', 'two', 'three', 'four'].map((name) => create(`${name}.csv`)))
    // Each PATCH trickles its file in 64 pieces, so that all four are arriving at the same time.
    const trickle = () =>
      Readable.toWeb(
        Readable.from(
          (async function* () {
            const piece = Math.ceil(file.length / 64)
            for (let at = 0; at < file.length; at += piece) {
              yield file.subarray(at, Math.min(file.length, at + piece))
              await sleep(40)
            }
          })(),
        ),
      ) as ReadableStream
    expect(await Promise.all(uploads.map(({ url }) => patch(url, 0, file.length, trickle())))).toEqual([204, 204, 204, 204])
    const imports = await Promise.all(uploads.map(async ({ id }) => waitFor((await importOf(id)).id, settled, 90_000)))
    for (const imp of imports) {
      expect(imp).toMatchObject({ status: 'PROCESSED', rowsImported: ROWS, rowsRejected: 0 })
      expect((await t.db.query(`SELECT count(*)::int AS n, count(DISTINCT id)::int AS ids FROM ${imp.tableName}`)).rows[0]).toEqual({ n: ROWS, ids: ROWS })
    }
    expect(sha256(await exported(imports[3]!.id))).toBe(sha256(file))
    expect(t.app.output()).not.toContain('too many')
  }, 120_000)

  it('after a SIGKILL of the server while an import follows its upload, the upload resumes from its offset and the import finishes with every row once', async () => {
    const { url, imp } = await halfUploaded('crash.csv')
    t.app.child.kill('SIGKILL')
    await t.app.exited
    await t.restart()
    const offset = await offsetOf(url)
    expect(offset).toBe(half())
    expect(await patch(url, offset, file.length)).toBe(204)
    const done = await waitFor(imp.id, settled)
    expect(done).toMatchObject({ status: 'PROCESSED', rowsImported: ROWS, rowsRejected: 0 })
    expect((await t.db.query(`SELECT count(*)::int AS n, count(DISTINCT id)::int AS ids FROM ${imp.tableName}`)).rows[0]).toEqual({ n: ROWS, ids: ROWS })
    expect(sha256(await exported(imp.id))).toBe(sha256(file))
  }, 120_000)
})
