import fs from 'node:fs/promises'
import path from 'node:path'
import pg from 'pg'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { freePort } from '../server/free-port'
import { createApiKey, createDatabase, health, signIn, sleep, startApp, tempDir, TEST_ADMIN, type AppProcess } from '../../test/app-process'
import type { ImportDto } from '../imports/schemas'
import { SLUICE_SEARCH_PATH } from '../db/sluice-schema'

// Accounts and ownership over HTTP, against the app as `npm start` runs it: every route needs a
// credential, another person's things answer as if they did not exist, keys and sessions stop
// the moment they are revoked, and cookie requests from other sites are refused.

const root = path.resolve(import.meta.dirname, '../..')
const apiDir = path.join(root, 'app/api')
const HTTP_METHODS = ['GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE'] as const
const UNKNOWN = '00000000-0000-4000-8000-000000000000'
const TUS = { 'Tus-Resumable': '1.0.0' }

let dir: string
let db: pg.Pool
let app: AppProcess
const alice = { email: 'alice@sluice.test', password: 'alice-password-12', name: 'Alice' }
const bob = { email: 'bob@sluice.test', password: 'bob-password-1234', name: 'Bob' }
let adminCookie: string
let adminKey: string
let aliceKey: string
let bobKey: string

beforeAll(async () => {
  dir = await tempDir('sluice-accounts-')
  const databaseUrl = await createDatabase('sluice_accounts_test')
  db = new pg.Pool({ connectionString: databaseUrl, options: SLUICE_SEARCH_PATH })
  app = startApp({
    PORT: String(await freePort()),
    DATA_DIR: path.join(dir, 'data'),
    DATABASE_URL: databaseUrl,
    SIGN_IN_MAX_FAILURES: '3',
    SIGN_IN_WINDOW_SECONDS: '600',
  })
  expect(await health(app.url)).toEqual({ ok: true })
  adminCookie = await signIn(app.url, TEST_ADMIN)
  adminKey = await createApiKey(app.url, TEST_ADMIN)
  for (const person of [alice, bob]) {
    const res = await fetch(`${app.url}/api/auth/admin/create-user`, {
      method: 'POST',
      headers: { Cookie: adminCookie, Origin: app.url, 'Content-Type': 'application/json' },
      body: JSON.stringify({ ...person, role: 'user' }),
    })
    expect(res.status, await res.clone().text()).toBe(200)
  }
  aliceKey = await createApiKey(app.url, alice)
  bobKey = await createApiKey(app.url, bob)
}, 120_000)

afterAll(async () => {
  app?.child.kill('SIGTERM')
  await app?.exited
  await db?.end()
  await fs.rm(dir, { recursive: true, force: true })
})

// The sign-in window is long here so that a slow machine cannot outlast it mid-test; a test
// that needs it to pass moves every window's start back instead of waiting.
async function endSignInWindows() {
  await db.query("UPDATE sign_in_failures SET window_start = now() - interval '1 day'")
}

type Init = { headers?: Record<string, string>; json?: unknown; body?: string }
async function call(key: string | null, method: string, route: string, init: Init = {}) {
  const headers: Record<string, string> = { ...(key && { Authorization: `Bearer ${key}` }), ...init.headers }
  if (init.json !== undefined) headers['Content-Type'] = 'application/json'
  const res = await fetch(`${app.url}${route}`, { method, headers, body: init.json !== undefined ? JSON.stringify(init.json) : init.body })
  const text = method === 'HEAD' ? '' : await res.text()
  let body: unknown = text
  try {
    body = JSON.parse(text)
  } catch {}
  return { status: res.status, body, headers: res.headers }
}

/** Uploads a small CSV with `key` over tus; the upload's id. */
async function upload(key: string, body: string, metadata = `filename ${Buffer.from('people.csv').toString('base64')}`) {
  const created = await call(key, 'POST', '/api/uploads', {
    headers: { ...TUS, 'Upload-Length': String(Buffer.byteLength(body)), 'Upload-Metadata': metadata, 'Content-Type': 'application/offset+octet-stream' },
    body,
  })
  expect(created.status).toBe(201)
  return created.headers.get('Location')!.split('/').pop()!
}

async function processedImportOf(key: string, uploadId: string): Promise<ImportDto> {
  for (let i = 0; i < 300; i++) {
    const { body } = await call(key, 'GET', `/api/imports?upload=${uploadId}`)
    const imp = (body as { imports: ImportDto[] }).imports[0]
    if (imp?.status === 'PROCESSED') return imp
    await sleep(50)
  }
  throw new Error(`the import of upload ${uploadId} did not finish`)
}

/** Every route.ts under app/api, as its URL path with sample parameters, and its methods. */
async function routes(dirPath = apiDir): Promise<{ folder: string; methods: string[] }[]> {
  const entries = await fs.readdir(dirPath, { withFileTypes: true })
  const nested = await Promise.all(entries.filter((e) => e.isDirectory()).map((e) => routes(path.join(dirPath, e.name))))
  const own: { folder: string; methods: string[] }[] = []
  if (entries.some((e) => e.isFile() && e.name === 'route.ts')) {
    const source = await fs.readFile(path.join(dirPath, 'route.ts'), 'utf8')
    const methods = HTTP_METHODS.filter((m) => new RegExp(`export const (\\{[^}]*\\b${m}\\b[^}]*\\}|${m}\\b)`).test(source))
    own.push({ folder: path.relative(apiDir, dirPath), methods })
  }
  return [...own, ...nested.flat()]
}

