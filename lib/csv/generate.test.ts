import fs from 'node:fs/promises'
import os from 'node:os'
import path from 'node:path'
import { describe, expect, it } from 'vitest'
import { generateCsv, HEADER } from './generate'

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
})
