import path from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { generateCsv, generateRecords } from '../csv/generate'
import { startTestApp, uploadFile, type TestApp } from '../../test/app-process'
import { importApi, settled } from '../../test/import-api'

// A file written the European way (semicolons, 1.234,56, 31.01.2024) at the app's own batch
// size, so that a batch holds many of COPY's 1 MiB pieces (the corpus's batches are 64 KiB).

let t: TestApp
const { importOf, waitFor } = importApi(() => t.app.url)

beforeAll(async () => {
  t = await startTestApp('conventions')
}, 120_000)

afterAll(async () => {
  await t?.stop()
})

describe('a European file', () => {
  it('rewritten a batch at a time, not piece by piece (a piece of 1 MiB ends inside a record): every row lands, with its sum and its dates', async () => {
    const rows = 30_000
    const file = path.join(t.dir, 'european.csv')
    const { bytes } = await generateCsv({ out: file, rows, written: 'european' })
    expect(bytes).toBeGreaterThan(3 * 2 ** 20)
    const imp = await waitFor((await importOf(await uploadFile(t.app.url, file))).id, settled)
    expect(imp).toMatchObject({ status: 'PROCESSED', rowsImported: rows, rowsRejected: 0, dialect: { delimiter: ';', dateOrder: 'DMY' } })
    expect(imp.columns.map((c) => `${c.name}:${c.type}`)).toEqual([
      'id:bigint',
      'created_on:date',
      'updated_at:timestamptz',
      'customer:text',
      'email:text',
      'amount:numeric',
      'category:text',
      'note:text',
    ])

    const records = generateRecords()
    let cents = 0
    let first = '9999-12-31'
    for (let i = 0; i < rows; i++) {
      const r = records.next().value
      cents += Math.round(Number(r.amount) * 100)
      if (r.created_on! < first) first = r.created_on!
    }
    const { rows: got } = await t.db.query(`SELECT sum(amount)::text AS total, min(created_on)::text AS first, count(*)::int AS n FROM ${imp.tableName.replace(/^imported\.(.*)$/, 'imported."$1"')}`)
    expect(got[0]).toEqual({ total: (cents / 100).toFixed(2), first, n: rows })
  })
})