// Routes that are how a credential is had, or need none; each says why.
const PUBLIC = new Map([
  ['health', 'a liveness probe: says only that the service is up'],
  ['auth/[...all]', "better-auth's own routes: sign-in, sign-up, sign-out (each checks its own credential)"],
  ['links/[token]', 'a send-able download link: its token is the credential (an unknown one answers 404)'],
])

describe('without a credential', () => {
  it('every route under app/api answers 401 with the error envelope (found by walking the route files)', async () => {
    const found = await routes()
    expect(found.map((r) => r.folder)).toEqual(expect.arrayContaining(['imports/[id]/[action]', 'uploads/[[...slug]]', 'keys/[id]', 'setup']))
    const answers: string[] = []
    for (const { folder, methods } of found) {
      if (PUBLIC.has(folder)) continue
      const url = `/api/${folder}`.replace('[[...slug]]', UNKNOWN.replaceAll('-', '')).replace('[action]', 'pause').replace(/\[\w+\]/g, UNKNOWN)
      for (const method of methods) {
        const headers = folder.startsWith('uploads') ? { ...TUS, 'Upload-Length': '1', 'Upload-Offset': '0', 'Content-Type': 'application/offset+octet-stream' } : undefined
        const res = await call(null, method, url, method === 'GET' || method === 'HEAD' || method === 'DELETE' ? { headers } : headers ? { headers, body: 'x' } : { json: {} })
        answers.push(`${method} ${url} ${res.status}`)
        if (res.status === 401 && !folder.startsWith('uploads') && method !== 'HEAD') {
          expect(res.body, `${method} ${url}`).toMatchObject({ error: { code: 'UNAUTHORIZED' } })
        }
      }
    }
    expect(answers.filter((a) => !a.endsWith(' 401'))).toEqual([])
    expect(answers.length).toBeGreaterThan(20)
    // The tus endpoint's preflight stays open for CORS.
    expect((await call(null, 'OPTIONS', '/api/uploads')).status).toBe(204)
    expect((await call(null, 'GET', '/api/health')).status).toBe(200)
  })

  it('every page but sign-in and setup redirects to sign-in, and back after', async () => {
    for (const page of ['/', '/docs', `/imports/${UNKNOWN}`, '/settings']) {
      const res = await fetch(`${app.url}${page}`, { redirect: 'manual' })
      expect(res.status, page).toBe(307)
      expect(res.headers.get('location'), page).toBe(`/sign-in?next=${encodeURIComponent(page)}`)
    }
    for (const page of ['/sign-in', '/setup']) expect((await fetch(`${app.url}${page}`, { redirect: 'manual' })).status, page).toBe(200)
    // An open redirect is not offered: `next` must be a path of Sluice's own.
    const signedIn = await fetch(`${app.url}/sign-in?next=//evil.example/x`, { redirect: 'manual', headers: { Cookie: adminCookie } })
    expect(signedIn.status).toBe(307)
    expect(signedIn.headers.get('location')).toBe('/')
  })
})

