import fs from 'node:fs/promises'
import path from 'node:path'
import { pathToFileURL } from 'node:url'
import { Validator } from '@seriousme/openapi-schema-validator'
import { Ajv2020 } from 'ajv/dist/2020.js'
import addFormats from 'ajv-formats'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { appFetch, createDatabase, health, signInForTests, startApp, tempDir, type AppProcess } from '../../test/app-process'
import { freePort } from '../server/free-port'
import { openApiDocument } from './openapi'

const root = path.resolve(import.meta.dirname, '../..')
const apiDir = path.join(root, 'app/api')
const HTTP_METHODS = ['GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE', 'OPTIONS'] as const

/** Every route.ts under app/api, as its folder relative to app (e.g. `api/imports/[id]/rows`). */
async function routeFolders(dir = apiDir): Promise<string[]> {
  const entries = await fs.readdir(dir, { withFileTypes: true })
  const nested = await Promise.all(entries.filter((e) => e.isDirectory()).map((e) => routeFolders(path.join(dir, e.name))))
  const own = entries.some((e) => e.isFile() && e.name === 'route.ts') ? [path.relative(path.join(root, 'app'), dir)] : []
  return [...own, ...nested.flat()]
}

/**
 * Whether a documented path is served by the route folder: `[id]` is `{id}`, an optional
 * catch-all (`[[...slug]]`, the tus endpoint) is its folder's path with or without `/{…}`.
 */
function serves(folder: string, documentedPath: string): boolean {
  const pattern = folder
    .split('/')
    .map((segment) => {
      if (/^\[\[\.\.\.\w+\]\]$/.test(segment)) return '(?:/\\{\\w+\\})?'
      // A catch-all (`[...all]`, better-auth's routes) serves the paths below its folder.
      if (/^\[\.\.\.\w+\]$/.test(segment)) return '/.+'
      const param = /^\[(\w+)\]$/.exec(segment)
      return `/${param ? `\\{${param[1]}\\}` : segment.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}`
    })
    .join('')
  return new RegExp(`^${pattern}$`).test(documentedPath)
}

const documentedPaths = () => Object.keys(openApiDocument().paths ?? {})

describe('the OpenAPI document', () => {
  it('documents exactly the methods each route handler under app/api exports', async () => {
    const folders = await routeFolders()
    const implemented: string[] = []
    for (const folder of folders) {
      const mod = (await import(pathToFileURL(path.join(root, 'app', folder, 'route.ts')).href)) as Record<string, unknown>
      for (const method of HTTP_METHODS) if (typeof mod[method] === 'function') implemented.push(`${method} ${folder}`)
    }
    const documented: string[] = []
    for (const [documentedPath, item] of Object.entries(openApiDocument().paths ?? {})) {
      const owners = folders.filter((folder) => serves(folder, documentedPath))
      expect(owners, `route folders serving ${documentedPath}`).toHaveLength(1)
      for (const method of HTTP_METHODS) if (item[method.toLowerCase() as Lowercase<typeof method>]) documented.push(`${method} ${owners[0]}`)
    }
    // Sorted and de-duplicated: OPTIONS of the tus folder is documented on both of its paths.
    expect([...new Set(documented)].sort()).toEqual(implemented.sort())
    // Every route folder counts (a sanity check of the walk itself).
    expect(folders).toContain('api/uploads/[[...slug]]')
    expect(folders).toContain('api/sessions/[id]/finish')
  })

  it('is valid OpenAPI 3.1', async () => {
    const doc = openApiDocument()
    expect(doc.openapi).toBe('3.1.0')
    expect(await new Validator().validate(structuredClone(doc) as never)).toEqual({ valid: true })
  })

  it('names each operation, once', () => {
    const operations = Object.values(openApiDocument().paths ?? {}).flatMap((item) =>
      HTTP_METHODS.map((m) => item[m.toLowerCase() as Lowercase<typeof m>]).filter((op) => op !== undefined),
    )
    const ids = new Set(operations.map((op) => op.operationId).filter((id) => id !== undefined))
    expect(ids.size).toBe(operations.length)
  })

  it('has the tus endpoint on both of its paths and the batch API', () => {
    expect(documentedPaths()).toEqual(
      expect.arrayContaining([
        '/api/uploads',
        '/api/uploads/{id}',
        '/api/sessions',
        '/api/sessions/{id}',
        '/api/sessions/{id}/batches',
        '/api/sessions/{id}/finish',
      ]),
    )
  })
})

