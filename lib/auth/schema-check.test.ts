import { afterAll, beforeAll, expect, it } from 'vitest'
import { appFetch, authHeaders, sleep, startTestApp, type TestApp } from '../../test/app-process'

// Defect: better-auth checked its schema on the first sign-in after a start by introspecting every
// column of every table in the database, one name lookup per column. A table dropped between the
// query's snapshot and its lookup (an import's batch table, as a recovering import drops them at
// start) failed that check, and sign-in answered 500 (once, in CI). The window is narrow, so this
// test recreates the scenario rather than the exact interleaving; the fix turns the check off.

let t: TestApp

beforeAll(async () => {
  t = await startTestApp('auth_schema_check')
}, 120_000)

afterAll(async () => {
  await t?.stop()
})

it('sign-in right after a start answers while tables are being dropped', async () => {
  const TABLES = 1500
  const columns = Array.from({ length: 20 }, (_, i) => `c${i} text`).join(', ')
  for (let from = 0; from < TABLES; from += 100) {
    const creates = Array.from({ length: 100 }, (_, i) => `CREATE TABLE imported_batches.dropped_${from + i} (${columns});`)
    await t.db.query(creates.join('\n'))
  }
  t.app.child.kill('SIGTERM')
  await t.app.exited
  // One at a time, as a recovering import drops its batch tables, for as long as the start takes.
  let dropped = 0
  let starting = true
  const dropping = (async () => {
    while (starting && dropped < TABLES) {
      await t.db.query(`DROP TABLE imported_batches.dropped_${TABLES - 1 - dropped++}`)
      await sleep(10)
    }
  })()
  try {
    await t.restart()
  } finally {
    starting = false
    await dropping
  }
  expect(dropped).toBeGreaterThan(0)
  expect(t.app.output()).not.toContain('Could not validate the database schema')
  expect((await appFetch(`${t.app.url}/api/me`, { headers: authHeaders(t.app.url) })).status).toBe(200)
}, 300_000)