describe('two accounts', () => {
  let uploadId: string
  let imp: ImportDto
  let exportId: string
  let sessionId: string

  beforeAll(async () => {
    uploadId = await upload(aliceKey, 'name,born\nAda,1815-12-10\nGrace,1906-12-09\n')
    imp = await processedImportOf(aliceKey, uploadId)
    const exported = await call(aliceKey, 'POST', '/api/exports', { json: { importId: imp.id } })
    expect(exported.status).toBe(201)
    exportId = (exported.body as { id: string }).id
    const opened = await call(aliceKey, 'POST', '/api/sessions', { json: { name: 'alice-batch', columns: ['x'] } })
    expect(opened.status).toBe(201)
    sessionId = (opened.body as { id: string }).id
  })

  it("B's every request on A's import, export and session answers 404 exactly as an unknown id does", async () => {
    const requests: [string, (id: string) => string, Init?][] = [
      ['GET', (id) => `/api/imports/${id}`],
      ['GET', (id) => `/api/imports/${id}/rows`],
      ['GET', (id) => `/api/imports/${id}/rejects`],
      ['GET', (id) => `/api/imports/${id}/rejects.csv`],
      ['GET', (id) => `/api/imports/${id}/export.csv`],
      ['POST', (id) => `/api/imports/${id}/pause`],
      ['POST', (id) => `/api/imports/${id}/resume`],
      ['POST', (id) => `/api/imports/${id}/kill`],
      ['POST', (id) => `/api/imports/${id}/stop`],
    ]
    const exportRequests: typeof requests = [
      ['GET', (id) => `/api/exports/${id}`],
      ['GET', (id) => `/api/exports/${id}/download`],
      ['POST', (id) => `/api/exports/${id}/stop`],
    ]
    const sessionRequests: typeof requests = [
      ['GET', (id) => `/api/sessions/${id}`],
      ['POST', (id) => `/api/sessions/${id}/batches`, { json: { records: [{ x: 'b' }] } }],
      ['POST', (id) => `/api/sessions/${id}/finish`, { json: { totalRecords: 0 } }],
    ]
    const sameAsUnknown = async (list: typeof requests, id: string) => {
      for (const [method, route, init] of list) {
        const theirs = await call(bobKey, method, route(id), init)
        const unknown = await call(bobKey, method, route(UNKNOWN), init)
        expect(theirs.status, `${method} ${route(id)}`).toBe(404)
        expect(JSON.stringify(theirs.body).replaceAll(id, UNKNOWN), `${method} ${route(id)}`).toBe(JSON.stringify(unknown.body))
      }
    }
    await sameAsUnknown(requests, imp.id)
    await sameAsUnknown(exportRequests, exportId)
    await sameAsUnknown(sessionRequests, sessionId)
    const exportOfTheirs = await call(bobKey, 'POST', '/api/exports', { json: { importId: imp.id } })
    expect(exportOfTheirs).toMatchObject({ status: 404, body: { error: { code: 'NOT_FOUND', message: `No import with id ${imp.id}` } } })

    // Nothing of B's requests touched A's things.
    expect(await call(aliceKey, 'GET', `/api/imports/${imp.id}`)).toMatchObject({ status: 200, body: { status: 'PROCESSED', rowsImported: 2 } })
    expect(await call(aliceKey, 'GET', `/api/sessions/${sessionId}`)).toMatchObject({ status: 200, body: { status: 'OPEN', recordsReceived: 0 } })
  })

  it("B's HEAD, PATCH and DELETE on A's upload answer tus's 404, as for an unknown upload", async () => {
    const created = await call(aliceKey, 'POST', '/api/uploads', {
      headers: { ...TUS, 'Upload-Length': '20', 'Upload-Metadata': `filename ${Buffer.from('later.csv').toString('base64')}` },
    })
    const location = created.headers.get('Location')!
    const patch = { ...TUS, 'Upload-Offset': '0', 'Content-Type': 'application/offset+octet-stream' }
    for (const [method, init] of [['HEAD', { headers: TUS }], ['PATCH', { headers: patch, body: 'a,b\n' }], ['DELETE', { headers: TUS }]] as const) {
      const theirs = await call(bobKey, method, location, init)
      const unknown = await call(bobKey, method, `/api/uploads/${UNKNOWN.replaceAll('-', '')}`, init)
      expect([method, theirs.status, theirs.body]).toEqual([method, 404, unknown.body])
    }
    // Still A's, untouched.
    const head = await call(aliceKey, 'HEAD', location, { headers: TUS })
    expect([head.status, head.headers.get('Upload-Offset')]).toEqual([200, '0'])
  })

  it('lists show only one’s own; an admin sees both, with the owner named', async () => {
    const bobUpload = await upload(bobKey, 'city\nOslo\n')
    const bobImport = await processedImportOf(bobKey, bobUpload)
    const ids = async (key: string, route: string, field: 'imports' | 'exports') =>
      ((await call(key, 'GET', route)).body as Record<string, { id: string }[]>)[field]!.map((x) => x.id)
    expect(await ids(aliceKey, '/api/imports', 'imports')).toContain(imp.id)
    expect(await ids(aliceKey, '/api/imports', 'imports')).not.toContain(bobImport.id)
    expect(await ids(bobKey, '/api/imports', 'imports')).toEqual([bobImport.id])
    expect(await ids(bobKey, `/api/imports?upload=${uploadId}`, 'imports')).toEqual([])
    expect(await ids(bobKey, '/api/exports', 'exports')).toEqual([])
    expect(await ids(bobKey, `/api/exports?import=${imp.id}`, 'exports')).toEqual([])
    expect(await ids(aliceKey, '/api/exports', 'exports')).toEqual([exportId])
    const all = (await call(adminKey, 'GET', '/api/imports')).body as { imports: ImportDto[] }
    expect(all.imports.map((i) => i.id)).toEqual(expect.arrayContaining([imp.id, bobImport.id]))
    expect(all.imports.find((i) => i.id === imp.id)?.owner).toEqual({ name: 'Alice', email: alice.email })
    expect((await call(adminKey, 'GET', `/api/imports/${bobImport.id}`)).status).toBe(200)
  })

  it('an owner given in tus metadata is ignored: the upload is the requester’s', async () => {
    const { rows } = await db.query<{ id: string }>('SELECT id FROM users WHERE email = $1', [alice.email])
    const metadata = `filename ${Buffer.from('sneaky.csv').toString('base64')},owner ${Buffer.from(rows[0]!.id).toString('base64')},ownerId ${Buffer.from(rows[0]!.id).toString('base64')}`
    const id = await upload(bobKey, 'a\n1\n', metadata)
    const owner = await db.query<{ email: string }>('SELECT u.email FROM uploads up JOIN users u ON u.id = up.owner_id WHERE up.id = $1', [id])
    expect(owner.rows).toEqual([{ email: bob.email }])
    expect((await call(aliceKey, 'GET', `/api/imports?upload=${id}`)).body).toEqual({ imports: [] })
  })
})

