import fs from 'node:fs/promises'
import path from 'node:path'
import { beforeAll, describe, expect, it } from 'vitest'
import { prisma } from '@/lib/db/pool'
import { uploadsDir } from '@/lib/config'
import { DELETE, HEAD, OPTIONS, PATCH, POST } from './route'
import { inProcessKey } from '@/test/in-process-key'

// Speaks tus 1.0.0 by hand against the route's exported verbs (the global test setup sets
// MAX_UPLOAD_BYTES to 1 MiB and DATA_DIR to a throwaway folder).
const BASE = 'http://localhost/api/uploads'
// Every request but OPTIONS carries a test account's API key (set before the tests run).
const TUS: Record<string, string> = { 'Tus-Resumable': '1.0.0' }
beforeAll(async () => {
  TUS.Authorization = (await inProcessKey()).key
})
const b64 = (s: string) => Buffer.from(s).toString('base64')

function create(length: number, metadata: string | null = `filename ${b64('sales.csv')},filetype ${b64('text/csv')}`) {
  return POST(
    new Request(BASE, {
      method: 'POST',
      headers: { ...TUS, 'Upload-Length': String(length), ...(metadata === null ? {} : { 'Upload-Metadata': metadata }) },
    }),
  )
}

function patch(location: string, offset: number, body: string) {
  return PATCH(
    new Request(new URL(location, BASE), {
      method: 'PATCH',
      headers: { ...TUS, 'Upload-Offset': String(offset), 'Content-Type': 'application/offset+octet-stream' },
      body,
    }),
  )
}

const idOf = (location: string) => location.split('/').pop()!
const row = (id: string) => prisma().upload.findUniqueOrThrow({ where: { id } })

