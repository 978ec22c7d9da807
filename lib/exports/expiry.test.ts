import fs from 'node:fs/promises'
import { randomUUID } from 'node:crypto'
import { afterAll, describe, expect, it } from 'vitest'
import { exportsDir } from '../config'
import { prisma } from '../db/pool'
import { downloadExport } from './download'
import { exportFilePath } from './export-jobs'
import { expireExports } from './exports'

// Against the test run's own database (test/global-setup.ts): files of finished exports past
// their lifetime are deleted, and their download answers 410.

async function finishedExport(expiresAt: Date) {
  const uploadId = randomUUID().replace(/-/g, '')
  await prisma().upload.create({ data: { id: uploadId, fileName: 'e.csv', size: 1n, status: 'FINISHED' } })
  const importId = randomUUID()
  await prisma().import.create({ data: { id: importId, uploadId, fileName: 'e.csv', totalBytes: 1n, tableName: `e_${importId.slice(0, 8)}`, status: 'PROCESSED' } })
  const exp = await prisma().export.create({ data: { importId, fileName: 'e.csv', status: 'PROCESSED', finishedAt: new Date(), expiresAt } })
  await fs.mkdir(exportsDir(), { recursive: true })
  await fs.writeFile(exportFilePath(exp.id), 'a\n1\n')
  return exp
}

const exists = (file: string) => fs.stat(file).then(() => true, () => false)

afterAll(() => prisma().$disconnect())

describe('expireExports', () => {
  it('deletes the files of exports past their lifetime and keeps the others', async () => {
    const old = await finishedExport(new Date(Date.now() - 1000))
    const fresh = await finishedExport(new Date(Date.now() + 3_600_000))

    expect(await expireExports()).toBeGreaterThanOrEqual(1)

    expect((await prisma().export.findUniqueOrThrow({ where: { id: old.id } })).status).toBe('EXPIRED')
    expect(await exists(exportFilePath(old.id))).toBe(false)
    const reread = (id: string) => prisma().export.findUniqueOrThrow({ where: { id } })
    await expect(downloadExport(await reread(old.id), new Request('http://x/'))).rejects.toMatchObject({ code: 'GONE' })

    expect((await prisma().export.findUniqueOrThrow({ where: { id: fresh.id } })).status).toBe('PROCESSED')
    expect(await exists(exportFilePath(fresh.id))).toBe(true)
    const res = await downloadExport(await reread(fresh.id), new Request('http://x/'))
    expect(res.status).toBe(200)
    expect(await res.text()).toBe('a\n1\n')
  })
})