describe('revoked credentials', () => {
  it('a revoked key answers 401 at once', async () => {
    const key = await createApiKey(app.url, bob, 'short-lived')
    expect((await call(key, 'GET', '/api/imports')).status).toBe(200)
    const { keys } = (await call(key, 'GET', '/api/keys')).body as { keys: { id: string; name: string }[] }
    const made = keys.find((k) => k.name === 'short-lived')!
    expect(keys.every((k) => !JSON.stringify(k).includes(key))).toBe(true)
    expect((await call(aliceKey, 'DELETE', `/api/keys/${made.id}`)).status).toBe(404) // not hers to revoke
    expect((await call(key, 'DELETE', `/api/keys/${made.id}`)).status).toBe(204)
    expect(await call(key, 'GET', '/api/imports')).toMatchObject({ status: 401, body: { error: { code: 'UNAUTHORIZED' } } })
    expect((await call(key, 'POST', '/api/uploads', { headers: { ...TUS, 'Upload-Length': '1', 'Upload-Metadata': 'filename eA==' } })).status).toBe(401)
    expect((await call('sluice_not-a-key', 'GET', '/api/imports')).status).toBe(401)
  })

  it("a deactivated account's key and session answer 401 at once", async () => {
    const carol = { email: 'carol@sluice.test', password: 'carol-password-1', name: 'Carol' }
    const made = await fetch(`${app.url}/api/auth/admin/create-user`, {
      method: 'POST',
      headers: { Cookie: adminCookie, Origin: app.url, 'Content-Type': 'application/json' },
      body: JSON.stringify({ ...carol, role: 'user' }),
    })
    const { user } = (await made.json()) as { user: { id: string } }
    const key = await createApiKey(app.url, carol)
    const cookie = await signIn(app.url, carol)
    expect((await call(key, 'GET', '/api/me')).body).toMatchObject({ email: carol.email, via: 'key' })
    expect((await call(null, 'GET', '/api/me', { headers: { Cookie: cookie } })).body).toMatchObject({ email: carol.email, via: 'session' })
    const banned = await fetch(`${app.url}/api/auth/admin/ban-user`, {
      method: 'POST',
      headers: { Cookie: adminCookie, Origin: app.url, 'Content-Type': 'application/json' },
      body: JSON.stringify({ userId: user.id }),
    })
    expect(banned.status).toBe(200)
    expect((await call(key, 'GET', '/api/me')).status).toBe(401)
    expect((await call(null, 'GET', '/api/me', { headers: { Cookie: cookie } })).status).toBe(401)
    const again = await fetch(`${app.url}/api/auth/sign-in/email`, { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify(carol) })
    expect(again.status).toBe(403)
  })

  it('an admin-only route answers 403 to a person who is not an admin', async () => {
    const cookie = await signIn(app.url, bob)
    const res = await fetch(`${app.url}/api/auth/admin/create-user`, {
      method: 'POST',
      headers: { Cookie: cookie, Origin: app.url, 'Content-Type': 'application/json' },
      body: JSON.stringify({ email: 'mallory@sluice.test', password: 'mallory-password', name: 'Mallory' }),
    })
    expect(res.status).toBe(403)
  })
})

describe('cross-site requests', () => {
  it('a cookie POST from another origin answers 403; the same request with a Bearer key succeeds', async () => {
    const cookie = await signIn(app.url, bob)
    const body = { name: 'from another site', columns: ['a'] }
    const foreign = await call(null, 'POST', '/api/sessions', { json: body, headers: { Cookie: cookie, Origin: 'https://evil.example' } })
    expect(foreign).toMatchObject({ status: 403, body: { error: { code: 'FORBIDDEN' } } })
    const fetched = await call(null, 'POST', '/api/sessions', { json: body, headers: { Cookie: cookie, 'Sec-Fetch-Site': 'cross-site', Origin: 'https://evil.example' } })
    expect(fetched.status).toBe(403)
    // A form on another site can post text/plain without a preflight: refused before its body is read.
    const form = await call(null, 'POST', '/api/exports', { body: '{"importId":"x"}', headers: { Cookie: cookie, 'Content-Type': 'text/plain', Origin: 'https://evil.example', 'Sec-Fetch-Site': 'cross-site' } })
    expect(form.status).toBe(403)
    const tus = await call(null, 'POST', '/api/uploads', { headers: { ...TUS, Cookie: cookie, 'Upload-Length': '1', 'Upload-Metadata': 'filename eA==', 'Sec-Fetch-Site': 'cross-site' } })
    expect(tus.status).toBe(403)
    const sameSite = await call(null, 'POST', '/api/sessions', { json: body, headers: { Cookie: cookie, Origin: app.url, 'Sec-Fetch-Site': 'same-origin' } })
    expect(sameSite.status).toBe(201)
    const keyed = await call(bobKey, 'POST', '/api/sessions', { json: body, headers: { Origin: 'https://evil.example', 'Sec-Fetch-Site': 'cross-site' } })
    expect(keyed.status).toBe(201)
  })
})

