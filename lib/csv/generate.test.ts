import fs from 'node:fs/promises'
import os from 'node:os'
import path from 'node:path'
import { parse } from 'csv-parse/sync'
import { describe, expect, it } from 'vitest'
import { COLUMNS, generateCsv, generateRecords, HEADER } from './generate'

describe('generateCsv', () => {
  it('writes exactly the rows asked for, the same bytes for the same seed', async () => {
    const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'sluice-gen-'))
    const a = await generateCsv({ out: path.join(dir, 'a.csv'), rows: 1000 })
    const b = await generateCsv({ out: path.join(dir, 'b.csv'), rows: 1000 })
    const text = await fs.readFile(path.join(dir, 'a.csv'), 'utf8')
    expect(a.rows).toBe(1000)
    expect(a.bytes).toBe(Buffer.byteLength(text))
    expect(text.startsWith(HEADER + '\n')).toBe(true)
    expect(text.endsWith('\n')).toBe(true)
    expect(await fs.readFile(path.join(dir, 'b.csv'), 'utf8')).toBe(text)
    expect(b).toEqual(a)
    await fs.rm(dir, { recursive: true })
  })

  it('stops at the first row that reaches the byte size', async () => {
    const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'sluice-gen-'))
    const { bytes } = await generateCsv({ out: path.join(dir, 'c.csv'), bytes: 100_000 })
    expect(bytes).toBe((await fs.stat(path.join(dir, 'c.csv'))).size)
    expect(bytes).toBeGreaterThanOrEqual(100_000)
    expect(bytes).toBeLessThan(100_200)
    await fs.rm(dir, { recursive: true })
  })

  it('writes the records of generateRecords, value for value, awkward ones included', async () => {
    const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'sluice-gen-'))
    await generateCsv({ out: path.join(dir, 'd.csv'), rows: 2000, seed: 5 })
    const [header, ...rows] = parse(await fs.readFile(path.join(dir, 'd.csv'))) as string[][]
    expect(header).toEqual([...COLUMNS])
    const records = generateRecords(5)
    const expected = rows.map(() => {
      const record = records.next().value
      return COLUMNS.map((c) => record[c] ?? '')
    })
    expect(rows).toEqual(expected)
    expect(rows.map((r) => Number(r[0]))).toEqual(Array.from({ length: 2000 }, (_, i) => i + 1))

    // What makes the data realistic is there: every kind of awkward value turns up.
    const values = rows.flat()
    for (const awkward of [',', '"', '\n', '\r\n', 'ö', '李', 'Ångström', 'Núñez', 'Dvořák', 'Zoë']) {
      expect(values.some((v) => v.includes(awkward)), awkward).toBe(true)
    }
    expect(rows.some((r) => r[7] === '')).toBe(true) // empty notes
    for (const [id, createdOn, updatedAt, , email, amount] of rows) {
      expect(createdOn, id).toMatch(/^20(2[0-4])-\d\d-\d\d$/)
      // As PostgreSQL writes a timestamptz in UTC: no trailing zeros in the fraction.
      expect(updatedAt, id).toMatch(/^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d(\.\d{0,2}[1-9])?\+00$/)
      expect(Number.isNaN(Date.parse(updatedAt!.replace(' ', 'T').replace('+00', 'Z'))), id).toBe(false)
      expect(updatedAt! >= createdOn!, id).toBe(true)
      expect(email, id).toMatch(/^[a-z.]+\d+@[a-z.]+$/)
      expect(amount, id).toMatch(/^\d+\.\d\d$/)
    }
    await fs.rm(dir, { recursive: true })
  })

  it('gives other records for another seed', () => {
    const a = generateRecords(1).next().value
    const b = generateRecords(2).next().value
    expect(a.id).toBe('1')
    expect(b.id).toBe('1')
    expect(a).not.toEqual(b)
  })
})
