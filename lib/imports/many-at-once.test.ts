import { createHash } from 'node:crypto'
import { createReadStream } from 'node:fs'
import path from 'node:path'
import { Readable } from 'node:stream'
import { pipeline } from 'node:stream/promises'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { generateCsv } from '../csv/generate'
import { appFetch, startTestApp, uploadFile, type TestApp } from '../../test/app-process'
import { importApi, settled } from '../../test/import-api'

// Four files uploaded and imported at once, at full speed, each on its own tus upload. CI
// runs it with 4 MB files; `SLUICE_FILE_MB=250 npx vitest run lib/imports/many-at-once.test.ts`
// runs it at the size (four 250 MB files, a few minutes here).
const FILE_BYTES = Number(process.env.SLUICE_FILE_MB ?? 4) * 1e6
const FILES = ['north', 'south', 'east', 'west']

let t: TestApp
const { importOf, waitFor } = importApi(() => t.app.url)

const sha256Of = async (body: Readable | NodeJS.ReadableStream) => {
  const hash = createHash('sha256')
  await pipeline(body, hash)
  return hash.digest('hex')
}

beforeAll(async () => {
  t = await startTestApp('many_at_once', { MAX_UPLOAD_BYTES: String(2 * FILE_BYTES) })
}, 120_000)

afterAll(async () => {
  await t?.stop()
})

describe('four files at once', () => {
  it('are each imported with every row once, none left waiting, no "too many connections", and export byte for byte', async () => {
    const files = await Promise.all(
      FILES.map(async (name, i) => {
        const file = path.join(t.dir, `${name}.csv`)
        const { rows } = await generateCsv({ out: file, bytes: FILE_BYTES, seed: 100 + i })
        return { file, rows }
      }),
    )
    const uploads = await Promise.all(files.map(({ file }) => uploadFile(t.app.url, file)))
    const timeout = Math.max(60_000, (FILE_BYTES / 1e6) * 4 * 1000)
    const imports = await Promise.all(uploads.map(async (id) => waitFor((await importOf(id)).id, settled, timeout)))
    for (const [i, imp] of imports.entries()) {
      expect(imp).toMatchObject({ status: 'PROCESSED', rowsImported: files[i]!.rows, rowsRejected: 0, error: null })
      const { rows } = await t.db.query(`SELECT count(*)::int AS n, count(DISTINCT id)::int AS ids FROM ${imp.tableName}`)
      expect(rows[0]).toEqual({ n: files[i]!.rows, ids: files[i]!.rows })
      const res = await appFetch(`${t.app.url}/api/imports/${imp.id}/export.csv`)
      expect(res.status).toBe(200)
      expect(await sha256Of(Readable.fromWeb(res.body as never))).toBe(await sha256Of(createReadStream(files[i]!.file)))
    }
    expect(t.app.output()).not.toMatch(/too many (clients|connections)/)
  }, 30 * 60_000)
})
