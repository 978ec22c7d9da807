import path from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { generateCsv, generateRecords } from '../csv/generate'
import fs from 'node:fs/promises'
import { appFetch, keyOfNewUser, startTestApp, uploadFile, type TestApp } from '../../test/app-process'
import { importApi, settled } from '../../test/import-api'

// A file written the European way (semicolons, 1.234,56, 31.01.2024) at the app's own batch
// size, so that a batch holds many of COPY's 1 MiB pieces (the corpus's batches are 64 KiB).

let t: TestApp
const { api, importOf, waitFor } = importApi(() => t.app.url)

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

/** Imports the text as a file and waits for it to finish. */
async function importText(name: string, text: string) {
  const file = path.join(t.dir, name)
  await fs.writeFile(file, text)
  return waitFor((await importOf(await uploadFile(t.app.url, file))).id, settled)
}

const retype = (id: string, column: string, body: unknown, init: RequestInit = {}) =>
  appFetch(`${t.app.url}/api/imports/${id}/columns/${column}`, { method: 'PATCH', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify(body), ...init })

/** The column's values in file order (the order the API gives for the import). */
const valuesOf = async (imp: { tableName: string; fileOrder: string }, column: string) =>
  (await t.db.query(`SELECT ${column}::text AS v FROM ${imp.tableName.replace(/^imported\.(.*)$/, 'imported."$1"')} ORDER BY ${imp.fileOrder}`)).rows.map((r) => r.v)

describe("a column's type changed after the import", () => {
  it('converts what fits and sets the rest aside with their lines, counted past a quoted line break, a blank line and an earlier reject', async () => {
    const text = ['id,amount,note', '1,"1,5",a', '2,"2,25","two', 'lines"', '', '3,x,c', '4,"3,75",d', '5,"4",e,extra', '6,"5,5",f', '7,oops,g'].join('\n') + '\n'
    const imp = await importText('retype.csv', text)
    expect(imp).toMatchObject({ status: 'PROCESSED', rowsImported: 6, rowsRejected: 1 })
    expect(imp.columns[1]).toMatchObject({ name: 'amount', type: 'text' })

    const res = await retype(imp.id, 'amount', { type: 'numeric', format: { number: { decimal: ',', thousands: '', plus: false } } })
    expect(res.status, await res.clone().text()).toBe(200)
    const answer = await res.json()
    expect(answer).toMatchObject({ converted: 4, rejected: 2, import: { rowsImported: 4, rowsRejected: 3 } })
    expect(answer.import.columns[1]).toEqual({ name: 'amount', header: 'amount', type: 'numeric', format: { number: { decimal: ',', thousands: '', plus: false } } })
    expect((await api('GET', `/api/imports/${imp.id}/rejects`)).body.rejects).toEqual([
      { line: 6, reason: 'amount: "x" is not a decimal number', record: '3,x,c' },
      { line: 8, reason: 'expected 3 fields, found 4', record: '5,"4",e,extra' },
      { line: 10, reason: 'amount: "oops" is not a decimal number', record: '7,oops,g' },
    ])
    expect(await valuesOf(imp, 'amount')).toEqual(['1.5', '2.25', '3.75', '5.5'])
    const { rows } = await t.db.query(`SELECT data_type FROM information_schema.columns WHERE table_schema = 'imported' AND table_name = $1 AND column_name = 'amount'`, [imp.tableName.split('.')[1]])
    expect(rows).toEqual([{ data_type: 'numeric' }])
    // As written, the export gives the decimal commas back.
    expect(await (await appFetch(`${t.app.url}/api/imports/${imp.id}/export.csv?format=as-written`)).text()).toBe('id,amount,note\n1,"1,5",a\n2,"2,25","two\nlines"\n4,"3,75",d\n6,"5,5",f\n')
  })

  it('reads dates the sample could not order in the order a person chooses', async () => {
    const imp = await importText('readings.csv', 'n;day\n1;03.04.2024\n2;05.06.2024\n')
    expect(imp.columns[1]).toMatchObject({ type: 'text', dateReadings: ['DMY', 'MDY'] })
    const date = { order: 'MDY', separator: '.', yearDigits: 4, padded: true, time: '' }
    const res = await retype(imp.id, 'day', { type: 'date', format: { date } })
    expect(res.status, await res.clone().text()).toBe(200)
    expect((await res.json()).import.columns[1]).toEqual({ name: 'day', header: 'day', type: 'date', format: { date } })
    expect(await valuesOf(imp, 'day')).toEqual(['2024-03-04', '2024-05-06'])
  })

  it('changes nothing when more than a tenth of the values do not fit, and answers 404 for another person and for an unknown column', async () => {
    const words = Array.from({ length: 30 }, (_, i) => (i % 10 === 9 ? String(i) : `word${i}`))
    const imp = await importText('words.csv', `n,word\n${words.map((w, i) => `${i + 1},${w}`).join('\n')}\n`)
    const refused = await retype(imp.id, 'word', { type: 'bigint' })
    expect(refused.status).toBe(422)
    expect((await refused.json()).error.message).toBe('27 of 30 values of "word" are not a whole number as asked (the first: "word0"): nothing was changed. Check the type and how the file writes it')
    expect(await valuesOf(imp, 'word')).toEqual(words)
    expect((await retype(imp.id, 'nope', { type: 'bigint' })).status).toBe(404)
    expect((await retype(imp.id, 'word', { type: 'money' })).status).toBe(400)

    const key = await keyOfNewUser(t.app.url, { email: 'eve@sluice.test', password: 'eve-password-123', name: 'Eve' })
    const other = await fetch(`${t.app.url}/api/imports/${imp.id}/columns/n`, { method: 'PATCH', headers: { Authorization: `Bearer ${key}`, 'Content-Type': 'application/json' }, body: JSON.stringify({ type: 'text' }) })
    expect(other.status).toBe(404)
    expect((await api('GET', `/api/imports/${imp.id}`)).body.columns[0]).toMatchObject({ type: 'bigint' })
  })
})
