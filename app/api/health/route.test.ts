import pg from 'pg'
import { afterEach, describe, expect, it } from 'vitest'
import { GET } from './route'

const globals = globalThis as unknown as { sluicePool?: pg.Pool }
const realPool = globals.sluicePool

afterEach(() => {
  globals.sluicePool = realPool
})

describe('GET /api/health', () => {
  it('answers {"ok": true} when the database answers', async () => {
    const res = await GET()
    expect(res.status).toBe(200)
    expect(await res.json()).toEqual({ ok: true })
  })

  it('answers 503 with the error envelope when it does not', async () => {
    // Port 1 on localhost: nothing listens there, so every connection is refused.
    globals.sluicePool = new pg.Pool({ connectionString: 'postgresql://nobody@localhost:1/none' })
    const res = await GET()
    expect(res.status).toBe(503)
    expect(await res.json()).toEqual({ error: { code: 'UNAVAILABLE', message: 'The database does not answer' } })
  })
})
