import fs from 'node:fs/promises'
import path from 'node:path'
import { beforeAll, describe, expect, it } from 'vitest'
import { uploadsDir } from '../config'
import { prisma } from '../db/pool'
import { handleUploadRequest, removeExpiredUploads, UPLOAD_EXPIRY_MS } from './tus-server'
import { inProcessKey } from '../../test/in-process-key'

const TUS: Record<string, string> = { 'Tus-Resumable': '1.0.0' }
beforeAll(async () => {
  TUS.Authorization = (await inProcessKey()).key
})

async function upload(size: number, body: string) {
  const res = await handleUploadRequest(
    new Request('http://localhost/api/uploads', {
      method: 'POST',
      headers: {
        ...TUS,
        'Upload-Length': String(size),
        'Upload-Metadata': `filename ${Buffer.from('old.csv').toString('base64')}`,
        'Content-Type': 'application/offset+octet-stream',
      },
      body,
    }),
  )
  expect(res.status).toBe(201)
  return res.headers.get('Location')!.split('/').pop()!
}

const exists = (id: string) => fs.stat(path.join(uploadsDir(), id)).then(() => true, () => false)

describe('removeExpiredUploads', () => {
  it('removes unfinished uploads after 24 h and keeps finished ones (FileStore.deleteExpired would not)', async () => {
    const unfinished = await upload(10, 'a,b\n')
    const finished = await upload(4, 'a\n1\n')
    const fresh = await upload(10, 'a,b\n')
    const dayAgo = new Date(Date.now() - UPLOAD_EXPIRY_MS - 1000)
    await prisma().upload.updateMany({ where: { id: { in: [unfinished, finished] } }, data: { createdAt: dayAgo } })

    expect(await removeExpiredUploads()).toBe(1)

    expect(await exists(unfinished)).toBe(false)
    expect(await exists(finished)).toBe(true)
    expect(await exists(fresh)).toBe(true)
    const statuses = await prisma().upload.findMany({ where: { id: { in: [unfinished, finished, fresh] } }, select: { id: true, status: true } })
    expect(Object.fromEntries(statuses.map((u) => [u.id, u.status]))).toEqual({
      [unfinished]: 'EXPIRED',
      [finished]: 'FINISHED',
      [fresh]: 'RECEIVING',
    })
    expect(await removeExpiredUploads()).toBe(0)
  })
})