describe('sign-in', () => {
  it('answers one message for a wrong email or password, 429 after a few failures, and lets the right password in once the window has passed', async () => {
    const attempt = (email: string, password: string) =>
      fetch(`${app.url}/api/auth/sign-in/email`, { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify({ email, password }) })
    const wrongPassword = await attempt(alice.email, 'not-her-password')
    const noSuchPerson = await attempt('nobody@sluice.test', 'not-her-password')
    expect([wrongPassword.status, noSuchPerson.status]).toEqual([401, 401])
    expect(await wrongPassword.json()).toEqual(await noSuchPerson.json())
    await attempt(alice.email, 'not-her-password')
    await attempt(alice.email, 'not-her-password')
    const limited = await attempt(alice.email, alice.password)
    expect(limited.status).toBe(429)
    expect(Number(limited.headers.get('retry-after'))).toBeGreaterThanOrEqual(1)
    expect(((await limited.json()) as { message: string }).message).toMatch(/^Too many failed sign-ins: try again in \d+ s$/)
    // Counted in the database: another account from the same address is not locked out yet.
    expect((await attempt(bob.email, bob.password)).status).toBe(200)
    await endSignInWindows()
    expect((await attempt(alice.email, alice.password)).status).toBe(200)
  })

  it('refuses a password under 12 characters for a new account', async () => {
    const res = await fetch(`${app.url}/api/auth/admin/create-user`, {
      method: 'POST',
      headers: { Cookie: adminCookie, Origin: app.url, 'Content-Type': 'application/json' },
      body: JSON.stringify({ email: 'short@sluice.test', password: 'elevenchars', name: 'Short' }),
    })
    expect(res.status).toBe(400)
    expect((await db.query('SELECT 1 FROM users WHERE email = $1', ['short@sluice.test'])).rowCount).toBe(0)
  })

  it('sets the session cookie httpOnly and SameSite=Lax, and hashes passwords with scrypt', async () => {
    const res = await fetch(`${app.url}/api/auth/sign-in/email`, { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify(bob) })
    const cookie = res.headers.getSetCookie().find((c) => c.startsWith('better-auth.session_token='))!
    expect(cookie).toMatch(/; HttpOnly/)
    expect(cookie).toMatch(/; SameSite=Lax/)
    const { rows } = await db.query<{ password: string }>("SELECT a.password FROM accounts a JOIN users u ON u.id = a.user_id WHERE u.email = $1 AND a.provider_id = 'credential'", [bob.email])
    expect(rows[0]!.password).toMatch(/^[0-9a-f]{32}:[0-9a-f]{128}$/)
    expect(rows[0]!.password).not.toContain(bob.password)
  })
})

describe('the admin API', () => {
  it('answers 403 to a person who is not an admin, for every admin route', async () => {
    for (const [method, route, json] of [
      ['GET', '/api/admin/accounts', undefined],
      ['POST', '/api/admin/accounts', { name: 'M', email: 'm@sluice.test', password: 'mallory-password', role: 'admin' }],
      ['PATCH', `/api/admin/accounts/${UNKNOWN}`, { role: 'admin' }],
      ['GET', '/api/admin/invites', undefined],
      ['POST', '/api/admin/invites', {}],
      ['DELETE', `/api/admin/invites/${UNKNOWN}`, undefined],
      ['GET', '/api/admin/settings', undefined],
      ['PUT', '/api/admin/settings', { signUpOpen: true }],
    ] as const) {
      expect((await call(bobKey, method, route, json === undefined ? {} : { json })).status, `${method} ${route}`).toBe(403)
    }
    expect((await db.query("SELECT 1 FROM users WHERE email = 'm@sluice.test'")).rowCount).toBe(0)
  })

  it('deactivates an account (its key stops, then works again once reactivated), and refuses to deactivate oneself', async () => {
    const dave = { email: 'dave@sluice.test', password: 'dave-password-12', name: 'Dave' }
    const made = await call(adminKey, 'POST', '/api/admin/accounts', { json: { ...dave, role: 'user' } })
    expect(made).toMatchObject({ status: 201, body: { email: dave.email, role: 'user', active: true } })
    expect((await call(adminKey, 'POST', '/api/admin/accounts', { json: { ...dave, role: 'user' } })).status).toBe(409)
    const id = (made.body as { id: string }).id
    const key = await createApiKey(app.url, dave)
    const cookie = await signIn(app.url, dave)
    expect((await call(adminKey, 'PATCH', `/api/admin/accounts/${id}`, { json: { active: false } })).body).toMatchObject({ active: false })
    expect((await call(key, 'GET', '/api/imports')).status).toBe(401)
    expect((await call(null, 'GET', '/api/imports', { headers: { Cookie: cookie } })).status).toBe(401)
    expect((await call(adminKey, 'PATCH', `/api/admin/accounts/${id}`, { json: { active: true } })).body).toMatchObject({ active: true })
    expect((await call(key, 'GET', '/api/imports')).status).toBe(200)
    // The session was ended, not suspended: signing in again is needed.
    expect((await call(null, 'GET', '/api/imports', { headers: { Cookie: cookie } })).status).toBe(401)

    const me = (await call(adminKey, 'GET', '/api/me')).body as { id: string }
    expect((await call(adminKey, 'PATCH', `/api/admin/accounts/${me.id}`, { json: { active: false } })).status).toBe(409)
    expect((await call(adminKey, 'PATCH', `/api/admin/accounts/${me.id}`, { json: { role: 'user' } })).status).toBe(409)
    expect((await call(adminKey, 'PATCH', `/api/admin/accounts/${UNKNOWN}`, { json: { active: false } })).status).toBe(404)
  })

  // Found by review: both requests passed the check for an existing email, and the second failed with a 500.
  it('two requests creating the same account at once make one account: 201 and 409', async () => {
    const twin = { email: 'twin@sluice.test', password: 'twin-password-123', name: 'Twin', role: 'user' }
    const answers = await Promise.all(Array.from({ length: 4 }, () => call(adminKey, 'POST', '/api/admin/accounts', { json: twin })))
    expect(answers.map((a) => a.status).sort()).toEqual([201, 409, 409, 409])
    expect((await db.query('SELECT count(*)::int AS n FROM users WHERE email = $1', [twin.email])).rows[0].n).toBe(1)
  })

  it('makes someone admin, who then sees everyone’s imports', async () => {
    const erin = { email: 'erin@sluice.test', password: 'erin-password-12', name: 'Erin' }
    const made = (await call(adminKey, 'POST', '/api/admin/accounts', { json: erin })).body as { id: string }
    const key = await createApiKey(app.url, erin)
    expect(((await call(key, 'GET', '/api/imports')).body as { imports: unknown[] }).imports).toEqual([])
    expect((await call(key, 'GET', '/api/admin/accounts')).status).toBe(403)
    await call(adminKey, 'PATCH', `/api/admin/accounts/${made.id}`, { json: { role: 'admin' } })
    expect(((await call(key, 'GET', '/api/imports')).body as { imports: unknown[] }).imports.length).toBeGreaterThan(0)
    expect((await call(key, 'GET', '/api/admin/accounts')).status).toBe(200)
  })
})

