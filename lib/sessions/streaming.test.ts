import fs from 'node:fs'
import http from 'node:http'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { appFetch, authHeaders, sleep, startTestApp, type TestApp } from '../../test/app-process'
import type { SessionDto } from './schemas'

// A large NDJSON batch streams into the database: the server never holds its body, so its
// memory stays flat, and a body cut off half-way applies nothing.

const BODY_BYTES = 200 * 2 ** 20
let t: TestApp

beforeAll(async () => {
  t = await startTestApp('streaming', { MAX_BATCH_BYTES: String(300 * 2 ** 20), MAX_BATCH_RECORDS: '1000000' })
}, 120_000)

afterAll(async () => {
  await t?.stop()
})

const line = (i: number) => `${JSON.stringify({ id: i, name: `name ${i}`, note: 'x'.repeat(200) })}\n`
const rssOf = (pid: number) => Number(/VmRSS:\s+(\d+) kB/.exec(fs.readFileSync(`/proc/${pid}/status`, 'utf8'))![1]) * 1024

/**
 * Sends an NDJSON batch of generated records, made as it goes: `bytes` of it, then the end, or
 * a cut when `cutAt` is reached. `pauseMs` between 1 MiB pieces throttles it. Resolves with the
 * answer (null when cut), the records sent and the server's peak RSS meanwhile.
 */
async function sendBatch(session: SessionDto, opts: { cutAt?: number; pauseMs?: number }) {
  let peak = 0
  const sampler = setInterval(() => (peak = Math.max(peak, rssOf(t.app.child.pid!))), 50)
  let sent = 0
  let records = 0
  try {
    const answer = await new Promise<{ status: number; body: any } | null>((resolve, reject) => {
      const req = http.request(
        `${t.app.url}/api/sessions/${session.id}/batches?sequence=0`,
        { method: 'POST', headers: { ...authHeaders(t.app.url), 'Content-Type': 'application/x-ndjson' } },
        (res) => {
          let text = ''
          res.on('data', (d) => (text += d))
          res.on('end', () => resolve({ status: res.statusCode!, body: JSON.parse(text) }))
        },
      )
      req.on('error', (error) => (opts.cutAt !== undefined ? resolve(null) : reject(error)))
      const pump = async () => {
        while (sent < BODY_BYTES) {
          if (opts.cutAt !== undefined && sent >= opts.cutAt) {
            req.destroy()
            return
          }
          let piece = ''
          while (piece.length < 2 ** 20) piece += line(records++)
          sent += piece.length
          if (!req.write(piece)) await new Promise((r) => req.once('drain', r))
          if (opts.pauseMs) await sleep(opts.pauseMs)
        }
        req.end()
      }
      pump().catch(reject)
    })
    return { answer, records, peak }
  } finally {
    clearInterval(sampler)
  }
}

describe('a 200 MB NDJSON batch', () => {
  it('cut off half-way through a throttled connection applies nothing; sent again whole it applies once, with the server’s memory flat', async () => {
    const session = (await (await appFetch(`${t.app.url}/api/sessions`, {
      method: 'POST',
      headers: { 'Content-Type': 'application/json' },
      body: JSON.stringify({ name: 'large', columns: ['id', 'name', 'note'] }),
    })).json()) as SessionDto
    await sleep(1000)
    const idle = rssOf(t.app.child.pid!)

    const cut = await sendBatch(session, { cutAt: BODY_BYTES / 2, pauseMs: 20 })
    expect(cut.answer).toBeNull()
    await sleep(1000)
    const afterCut = (await (await appFetch(`${t.app.url}/api/sessions/${session.id}`)).json()) as SessionDto
    expect(afterCut).toMatchObject({ recordsReceived: 0, batchesReceived: 0 })

    const whole = await sendBatch(session, {})
    expect(whole.answer).toMatchObject({ status: 200, body: { applied: true, records: whole.records } })
    // Holding the body would take 200 MB and more; streamed, the server grows by far less.
    expect(Math.max(cut.peak, whole.peak) - idle).toBeLessThan(100 * 2 ** 20)

    const again = await sendBatch(session, {})
    expect(again.answer).toMatchObject({ status: 200, body: { applied: false, records: whole.records } })
    const imp = (await (await appFetch(`${t.app.url}/api/imports/${session.importId}`)).json()) as { tableName: string; rowsImported: number }
    expect(imp.rowsImported).toBe(whole.records)
    expect(Number((await t.db.query(`SELECT count(*) AS n FROM ${imp.tableName}`)).rows[0].n)).toBe(whole.records)
  }, 180_000)
})