describe('the app over HTTP, against its OpenAPI document', () => {
  let app: AppProcess
  const doc = openApiDocument()
  // Every $ref resolved, so that each response schema compiles on its own.
  const validator = new Validator()
  const ajv = addFormats(new Ajv2020({ strict: false, allErrors: true }))
  let resolved: typeof doc

  beforeAll(async () => {
    expect(await validator.validate(structuredClone(doc) as never)).toEqual({ valid: true })
    resolved = validator.resolveRefs() as unknown as typeof doc
    const dir = await tempDir('sluice-openapi-')
    app = startApp({ PORT: String(await freePort()), DATA_DIR: path.join(dir, 'data'), DATABASE_URL: await createDatabase('sluice_openapi_test') })
    expect(await health(app.url)).toEqual({ ok: true })
    await signInForTests(app.url)
  }, 120_000)

  afterAll(async () => {
    app?.child.kill('SIGTERM')
    await app?.exited
  })

  /**
   * Sends the request and checks its answer against the operation it documents: the status is
   * one of its responses, the JSON body fits that response's schema, and every header the
   * response marks required is there. Answers the status and body.
   */
  async function call(
    method: string,
    documentedPath: string,
    url: string,
    init: { json?: unknown; body?: string | Uint8Array<ArrayBuffer>; headers?: Record<string, string> } = {},
  ) {
    const res = await appFetch(`${app.url}${url}`, {
      method,
      headers: init.json === undefined ? init.headers : { 'Content-Type': 'application/json', ...init.headers },
      body: init.json === undefined ? init.body : JSON.stringify(init.json),
    })
    const operation = resolved.paths?.[documentedPath]?.[method.toLowerCase() as 'get']
    expect(operation, `${method} ${documentedPath} is documented`).toBeDefined()
    const documented = operation!.responses?.[String(res.status)] as
      | { content?: Record<string, { schema?: object }>; headers?: Record<string, { required?: boolean }> }
      | undefined
    expect(documented, `${method} ${url} answered ${res.status}, which its operation does not list`).toBeDefined()
    for (const [name, header] of Object.entries(documented!.headers ?? {})) {
      if (header.required) expect(res.headers.get(name), `header ${name} of ${method} ${url}`).not.toBeNull()
    }
    const text = await res.text()
    const jsonSchema = documented!.content?.['application/json']?.schema
    if (!jsonSchema) return { status: res.status, body: text, headers: res.headers }
    expect(res.headers.get('content-type')).toMatch(/^application\/json/)
    const body: unknown = JSON.parse(text)
    const valid = ajv.compile(jsonSchema)
    expect(valid(body) ? [] : valid.errors, `${method} ${url} → ${res.status} ${text}`).toEqual([])
    return { status: res.status, body, headers: res.headers }
  }

  it('serves the document at /api/openapi.json', async () => {
    const res = await appFetch(`${app.url}/api/openapi.json`)
    expect(res.status).toBe(200)
    expect(res.headers.get('content-type')).toBe('application/json')
    const served = (await res.json()) as typeof doc
    expect(served.openapi).toMatch(/^3\.1\./)
    expect(served).toEqual(JSON.parse(JSON.stringify(doc)))
    expect((await call('GET', '/api/openapi.json', '/api/openapi.json')).status).toBe(200)
  })

  it('answers the batch API as documented, its errors included', async () => {
    const opened = await call('POST', '/api/sessions', '/api/sessions', { json: { name: 'people' } })
    expect(opened.status).toBe(201)
    const session = opened.body as { id: string; importId: string }
    expect((await call('POST', '/api/sessions', '/api/sessions', { json: { name: '' } })).status).toBe(400)
    expect((await call('POST', '/api/sessions', '/api/sessions', { headers: { 'Content-Type': 'text/plain' } })).status).toBe(415)

    const batches = `/api/sessions/${session.id}/batches`
    const records = [{ id: 1, name: 'Ålesund' }, { id: 2, name: null }]
    expect(await call('POST', '/api/sessions/{id}/batches', batches, { json: { records, sequence: 0 } })).toMatchObject({
      status: 200,
      body: { applied: true, records: 2 },
    })
    expect(await call('POST', '/api/sessions/{id}/batches', batches, { json: { records, sequence: 0 } })).toMatchObject({
      status: 200,
      body: { applied: false, records: 2 },
    })
    expect((await call('POST', '/api/sessions/{id}/batches', batches, { json: { records: [{ id: 3 }], sequence: 0 } })).status).toBe(409)
    expect(await call('POST', '/api/sessions/{id}/batches', batches, { json: { records: [{ age: 3 }] } })).toMatchObject({
      status: 422,
      body: { error: { code: 'UNPROCESSABLE', details: { record: 0, key: 'age' } } },
    })
    const tooMany = Array.from({ length: 10_001 }, (_, i) => ({ id: i }))
    expect(await call('POST', '/api/sessions/{id}/batches', batches, { json: { records: tooMany } })).toMatchObject({
      status: 413,
      body: { error: { code: 'TOO_LARGE', details: { maxRecords: 10_000, records: 10_001 } } },
    })

    const finish = `/api/sessions/${session.id}/finish`
    expect(await call('POST', '/api/sessions/{id}/finish', finish, { json: { totalRecords: 3 } })).toMatchObject({
      status: 422,
      body: { error: { code: 'UNPROCESSABLE', details: { totalRecords: 3, recordsReceived: 2 } } },
    })
    expect(await call('POST', '/api/sessions/{id}/finish', finish, { json: { totalRecords: 2 } })).toMatchObject({
      status: 200,
      body: { status: 'FINISHED', recordsReceived: 2 },
    })
    expect(await call('GET', '/api/sessions/{id}', `/api/sessions/${session.id}`)).toMatchObject({ status: 200, body: { id: session.id } })
    expect((await call('GET', '/api/sessions/{id}', '/api/sessions/00000000-0000-4000-8000-000000000000')).status).toBe(404)

    // The session's import, through the imports and exports API.
    const imp = `/api/imports/${session.importId}`
    expect(await call('GET', '/api/imports', '/api/imports')).toMatchObject({ status: 200, body: { imports: [{ id: session.importId }] } })
    expect(await call('GET', '/api/imports/{id}', imp)).toMatchObject({ status: 200, body: { status: 'PROCESSED', rowsImported: 2 } })
    expect(await call('GET', '/api/imports/{id}/rows', `${imp}/rows`)).toMatchObject({
      status: 200,
      body: { rows: [{ id: '1', name: 'Ålesund' }, { id: '2', name: null }] },
    })
    expect(await call('GET', '/api/imports/{id}/rejects', `${imp}/rejects?limit=5`)).toMatchObject({
      status: 200,
      body: { rejects: [], limit: 5, offset: 0 },
    })
    expect(await call('GET', '/api/imports/{id}/rejects.csv', `${imp}/rejects.csv`)).toMatchObject({ status: 200, body: 'line,reason,record\n' })
    expect((await call('GET', '/api/imports/{id}/rejects.csv', '/api/imports/00000000-0000-4000-8000-000000000000/rejects.csv')).status).toBe(404)
    expect((await call('GET', '/api/imports/{id}/rows', `${imp}/rows?limit=0`)).status).toBe(400)
    expect((await call('POST', '/api/imports/{id}/{action}', `${imp}/pause`)).status).toBe(409)
    expect((await call('POST', '/api/imports/{id}/{action}', `${imp}/rewind`)).status).toBe(404)
    expect(await call('GET', '/api/imports/{id}/export.csv', `${imp}/export.csv`)).toMatchObject({ status: 200, body: 'id,name\n1,Ålesund\n2,\n' })
    expect((await call('GET', '/api/imports/{id}/export.csv', `${imp}/export.csv?from=2024-01-01`)).status).toBe(400)

    const created = await call('POST', '/api/exports', '/api/exports', { json: { importId: session.importId } })
    expect(created.status).toBe(201)
    const exportId = (created.body as { id: string }).id
    expect(await call('GET', '/api/exports', `/api/exports?import=${session.importId}`)).toMatchObject({
      status: 200,
      body: { exports: [{ id: exportId }] },
    })
    expect((await call('GET', '/api/exports/{id}', `/api/exports/${exportId}`)).status).toBe(200)
    expect((await call('GET', '/api/exports/{id}/download', '/api/exports/00000000-0000-4000-8000-000000000000/download')).status).toBe(404)
    expect((await call('POST', '/api/exports/{id}/stop', '/api/exports/00000000-0000-4000-8000-000000000000/stop')).status).toBe(404)
    expect((await call('DELETE', '/api/imports/{id}', imp)).status).toBe(204)
    expect((await call('DELETE', '/api/imports/{id}', imp)).status).toBe(404)
    expect((await call('GET', '/api/exports/{id}', `/api/exports/${exportId}`)).status).toBe(404)
  })

  it('answers the tus endpoint with the documented statuses and headers', async () => {
    expect((await call('OPTIONS', '/api/uploads', '/api/uploads')).status).toBe(204)
    expect((await call('POST', '/api/uploads', '/api/uploads', { headers: { 'Upload-Length': '3' } })).status).toBe(412)
    const tus = { 'Tus-Resumable': '1.0.0' }
    const metadata = `filename ${Buffer.from('a.csv').toString('base64')}`
    const create = (length: number) =>
      call('POST', '/api/uploads', '/api/uploads', { headers: { ...tus, 'Upload-Length': String(length), 'Upload-Metadata': metadata } })
    expect((await create(11 * 1024 ** 3)).status).toBe(413)

    const created = await create(4)
    expect(created.status).toBe(201)
    const upload = created.headers.get('Location')!
    const octets = { ...tus, 'Content-Type': 'application/offset+octet-stream' }
    expect((await call('PATCH', '/api/uploads/{id}', upload, { headers: { ...octets, 'Upload-Offset': '0' }, body: 'a\n' })).status).toBe(204)
    expect((await call('HEAD', '/api/uploads/{id}', upload, { headers: tus })).headers.get('Upload-Offset')).toBe('2')
    expect((await call('PATCH', '/api/uploads/{id}', upload, { headers: { ...octets, 'Upload-Offset': '1' }, body: '1\n' })).status).toBe(409)
    const two = { ...tus, 'Upload-Offset': '2' }
    expect((await call('PATCH', '/api/uploads/{id}', upload, { headers: { ...two, 'Content-Type': 'text/csv' }, body: '1\n' })).status).toBe(400)
    expect((await call('PATCH', '/api/uploads/{id}', upload, { headers: two, body: new TextEncoder().encode('1\n') })).status).toBe(403)
    expect((await call('OPTIONS', '/api/uploads/{id}', upload)).status).toBe(204)
    expect((await call('DELETE', '/api/uploads/{id}', upload, { headers: tus })).status).toBe(204)
    expect((await call('HEAD', '/api/uploads/{id}', upload, { headers: tus })).status).toBe(404)
    expect((await call('GET', '/api/health', '/api/health')).body).toEqual({ ok: true })
  })
})