describe('invites and sign-up', () => {
  it('an invite link makes one account, once, within 7 days; a used, expired or made-up one answers 401', async () => {
    const invite = await call(adminKey, 'POST', '/api/admin/invites', { json: {} })
    expect(invite.status).toBe(201)
    const { url, id, expiresAt } = invite.body as { url: string; id: string; expiresAt: string }
    expect(url).toMatch(new RegExp(`^${app.url}/invite\\?token=[\\w-]{32}$`))
    expect(Date.parse(expiresAt) - Date.now()).toBeGreaterThan(7 * 24 * 3600 * 1000 - 60_000)
    const token = new URL(url).searchParams.get('token')!
    expect(await (await fetch(url)).text()).toContain('You were invited: create your account.')

    const frank = { token, name: 'Frank', email: 'frank@sluice.test', password: 'frank-password-1' }
    expect((await call(null, 'POST', '/api/invites/accept', { json: { ...frank, password: 'short' } })).status).toBe(400)
    // Two people with the same link at the same moment: one account.
    const [a, b] = await Promise.all([
      call(null, 'POST', '/api/invites/accept', { json: frank }),
      call(null, 'POST', '/api/invites/accept', { json: { ...frank, email: 'frank2@sluice.test' } }),
    ])
    expect([a.status, b.status].sort()).toEqual([201, 401])
    expect((await call(null, 'POST', '/api/invites/accept', { json: { ...frank, email: 'frank3@sluice.test' } })).status).toBe(401)
    const { rows } = await db.query("SELECT email, role FROM users WHERE email LIKE 'frank%'")
    expect(rows).toHaveLength(1)
    expect(rows[0].role).toBe('user')
    expect(((await call(adminKey, 'GET', '/api/admin/invites')).body as { invites: { id: string }[] }).invites.map((i) => i.id)).not.toContain(id)

    const old = (await call(adminKey, 'POST', '/api/admin/invites', { json: {} })).body as { url: string; id: string }
    await db.query("UPDATE invites SET expires_at = now() - interval '1 second' WHERE id = $1", [old.id])
    const oldToken = new URL(old.url).searchParams.get('token')!
    expect((await call(null, 'POST', '/api/invites/accept', { json: { ...frank, token: oldToken, email: 'late@sluice.test' } })).status).toBe(401)
    const revoked = (await call(adminKey, 'POST', '/api/admin/invites', { json: {} })).body as { url: string; id: string }
    expect((await call(adminKey, 'DELETE', `/api/admin/invites/${revoked.id}`)).status).toBe(204)
    const revokedToken = new URL(revoked.url).searchParams.get('token')!
    expect((await call(null, 'POST', '/api/invites/accept', { json: { ...frank, token: revokedToken, email: 'revoked@sluice.test' } })).status).toBe(401)
    expect((await call(null, 'POST', '/api/invites/accept', { json: { ...frank, token: 'made-up', email: 'madeup@sluice.test' } })).status).toBe(401)
  })

  it('sign-up is by invite until an admin opens it', async () => {
    const grace = { name: 'Grace', email: 'grace@sluice.test', password: 'grace-password-1' }
    const closed = await call(null, 'POST', '/api/auth/sign-up/email', { json: grace })
    expect(closed.status).toBe(403)
    expect(closed.body).toMatchObject({ code: 'SIGN_UP_BY_INVITE' })
    expect((await call(adminKey, 'PUT', '/api/admin/settings', { json: { signUpOpen: true } })).body).toEqual({ signUpOpen: true })
    expect((await call(null, 'POST', '/api/auth/sign-up/email', { json: grace })).status).toBe(200)
    expect((await call(null, 'POST', '/api/auth/sign-up/email', { json: { ...grace, email: 'short@sluice.test', password: 'elevenchars' } })).status).toBe(400)
    await call(adminKey, 'PUT', '/api/admin/settings', { json: { signUpOpen: false } })
    const { rows } = await db.query("SELECT role FROM users WHERE email = 'grace@sluice.test'")
    expect(rows).toEqual([{ role: 'user' }])
  })
})

