import { createHash } from 'node:crypto'
import fs from 'node:fs/promises'
import path from 'node:path'
import { parse } from 'csv-parse/sync'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { runNpm } from '../test/cli-process'
import { tempDir } from '../test/app-process'

// `npm run generate` as a user runs it, checked by reading the file it wrote.

let dir: string
beforeAll(async () => {
  dir = await tempDir('sluice-generate-')
})
afterAll(async () => {
  await fs.rm(dir, { recursive: true, force: true })
})

const sha256 = async (file: string) => createHash('sha256').update(await fs.readFile(file)).digest('hex')

describe('npm run generate', () => {
  it('writes exactly N rows under the header, the same bytes for the same seed and others for another', async () => {
    const out = (name: string) => path.join(dir, name)
    const [a, b, c] = await Promise.all([
      runNpm('generate', ['--rows', '5000', '--out', out('a.csv'), '--seed', '7']),
      runNpm('generate', ['--rows', '5000', '--out', out('b.csv'), '--seed', '7']),
      runNpm('generate', ['--rows', '5000', '--out', out('c.csv'), '--seed', '8']),
    ])
    for (const run of [a, b, c]) expect(run.code).toBe(0)
    const size = (await fs.stat(out('a.csv'))).size
    expect(a.stdout).toContain(`${out('a.csv')}: 5,000 rows, ${size.toLocaleString('en-US')} bytes`)
    expect(a.stdout).toMatch(/ in \d+\.\d s, \d+(\.\d)? (KiB|MiB|GiB)\/s\n/)

    const records = parse(await fs.readFile(out('a.csv'))) as string[][]
    expect(records[0]).toEqual(['id', 'created_on', 'updated_at', 'customer', 'email', 'amount', 'category', 'note'])
    expect(records).toHaveLength(5001)
    expect(records.every((r) => r.length === 8)).toBe(true)

    expect(await sha256(out('b.csv'))).toBe(await sha256(out('a.csv')))
    expect(await sha256(out('c.csv'))).not.toBe(await sha256(out('a.csv')))
    expect((parse(await fs.readFile(out('c.csv'))) as string[][]).length).toBe(5001)
  })

  it('writes a file of a given size with --size, ending at a whole row', async () => {
    const out = path.join(dir, 'sized.csv')
    const run = await runNpm('generate', ['--size', '2MB', '--out', out])
    expect(run.code).toBe(0)
    const size = (await fs.stat(out)).size
    expect(size).toBeGreaterThanOrEqual(2_000_000)
    expect(size).toBeLessThan(2_001_000)
    const records = parse(await fs.readFile(out)) as string[][]
    expect(run.stdout).toContain(`${out}: ${(records.length - 1).toLocaleString('en-US')} rows, ${size.toLocaleString('en-US')} bytes`)
  })

  it('refuses bad flags with the usage, and an unwritable path with a message', async () => {
    const noOut = await runNpm('generate', ['--rows', '10'])
    expect(noOut.code).toBe(2)
    expect(noOut.stderr).toContain('--out FILE is required')
    expect(noOut.stderr).toContain('usage: npm run generate -- --rows N --out FILE')
    const badRows = await runNpm('generate', ['--rows', 'ten', '--out', path.join(dir, 'x.csv')])
    expect(badRows.code).toBe(2)
    expect(badRows.stderr).toContain('--rows must be a whole number, not "ten"')
    const both = await runNpm('generate', ['--rows', '10', '--size', '1MB', '--out', path.join(dir, 'x.csv')])
    expect(both.code).toBe(2)
    expect(both.stderr).toContain('give either --rows or --size')
    const missingDir = path.join(dir, 'no-such-folder', 'x.csv')
    const unwritable = await runNpm('generate', ['--rows', '10', '--out', missingDir])
    expect(unwritable.code).toBe(1)
    expect(unwritable.stderr).toContain(`Could not write ${missingDir}: ENOENT`)
  })
})
