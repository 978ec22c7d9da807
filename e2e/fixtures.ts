import crypto from 'node:crypto'
import fs from 'node:fs'
import path from 'node:path'
import { pipeline } from 'node:stream/promises'
import pg from 'pg'
import AxeBuilder from '@axe-core/playwright'
import { test as base, expect, type APIRequestContext, type Page } from '@playwright/test'
import { generateCsv } from '../lib/csv/generate'
import { databaseUrlFile } from '../lib/db/database-url-file'
import { dataDir, fixturesDir, SERVER_URL } from './run-dir'
import { startThrottleProxy, type ThrottleProxy } from './throttle-proxy'
import { SLUICE_SEARCH_PATH } from '../lib/db/sluice-schema'

export type CsvFixture = { path: string; size: number; sha256: string }

/** Streams a file through SHA-256; the hex digest. */
export async function sha256File(file: string): Promise<string> {
  const hash = crypto.createHash('sha256')
  await pipeline(fs.createReadStream(file), hash)
  return hash.digest('hex')
}

async function makeCsv(name: string, bytes: number, seed: number): Promise<CsvFixture> {
  const file = path.join(fixturesDir(), name)
  const { bytes: size } = await generateCsv({ out: file, bytes, seed })
  return { path: file, size, sha256: await sha256File(file) }
}

export type RowsCsvFixture = { path: string; size: number; rows: number }

/** A generated CSV of exactly `rows` data rows (after its header line). */
async function makeRowsCsv(name: string, rows: number, seed: number): Promise<RowsCsvFixture> {
  const file = path.join(fixturesDir(), name)
  const result = await generateCsv({ out: file, rows, seed })
  return { path: file, size: result.bytes, rows: result.rows }
}

/** The server's offset for an upload (tus HEAD), or its status when it has none (404/410). */
export async function serverOffset(request: APIRequestContext, uploadUrl: string): Promise<number | { status: number }> {
  const res = await request.head(uploadUrl, { headers: { 'Tus-Resumable': '1.0.0' } })
  if (res.status() !== 200) return { status: res.status() }
  return Number(res.headers()['upload-offset'])
}

/** `serverOffset` for an upload that must exist. */
export async function offsetOf(request: APIRequestContext, uploadUrl: string): Promise<number> {
  const offset = await serverOffset(request, uploadUrl)
  if (typeof offset !== 'number') throw new Error(`HEAD ${uploadUrl} answered ${offset.status}`)
  return offset
}

/** Opens the home page and waits until React handles it (a file chosen before that is lost). */
export async function openHome(page: Page) {
  await page.goto(SERVER_URL.href)
  await expect(page.getByTestId('drop-zone')).toHaveAttribute('data-ready', 'true')
}

/** A client of the e2e server's own PostgreSQL (its URL is in DATA_DIR), connected; end it when done. */
export async function connectToServerDatabase(): Promise<pg.Client> {
  const client = new pg.Client({ connectionString: fs.readFileSync(databaseUrlFile(dataDir()), 'utf8').trim(), options: SLUICE_SEARCH_PATH })
  await client.connect()
  return client
}

/** Runs one query on the e2e server's own PostgreSQL. */
export async function sql<T extends pg.QueryResultRow>(text: string, values: unknown[] = []): Promise<T[]> {
  const client = await connectToServerDatabase()
  try {
    return (await client.query<T>(text, values)).rows
  } finally {
    await client.end()
  }
}

const MiB = 1024 * 1024

export const test = base.extend<
  { throttledProxy: (bytesPerSecond: number) => Promise<ThrottleProxy>; answerImportedBefore: boolean },
  { bigCsv: CsvFixture; smallCsv: CsvFixture; importCsv: RowsCsvFixture; stopCsv: RowsCsvFixture }
>({
  // Generated once per worker (about 12 s for the big one), under the run's temporary folder.
  bigCsv: [async ({}, use) => use(await makeCsv('big.csv', 200 * MiB, 1)), { scope: 'worker', timeout: 90_000 }],
  smallCsv: [async ({}, use) => use(await makeCsv('small.csv', 8 * MiB, 2)), { scope: 'worker' }],
  // About 34 MB and 67 MB: several seconds of import each at the e2e server's small batches.
  importCsv: [async ({}, use) => use(await makeRowsCsv('rows-300k.csv', 300_000, 3)), { scope: 'worker' }],
  stopCsv: [async ({}, use) => use(await makeRowsCsv('rows-600k.csv', 600_000, 4)), { scope: 'worker' }],
  // The tests share their fixture files, so a file is often one imported before: the page asks,
  // and unless a test is about that question, it answers "Import it again" as a person would.
  answerImportedBefore: [true, { option: true }],
  page: async ({ page, answerImportedBefore }, use) => {
    if (answerImportedBefore) await page.addLocatorHandler(page.getByRole('button', { name: /^Import .+ again$/ }).first(), (again) => again.click())
    await use(page)
  },
  // Proxies live in the test's own process and close when the test ends.
  throttledProxy: async ({}, use) => {
    const open: ThrottleProxy[] = []
    await use(async (bytesPerSecond) => {
      const proxy = await startThrottleProxy({ target: SERVER_URL, bytesPerSecond })
      open.push(proxy)
      return proxy
    })
    await Promise.all(open.map((p) => p.close()))
  },
})

export { expect }

/**
 * The page as it is now, checked by axe-core against WCAG 2.1 AA: no serious or critical
 * violation. `state` names the state in the failure message.
 */
export async function expectAccessible(page: Page, state: string, { exclude }: { exclude?: string } = {}) {
  const builder = new AxeBuilder({ page }).withTags(['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa'])
  const { violations } = await (exclude ? builder.exclude(exclude) : builder).analyze()
  const serious = violations.filter((v) => v.impact === 'serious' || v.impact === 'critical')
  expect(
    serious.map((v) => `${v.id} (${v.impact}): ${v.help}: ${v.nodes.map((n) => `${n.target.join(' ')} ${n.html.slice(0, 120)}`).join(', ')}`),
    `accessibility of ${state}`,
  ).toEqual([])
}

/**
 * Each progress bar's fill against its track: at least 3:1 (WCAG 1.4.11, non-text contrast),
 * which axe-core does not check. The colours are read through a canvas, which turns Tailwind's
 * oklch() into RGB.
 */
export async function expectProgressContrast(page: Page, state: string) {
  const ratios = await page.locator('[role="progressbar"]').evaluateAll((bars) => {
    const ctx = document.createElement('canvas').getContext('2d', { willReadFrequently: true })!
    const luminance = (color: string) => {
      ctx.clearRect(0, 0, 1, 1)
      ctx.fillStyle = color
      ctx.fillRect(0, 0, 1, 1)
      const [r, g, b] = Array.from(ctx.getImageData(0, 0, 1, 1).data).map((c) => {
        const s = c / 255
        return s <= 0.04045 ? s / 12.92 : ((s + 0.055) / 1.055) ** 2.4
      })
      return 0.2126 * r! + 0.7152 * g! + 0.0722 * b!
    }
    return bars.map((bar) => {
      const fill = bar.lastElementChild as HTMLElement
      const [a, b] = [luminance(getComputedStyle(bar).backgroundColor), luminance(getComputedStyle(fill).backgroundColor)]
      return { bar: bar.getAttribute('aria-label'), ratio: Math.round(((Math.max(a, b) + 0.05) / (Math.min(a, b) + 0.05)) * 100) / 100 }
    })
  })
  expect(ratios.filter((r) => r.ratio < 3), `progress bars' contrast in ${state}`).toEqual([])
  return ratios.length
}