describe('tus protocol at /api/uploads', () => {
  it('OPTIONS lists the version, extensions and size limit', async () => {
    const res = await OPTIONS(new Request(BASE, { method: 'OPTIONS' }))
    expect(res.status).toBe(204)
    expect(res.headers.get('Tus-Version')).toBe('1.0.0')
    expect(res.headers.get('Tus-Extension')).toBe('creation,creation-with-upload,termination,expiration')
    expect(res.headers.get('Tus-Max-Size')).toBe(String(1024 * 1024))
  })

  it('creates, appends, reports the offset, refuses a wrong offset, and queues the import', async () => {
    const created = await create(10)
    expect(created.status).toBe(201)
    const location = created.headers.get('Location')!
    expect(location).toMatch(/^\/api\/uploads\/[0-9a-f]{32}$/)
    expect(created.headers.get('Upload-Expires')).not.toBeNull()
    const id = idOf(location)
    expect(await row(id)).toMatchObject({ fileName: 'sales.csv', fileType: 'text/csv', size: 10n, bytesReceived: 0n, status: 'CREATED' })

    const first = await patch(location, 0, 'a,b\n1')
    expect(first.status).toBe(204)
    expect(first.headers.get('Upload-Offset')).toBe('5')

    const wrong = await patch(location, 3, 'xx')
    expect(wrong.status).toBe(409)

    const beyondLength = await patch(location, 5, 'way past the declared ten bytes')
    expect(beyondLength.status).toBe(413)
    expect(await beyondLength.text()).not.toContain('MAX_UPLOAD_BYTES')

    const head = await HEAD(new Request(new URL(location, BASE), { method: 'HEAD', headers: TUS }))
    expect(head.status).toBe(200)
    expect(head.headers.get('Upload-Offset')).toBe('5')
    expect(head.headers.get('Upload-Length')).toBe('10')
    expect(head.headers.get('Cache-Control')).toBe('no-store')

    const last = await patch(location, 5, ',2\n3,')
    expect(last.status).toBe(204)
    expect(last.headers.get('Upload-Offset')).toBe('10')
    expect(await fs.readFile(path.join(uploadsDir(), id), 'utf8')).toBe('a,b\n1,2\n3,')
    expect(await row(id)).toMatchObject({ bytesReceived: 10n, status: 'FINISHED' })
    expect((await row(id)).finishedAt).toBeInstanceOf(Date)
    const imports = await prisma().import.findMany({ where: { uploadId: id } })
    expect(imports.map((i) => [i.fileName, i.status, i.totalBytes])).toEqual([['sales.csv', 'QUEUED', 10n]])

    // Its import still needs the file: termination is refused, the file stays.
    const refused = await DELETE(new Request(new URL(location, BASE), { method: 'DELETE', headers: TUS }))
    expect(refused.status).toBe(409)
    expect(await refused.text()).toBe(`This upload is being imported (import ${imports[0]!.id} is queued): stop the import to remove it\n`)
    expect(await fs.readFile(path.join(uploadsDir(), id), 'utf8')).toBe('a,b\n1,2\n3,')
  })

  it('terminates an unfinished upload: its row says so and its file is gone', async () => {
    const location = (await create(10)).headers.get('Location')!
    const id = idOf(location)
    expect((await patch(location, 0, 'a,b\n1')).status).toBe(204)
    const deleted = await DELETE(new Request(new URL(location, BASE), { method: 'DELETE', headers: TUS }))
    expect(deleted.status).toBe(204)
    expect(await row(id)).toMatchObject({ status: 'TERMINATED' })
    await expect(fs.stat(path.join(uploadsDir(), id))).rejects.toThrow('ENOENT')
    const gone = await HEAD(new Request(new URL(location, BASE), { method: 'HEAD', headers: TUS }))
    expect([404, 410]).toContain(gone.status)
  })

  it('records the bytes received while a PATCH is still streaming', async () => {
    const location = (await create(20)).headers.get('Location')!
    const id = idOf(location)
    let sendRest!: () => void
    const body = new ReadableStream<Uint8Array>({
      start(controller) {
        controller.enqueue(new TextEncoder().encode('0123456789'))
        sendRest = () => {
          controller.enqueue(new TextEncoder().encode('abcdefghij'))
          controller.close()
        }
      },
    })
    const pending = PATCH(
      new Request(new URL(location, BASE), {
        method: 'PATCH',
        headers: { ...TUS, 'Upload-Offset': '0', 'Content-Type': 'application/offset+octet-stream' },
        body,
        duplex: 'half',
      } as RequestInit),
    )
    await expect.poll(() => row(id), { timeout: 5000 }).toMatchObject({ status: 'RECEIVING', bytesReceived: 10n })
    sendRest()
    expect((await pending).headers.get('Upload-Offset')).toBe('20')
    expect(await row(id)).toMatchObject({ status: 'FINISHED', bytesReceived: 20n })
  })

  it('accepts the first bytes with the creation request (creation-with-upload)', async () => {
    const res = await POST(
      new Request(BASE, {
        method: 'POST',
        headers: { ...TUS, 'Upload-Length': '4', 'Upload-Metadata': `filename ${b64('x.csv')}`, 'Content-Type': 'application/offset+octet-stream' },
        body: 'a\n1\n',
      }),
    )
    expect(res.status).toBe(201)
    expect(res.headers.get('Upload-Offset')).toBe('4')
    expect(await row(idOf(res.headers.get('Location')!))).toMatchObject({ status: 'FINISHED', bytesReceived: 4n, fileType: null })
  })

  it('refuses an upload over MAX_UPLOAD_BYTES with 413 and a message, and records nothing', async () => {
    const before = await prisma().upload.count()
    const res = await create(1024 * 1024 + 1)
    expect(res.status).toBe(413)
    expect(await res.text()).toBe('File is larger than the limit of 1 MiB\n')
    expect(await prisma().upload.count()).toBe(before)
  })

  it('refuses an upload without a filename with 400, and records nothing', async () => {
    const before = await prisma().upload.count()
    for (const metadata of [null, `filetype ${b64('text/csv')}`, `filename ${b64('   ')}`]) {
      const res = await create(10, metadata)
      expect(res.status).toBe(400)
      expect(await res.text()).toBe('Upload-Metadata must include a non-empty "filename"')
    }
    expect(await prisma().upload.count()).toBe(before)
  })

  it('finishes an empty file at creation', async () => {
    const res = await create(0)
    expect(res.status).toBe(201)
    const id = idOf(res.headers.get('Location')!)
    expect(await row(id)).toMatchObject({ size: 0n, bytesReceived: 0n, status: 'FINISHED' })
    expect((await fs.stat(path.join(uploadsDir(), id))).size).toBe(0)
  })

  it('refuses metadata values longer than 1024 characters with 400', async () => {
    const long = create(10, `filename ${b64('a'.repeat(1025))}`)
    expect((await long).status).toBe(400)
    expect(await (await long).text()).toBe('"filename" is longer than 1024 characters')
    const longType = await create(10, `filename ${b64('a.csv')},filetype ${b64('t'.repeat(1025))}`)
    expect(longType.status).toBe(400)
    expect(await longType.text()).toBe('"filetype" is longer than 1024 characters')
  })

  it('stores a path-like filename as data, never as a path', async () => {
    const res = await create(3, `filename ${b64('../../etc/passwd')}`)
    expect(res.status).toBe(201)
    const id = idOf(res.headers.get('Location')!)
    expect((await row(id)).fileName).toBe('../../etc/passwd')
    expect(await fs.readdir(uploadsDir())).toContain(id)
  })

  it('refuses a deferred length: the extension is not offered', async () => {
    const res = await POST(
      new Request(BASE, { method: 'POST', headers: { ...TUS, 'Upload-Defer-Length': '1', 'Upload-Metadata': `filename ${b64('x.csv')}` } }),
    )
    expect(res.status).toBe(501)
    expect(await prisma().upload.count({ where: { fileName: 'x.csv', status: 'CREATED' } })).toBe(0)
  })
})
