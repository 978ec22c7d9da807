import type { APIRequestContext } from '@playwright/test'
import type { SessionDto } from '../lib/sessions/schemas'
import { expect, openHome, test } from './fixtures'
import { SERVER_URL } from './run-dir'

// A batch session's import is an import like any other on the page: it shows while records
// arrive, finishes, and can be stopped from its card.

const api = (route: string) => new URL(route, SERVER_URL).href

async function openSession(request: APIRequestContext, name: string): Promise<SessionDto> {
  const res = await request.post(api('/api/sessions'), { data: { name, columns: ['id', 'city'] } })
  expect(res.status()).toBe(201)
  return (await res.json()) as SessionDto
}

async function sendBatch(request: APIRequestContext, session: SessionDto, from: number, n: number, sequence: number) {
  const records = Array.from({ length: n }, (_, i) => ({ id: from + i, city: i % 2 ? 'Zürich' : 'Kraków' }))
  const res = await request.post(api(`/api/sessions/${session.id}/batches`), { data: { records, sequence } })
  expect(res.status()).toBe(200)
}

test('a session shows while records arrive and as an import once finished, with its rows on its page', async ({ page, request }) => {
  const name = `batch-${Date.now()}`
  const session = await openSession(request, name)
  await sendBatch(request, session, 1, 40, 0)

  await openHome(page)
  const entry = page.getByTestId('earlier-import').filter({ hasText: name })
  await expect(entry).toHaveAttribute('data-status', 'RECEIVING')
  await expect(entry.getByTestId('import-status')).toHaveText('Receiving')
  await entry.getByRole('link', { name }).click()

  const card = page.getByTestId('import-card')
  await expect(card).toHaveAttribute('data-status', 'RECEIVING')
  await expect(card).toContainText('40 rows received so far through the batch API')
  await expect(card.getByRole('button', { name: /^Stop/ })).toBeVisible()
  await expect(card.getByRole('button', { name: /^Pause/ })).toHaveCount(0)

  await sendBatch(request, session, 41, 2, 1)
  expect((await request.post(api(`/api/sessions/${session.id}/finish`), { data: { totalRecords: 42 } })).status()).toBe(200)
  await expect(card).toHaveAttribute('data-status', 'PROCESSED')
  await expect(card.getByTestId('import-rows')).toHaveAttribute('data-value', '42')
  await expect(page.getByRole('cell', { name: 'Kraków' }).first()).toBeVisible()
})

test('stopping a session from its page removes its rows and closes the session', async ({ page, request }) => {
  const name = `stop-${Date.now()}`
  const session = await openSession(request, name)
  await sendBatch(request, session, 1, 25, 0)

  await page.goto(api(`/imports/${session.importId}`))
  const card = page.getByTestId('import-card')
  await expect(card).toHaveAttribute('data-status', 'RECEIVING')
  await card.getByRole('button', { name: /^Stop/ }).click()
  const dialog = page.getByRole('dialog', { name: `Stop the import of ${name}?` })
  await expect(dialog).toContainText('This removes 25 rows and closes the batch session')
  await dialog.getByRole('button', { name: 'Stop and remove rows' }).click()
  await expect(card).toHaveAttribute('data-status', 'STOPPED')

  const after = (await (await request.get(api(`/api/sessions/${session.id}`))).json()) as SessionDto
  expect(after).toMatchObject({ status: 'STOPPED', recordsReceived: 0 })
  const late = await request.post(api(`/api/sessions/${session.id}/batches`), { data: { records: [{ id: 26 }] } })
  expect(late.status()).toBe(409)
})