describe('send-able download links', () => {
  it('work signed out, honour Range, and answer 404 once revoked or expired; only the owner makes one', async () => {
    const uploadId = await upload(aliceKey, 'name\nAda\nGrace\nKatherine\n')
    const imp = await processedImportOf(aliceKey, uploadId)
    const made = (await call(aliceKey, 'POST', '/api/exports', { json: { importId: imp.id } })).body as { id: string }
    let exp: { status: string; downloadUrl: string | null; linkUrl: string | null }
    for (;;) {
      exp = (await call(aliceKey, 'GET', `/api/exports/${made.id}`)).body as typeof exp
      if (exp.status === 'PROCESSED') break
      await sleep(50)
    }
    expect(exp.linkUrl).toBeNull()
    expect((await call(bobKey, 'POST', `/api/exports/${made.id}/link`)).status).toBe(404)
    const shared = (await call(aliceKey, 'POST', `/api/exports/${made.id}/link`)).body as { linkUrl: string }
    expect(shared.linkUrl).toMatch(/^\/api\/links\/[\w-]{43}$/)
    expect(((await call(aliceKey, 'POST', `/api/exports/${made.id}/link`)).body as { linkUrl: string }).linkUrl).toBe(shared.linkUrl)

    const whole = await fetch(`${app.url}${shared.linkUrl}`)
    expect(whole.status).toBe(200)
    expect(await whole.text()).toBe('name\nAda\nGrace\nKatherine\n')
    expect(whole.headers.get('referrer-policy')).toBe('no-referrer')
    const part = await fetch(`${app.url}${shared.linkUrl}`, { headers: { Range: 'bytes=5-' } })
    expect([part.status, await part.text(), part.headers.get('content-range')]).toEqual([206, 'Ada\nGrace\nKatherine\n', 'bytes 5-24/25'])
    expect((await fetch(`${app.url}${shared.linkUrl}`, { method: 'HEAD' })).headers.get('content-length')).toBe('25')
    // The link opens that one file, nothing else.
    expect((await fetch(`${app.url}/api/imports/${imp.id}`)).status).toBe(401)
    expect((await fetch(`${app.url}/api/links/${'x'.repeat(43)}`)).status).toBe(404)

    expect(((await call(aliceKey, 'DELETE', `/api/exports/${made.id}/link`)).body as { linkUrl: null }).linkUrl).toBeNull()
    expect((await fetch(`${app.url}${shared.linkUrl}`)).status).toBe(404)
    const again = (await call(aliceKey, 'POST', `/api/exports/${made.id}/link`)).body as { linkUrl: string }
    expect(again.linkUrl).not.toBe(shared.linkUrl)
    expect((await fetch(`${app.url}${again.linkUrl}`)).status).toBe(200)
    await db.query("UPDATE exports SET expires_at = now() - interval '1 second' WHERE id = $1", [made.id])
    expect((await fetch(`${app.url}${again.linkUrl}`)).status).toBe(404)
  })
})

describe('the first admin', () => {
  it('two setups at once make exactly one admin, who then owns the rows from before accounts', async () => {
    const databaseUrl = await createDatabase('sluice_setup_test')
    const legacy = new pg.Client({ connectionString: databaseUrl, options: SLUICE_SEARCH_PATH })
    await legacy.connect()
    await legacy.query("INSERT INTO uploads (id, file_name, size, status, updated_at) VALUES ('legacyupload', 'old.csv', 4, 'FINISHED', now())")
    const fresh = startApp({ PORT: String(await freePort()), DATA_DIR: path.join(dir, 'setup-data'), DATABASE_URL: databaseUrl, ADMIN_EMAIL: '', ADMIN_PASSWORD: '' })
    try {
      expect(await health(fresh.url)).toEqual({ ok: true })
      const token = /\/setup\?token=([\w-]+)/.exec(fresh.output())?.[1]
      expect(token).toBeDefined()
      expect((await fetch(`${fresh.url}/api/imports`)).status).toBe(401)
      const setup = (email: string, t = token) =>
        fetch(`${fresh.url}/api/setup`, { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify({ token: t, name: 'First', email, password: 'first-admin-password' }) })
      expect((await setup('wrong@sluice.test', 'not-the-token')).status).toBe(401)
      const answers = await Promise.all([setup('one@sluice.test'), setup('two@sluice.test')])
      // The second is refused either at the token (used up) or, having passed it at the same
      // instant, at the account check it waits for.
      const [first, second] = answers.map((r) => r.status).sort()
      expect(first).toBe(201)
      expect([401, 409]).toContain(second)
      const { rows } = await legacy.query('SELECT email, role FROM users')
      expect(rows).toHaveLength(1)
      expect(rows[0].role).toBe('admin')
      const owner = await legacy.query("SELECT u.email FROM uploads up JOIN users u ON u.id = up.owner_id WHERE up.id = 'legacyupload'")
      expect(owner.rows).toEqual([{ email: rows[0].email }])
      expect(await (await fetch(`${fresh.url}/setup?token=${token}`)).text()).toContain('Sluice is set up already.')
    } finally {
      fresh.child.kill('SIGTERM')
      await fresh.exited
      await legacy.end()
    }
  }, 120_000)
})

