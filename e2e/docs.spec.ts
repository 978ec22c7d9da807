import type { Page } from '@playwright/test'
import type { oas31 } from 'zod-openapi'
import { expect, test } from './fixtures'
import { E2E_ADMIN, SERVER_URL } from './run-dir'

const METHODS = ['get', 'head', 'post', 'put', 'patch', 'delete', 'options'] as const

/** Every URL the page asks for (requests and WebSockets), from now on. */
function recordRequests(page: Page): string[] {
  const urls: string[] = []
  page.on('request', (req) => urls.push(req.url()))
  page.on('websocket', (ws) => urls.push(ws.url()))
  return urls
}

test('the API reference lists every endpoint, and nothing it loads comes from another host', async ({ page, request }) => {
  const urls = recordRequests(page)
  await page.goto(SERVER_URL.href)
  await page.waitForLoadState('networkidle')
  // The home page does not prefetch /docs (and so none of Scalar's code or stylesheet).
  expect(urls.filter((url) => new URL(url).pathname === '/docs')).toEqual([])
  await page.getByRole('link', { name: 'API reference' }).click()
  await expect(page).toHaveURL(new URL('/docs', SERVER_URL).href)

  // Each operation of the served document is in the sidebar by its summary, and the tag
  // sections list the paths.
  const doc = (await (await request.get(new URL('/api/openapi.json', SERVER_URL).href)).json()) as oas31.OpenAPIObject
  const summaries = Object.values(doc.paths ?? {}).flatMap((item) => METHODS.map((m) => item[m]?.summary).filter((s) => s !== undefined))
  expect(summaries.length).toBeGreaterThan(20)
  // Scalar renders the reference after it loads: the first summaries took over 5 s once.
  for (const summary of summaries) await expect(page.getByText(summary, { exact: true }).first()).toBeVisible({ timeout: 15_000 })
  for (const path of ['/api/uploads', '/api/uploads/{id}', '/api/imports/{id}/{action}', '/api/sessions', '/api/sessions/{id}/batches', '/api/sessions/{id}/finish', '/api/exports/{id}/download']) {
    await expect(page.getByText(path, { exact: true }).first()).toBeAttached()
  }

  // "Test Request" sends to the app itself (no request proxy in between).
  const health = page.locator('section', { has: page.getByRole('heading', { name: 'Is the service up?' }) }).last()
  await health.getByRole('button', { name: /Test Request/ }).click()
  const answered = page.waitForResponse((res) => res.url() === new URL('/api/health', SERVER_URL).href)
  const send = page.getByRole('dialog', { name: 'API Client' }).getByRole('button', { name: /^Send get request to / })
  await send.click()
  expect((await answered).status()).toBe(200)
  // The client disables Send while it reads an answer: closed before it is done, it kept Send
  // disabled for the next request (one run in four timed out waiting for it).
  await expect(send).toBeEnabled()
  await page.keyboard.press('Escape')

  // A route that needs a credential, tried with the browser's own session.
  const me = page.locator('section', { has: page.getByRole('heading', { name: 'Who the credential belongs to' }) }).last()
  await me.getByRole('button', { name: /Test Request/ }).click()
  const signedIn = page.waitForResponse((res) => res.url() === new URL('/api/me', SERVER_URL).href)
  await page.getByRole('dialog', { name: 'API Client' }).getByRole('button', { name: /^Send get request to / }).click()
  const answer = await signedIn
  expect(answer.status()).toBe(200)
  expect(await answer.json()).toMatchObject({ email: E2E_ADMIN.email, via: 'session' })
  await page.keyboard.press('Escape')
  await page.waitForLoadState('networkidle')

  expect(urls).toContain(new URL('/api/openapi.json', SERVER_URL).href)
  expect(urls.filter((url) => new URL(url).origin !== SERVER_URL.origin)).toEqual([])
})