describe('attacks', () => {
  it('a burst of parallel wrong passwords gets no more tries than the limit', async () => {
    const henry = { email: 'henry@sluice.test', password: 'henry-password-1', name: 'Henry' }
    await call(adminKey, 'POST', '/api/admin/accounts', { json: henry })
    const burst = await Promise.all(
      Array.from({ length: 12 }, (_, i) =>
        fetch(`${app.url}/api/auth/sign-in/email`, { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify({ email: henry.email, password: `guess-number-${i}` }) }),
      ),
    )
    const statuses = burst.map((r) => r.status)
    expect(statuses.filter((s) => s === 401)).toHaveLength(3)
    expect(statuses.filter((s) => s === 429)).toHaveLength(9)
    // The burst also used up this address's tries (4 times an account's): the window passes
    // before the next test signs in from it.
    const fromHere = await fetch(`${app.url}/api/auth/sign-in/email`, { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify(bob) })
    expect(fromHere.status).toBe(429)
    await endSignInWindows()
  })

  it('sign-up cannot make itself an admin', async () => {
    await call(adminKey, 'PUT', '/api/admin/settings', { json: { signUpOpen: true } })
    try {
      const res = await call(null, 'POST', '/api/auth/sign-up/email', { json: { name: 'Ivan', email: 'ivan@sluice.test', password: 'ivan-password-12', role: 'admin' } })
      expect(res).toMatchObject({ status: 400, body: { code: 'FIELD_NOT_ALLOWED' } })
      expect((await db.query("SELECT 1 FROM users WHERE email = 'ivan@sluice.test'")).rowCount).toBe(0)
      const plain = await call(null, 'POST', '/api/auth/sign-up/email', { json: { name: 'Ivan', email: 'ivan@sluice.test', password: 'ivan-password-12' } })
      expect(plain.status).toBe(200)
      const { rows } = await db.query("SELECT role FROM users WHERE email = 'ivan@sluice.test'")
      expect(rows).toEqual([{ role: 'user' }])
    } finally {
      await call(adminKey, 'PUT', '/api/admin/settings', { json: { signUpOpen: false } })
    }
  })

  it('an account is deactivated, never removed: better-auth’s remove-user is refused and its imports stay', async () => {
    const { rows } = await db.query<{ id: string }>('SELECT id FROM users WHERE email = $1', [alice.email])
    const res = await fetch(`${app.url}/api/auth/admin/remove-user`, {
      method: 'POST',
      headers: { Cookie: adminCookie, Origin: app.url, 'Content-Type': 'application/json' },
      body: JSON.stringify({ userId: rows[0]!.id }),
    })
    expect(res.status).toBe(403)
    expect((await call(aliceKey, 'GET', '/api/me')).status).toBe(200)
  })

  it('nothing but a key in the Authorization header is a credential: not a link token, a query parameter, Basic, or an enormous header', async () => {
    const imp = ((await call(aliceKey, 'GET', '/api/imports')).body as { imports: ImportDto[] }).imports[0]!
    const made = (await call(aliceKey, 'POST', '/api/exports', { json: { importId: imp.id } })).body as { id: string }
    for (let i = 0; i < 100 && ((await call(aliceKey, 'GET', `/api/exports/${made.id}`)).body as { status: string }).status !== 'PROCESSED'; i++) await sleep(50)
    const { linkUrl } = (await call(aliceKey, 'POST', `/api/exports/${made.id}/link`)).body as { linkUrl: string }
    const linkToken = linkUrl.split('/').pop()!
    expect((await call(linkToken, 'GET', '/api/imports')).status).toBe(401)
    expect((await call(null, 'GET', `/api/imports?key=${aliceKey}`)).status).toBe(401)
    expect((await call(null, 'GET', '/api/imports', { headers: { Authorization: `Basic ${Buffer.from(`${alice.email}:${alice.password}`).toString('base64')}` } })).status).toBe(401)
    expect((await call(null, 'GET', '/api/imports', { headers: { 'X-Api-Key': aliceKey } })).status).toBe(401)
    expect((await call(`sluice_${'A'.repeat(8000)}`, 'GET', '/api/imports')).status).toBe(401)
    // An empty Bearer (an API client with a blank key field) leaves the session to decide.
    expect((await call(null, 'GET', '/api/me', { headers: { Authorization: 'Bearer ', Cookie: await signIn(app.url, alice) } })).body).toMatchObject({ email: alice.email })
  })
})

describe('sign-in from scripts and from other sites', () => {
  it("a script's fetch signs in without an Origin; a browser's from another site is refused", async () => {
    // Node's fetch sends Sec-Fetch-Mode: cors and no Origin; curl sends neither.
    expect((await fetch(`${app.url}/api/auth/sign-in/email`, { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify(bob) })).status).toBe(200)
    const foreign = await fetch(`${app.url}/api/auth/sign-in/email`, {
      method: 'POST',
      headers: { 'Content-Type': 'application/json', Origin: 'https://evil.example', 'Sec-Fetch-Site': 'cross-site', 'Sec-Fetch-Mode': 'cors' },
      body: JSON.stringify(bob),
    })
    expect(foreign.status).toBe(403)
    const cookie = await signIn(app.url, bob)
    const signOutFromElsewhere = await fetch(`${app.url}/api/auth/sign-out`, { method: 'POST', headers: { Cookie: cookie, Origin: 'https://evil.example', 'Content-Type': 'application/json' }, body: '{}' })
    expect(signOutFromElsewhere.status).toBe(403)
    expect((await call(null, 'GET', '/api/me', { headers: { Cookie: cookie } })).status).toBe(200)
  })
})
