import fs from 'node:fs'
import path from 'node:path'
import { parse } from 'csv-parse/sync'
import type { APIRequestContext, Locator, Page } from '@playwright/test'
import type { ExportDto } from '../lib/exports/schemas'
import { formatBytes, formatRows } from '../lib/format'
import type { ImportDto } from '../lib/imports/schemas'
import { connectToServerDatabase, expect, openHome, sql, test } from './fixtures'
import { dataDir, SERVER_URL } from './run-dir'

// The fixtures are written the way PostgreSQL writes CSV: LF line ends, a field quoted only
// when it holds a comma, a quote or a line break, and an empty field unquoted (NULL). An
// export of all rows without protection must then give back the very same bytes.
const field = (value: string) => (/[",\n\r]/.test(value) ? `"${value.replaceAll('"', '""')}"` : value)
const toCsv = (records: string[][]) => records.map((r) => `${r.map(field).join(',')}\n`).join('')

// What formula protection prefixes with a single quote (OWASP's list for CSV injection).
const protect = (value: string) => (/^[=+\-@\t\r]/.test(value) ? `'${value}` : value)

const AWKWARD = [
  'plain',
  'with, a comma',
  'she said "hi"',
  'two\nlines',
  'ünïcödé ✓ 日本語 🙂',
  '  padded both  ',
  ' leading',
  'trailing ',
  '',
  '=SUM(A1:A2)',
  '=HYPERLINK("https://example.com","click")',
  '+1 555 0100',
  '@handle',
]

/** A header with a comma, a quote and non-ASCII, then rows of every awkward value; no date column. */
function awkwardRecords(rows: number): string[][] {
  const header = ['id', 'name', 'city, country', 'Straße "Nr"', 'amount']
  const records = [header]
  for (let i = 0; i < rows; i++) {
    const amount = i % 9 === 4 ? '' : ((i % 2 ? -1 : 1) * ((i * 7919) % 100_000) / 100).toFixed(2)
    records.push([String(i + 1), AWKWARD[i % AWKWARD.length]!, AWKWARD[(i * 5 + 3) % AWKWARD.length]!, `${i % 50} ${AWKWARD[(i * 3) % AWKWARD.length]!}`, amount])
  }
  return records
}

const DAY_MS = 86_400_000

/**
 * Two date columns (a day, some empty; a timestamp, some empty) among text ones. The days run
 * over every day of March 2024; `note` starts with a date but holds other text too.
 */
function datedRecords(rows: number): string[][] {
  const march1 = Date.UTC(2024, 2, 1)
  const records = [['id', 'Day', 'Logged at', 'label', 'note']]
  for (let i = 0; i < rows; i++) {
    const day = i % 13 === 6 ? '' : new Date(march1 + ((i * 7) % 31) * DAY_MS).toISOString().slice(0, 10)
    // Whole seconds, written as PostgreSQL writes a timestamptz column (the import types it).
    const loggedAt = i % 4 === 1 ? '' : new Date(march1 + i * 5 * 3_600_000 + i * 1_000).toISOString().replace(/^(.{10})T(.{8})\.000Z$/, '$1 $2+00')
    records.push([String(i + 1), day, loggedAt, `item ${i + 1}`, i === 0 ? '2024-01-01' : AWKWARD[i % AWKWARD.length]!])
  }
  return records
}

/** Chooses a CSV on the home page and waits until its import is PROCESSED; its card and id. */
async function importThroughPage(page: Page, name: string, csv: string, rows: number): Promise<{ card: Locator; id: string }> {
  await openHome(page)
  await page.getByTestId('file-input').setInputFiles({ name, mimeType: 'text/csv', buffer: Buffer.from(csv) })
  const card = page.getByRole('article', { name })
  const imp = card.getByTestId('import-card')
  await expect(imp).toHaveAttribute('data-status', 'PROCESSED', { timeout: 30_000 })
  await expect(imp.getByTestId('import-rows')).toHaveAttribute('data-value', String(rows))
  await expect(imp.getByTestId('import-rejected')).toHaveText('0')
  return { card, id: (await imp.getAttribute('data-import-id'))! }
}

/** Clicks a download link and returns the bytes the browser saved, under the name it was given. */
async function download(page: Page, link: Locator): Promise<{ name: string; bytes: Buffer }> {
  const [file] = await Promise.all([page.waitForEvent('download'), link.click()])
  return { name: file.suggestedFilename(), bytes: fs.readFileSync((await file.path())!) }
}

async function apiGet<T>(request: APIRequestContext, url: string): Promise<T> {
  const res = await request.get(new URL(url, SERVER_URL).href)
  expect(res.status()).toBe(200)
  return (await res.json()) as T
}

test('all rows without protection come back byte for byte, and the download resumes', async ({ page, request }) => {
  const records = awkwardRecords(3_000)
  const source = Buffer.from(toCsv(records))
  const { card, id } = await importThroughPage(page, 'awkward.csv', source.toString(), 3_000)

  // 1. The panel opens from the card: all rows, protection on by default, no date column to range on.
  const panel = card.getByTestId('export-panel')
  const opener = panel.getByRole('button', { name: 'Export rows' })
  await expect(opener).toHaveAttribute('aria-expanded', 'false')
  await opener.click()
  await expect(opener).toHaveAttribute('aria-expanded', 'true')
  await expect(panel.getByRole('radio', { name: 'All rows' })).toBeChecked()
  await expect(panel.getByTestId('export-range-unavailable')).toHaveText(
    'No column holds only dates in the first 200 rows, so there is no range to choose.',
  )
  await expect(panel.getByRole('radio', { name: 'A date range' })).toBeDisabled()
  const protection = panel.getByRole('checkbox', { name: 'Protect against spreadsheet formulas' })
  await expect(protection).toBeChecked()

  // 2. Untick protection and export.
  await protection.uncheck()
  await panel.getByTestId('export-button').click()
  const run = panel.getByTestId('export-progress')
  await expect(run).toHaveAttribute('data-status', 'PROCESSED', { timeout: 15_000 })
  await expect(run.getByRole('progressbar', { name: 'Export of awkward.csv' })).toHaveAttribute('aria-valuenow', '100')
  await expect(run).toContainText('3,000 rows exported · all rows')
  await expect(run.getByTestId('export-stop')).toHaveCount(0)
  const link = run.getByTestId('export-download')
  await expect(link).toHaveText(`awkward.csv (${formatBytes(source.length)})`)

  // 3. The browser's download is the source file, exactly.
  const saved = await download(page, link)
  expect(saved.name).toBe('awkward.csv')
  expect(saved.bytes.length).toBe(source.length)
  expect(saved.bytes.equals(source)).toBe(true)

  // 4. A download that broke off after 1000 bytes continues from there, for the same file only.
  const exportId = (await run.getAttribute('data-export-id'))!
  const exp = await apiGet<ExportDto>(request, `/api/exports/${exportId}`)
  expect(exp).toMatchObject({ importId: id, status: 'PROCESSED', column: null, protectFormulas: false, rowsTotal: 3_000, rowsWritten: 3_000 })
  expect(exp.bytesWritten).toBe(source.length)
  const href = new URL((await link.getAttribute('href'))!, SERVER_URL).href
  const etag = (await request.head(href)).headers()['etag']!
  const rest = await request.get(href, { headers: { Range: 'bytes=1000-', 'If-Range': etag } })
  expect(rest.status()).toBe(206)
  expect(rest.headers()['content-range']).toBe(`bytes 1000-${source.length - 1}/${source.length}`)
  expect((await rest.body()).equals(source.subarray(1000))).toBe(true)
  const changed = await request.get(href, { headers: { Range: 'bytes=1000-', 'If-Range': '"another-file"' } })
  expect(changed.status()).toBe(200)
  expect((await changed.body()).equals(source)).toBe(true)
})

test('formula protection, on by default, puts a quote before formulas; the export stays listed on the import page', async ({ page }) => {
  const records = awkwardRecords(400)
  const { card, id } = await importThroughPage(page, 'formulas.csv', toCsv(records), 400)
  const [header, ...rows] = records
  // id and amount are number columns: a number is never a formula, so -12.34 stays as it is.
  const expected = Buffer.from(toCsv([header!, ...rows.map((r) => r.map((v, i) => (i === 0 || i === 4 ? v : protect(v))))]))
  // The fixture's formulas, as the protected file must show them.
  expect(expected.toString()).toContain(",'=SUM(A1:A2),")
  expect(expected.toString()).toContain(`,"'=HYPERLINK(""https://example.com"",""click"")",`)

  const panel = card.getByTestId('export-panel')
  await panel.getByRole('button', { name: 'Export rows' }).click()
  await panel.getByTestId('export-button').click()
  const run = panel.getByTestId('export-progress')
  await expect(run).toHaveAttribute('data-status', 'PROCESSED', { timeout: 15_000 })
  await expect(run).toContainText('400 rows exported · all rows, formulas protected')
  const link = run.getByTestId('export-download')
  await expect(link).toHaveText(`formulas.csv (${formatBytes(expected.length)})`)
  const saved = await download(page, link)
  expect(saved.bytes.toString()).toBe(expected.toString())
  expect(saved.bytes.equals(expected)).toBe(true)

  // On the import's page it is an earlier export, with its link, until it expires.
  await card.getByRole('link', { name: 'Details' }).click()
  await expect(page).toHaveURL(new URL(`/imports/${id}`, SERVER_URL).href)
  const earlier = page.getByTestId('export-panel').getByTestId('earlier-exports').getByTestId('earlier-export')
  await expect(earlier).toHaveCount(1)
  await expect(earlier).toContainText('400 rows · all rows, formulas protected')
  const again = await download(page, earlier.getByTestId('export-download'))
  expect(again.bytes.equals(expected)).toBe(true)
})

test('a date range from the import page holds exactly the rows of both inclusive days', async ({ page, request }) => {
  const records = datedRecords(400)
  const { card, id } = await importThroughPage(page, 'dated.csv', toCsv(records), 400)
  const [header, ...rows] = records
  // Counted here, from the fixture: the days are ISO dates, so text order is date order.
  const inRange = rows.filter((r) => r[1]! !== '' && r[1]! >= '2024-03-10' && r[1]! <= '2024-03-20')
  expect(new Set(inRange.map((r) => r[1])).size).toBe(11) // both ends, and every day between, are in the fixture
  expect(inRange.length).toBeLessThan(rows.filter((r) => r[1] !== '').length)
  const expected = Buffer.from(toCsv([header!, ...inRange]))

  await card.getByRole('link', { name: 'Details' }).click()
  await expect(page).toHaveURL(new URL(`/imports/${id}`, SERVER_URL).href)
  const panel = page.getByTestId('export-panel')

  // Only the columns whose sampled values are all dates are offered.
  await panel.getByRole('radio', { name: 'A date range' }).check()
  const column = panel.getByLabel('Date column')
  await expect(column.locator('option')).toHaveText(['Day', 'Logged at'])
  await column.selectOption({ label: 'Day' })
  await panel.getByRole('checkbox', { name: 'Protect against spreadsheet formulas' }).uncheck()

  // The column's days are said, and the count of the whole column before anything starts.
  const withDay = rows.filter((r) => r[1] !== '').length
  await expect(panel.getByTestId('export-range-check')).toContainText("The column's dates run from 2024-03-01 to 2024-03-31.")
  await expect(panel.getByTestId('export-preview')).toHaveText(`Writes ${formatRows(withDay)}.`)

  // Ends the wrong way round: said as they are typed, and Export cannot start.
  await panel.getByLabel('From', { exact: true }).fill('2024-03-20')
  await panel.getByLabel('To', { exact: true }).fill('2024-03-10')
  await expect(panel.getByTestId('export-range-check')).toHaveText('From is after To: swap them, or change one.')
  await expect(panel.getByLabel('From', { exact: true })).toHaveAttribute('aria-invalid', 'true')
  await expect(panel.getByTestId('export-button')).toBeDisabled()

  // A range outside the column's days matches nothing: said so, instead of an empty file.
  await panel.getByLabel('From', { exact: true }).fill('2025-01-01')
  await panel.getByLabel('To', { exact: true }).fill('2025-01-31')
  await expect(panel.getByTestId('export-range-check')).toHaveText("The range lies outside the column's dates, which run from 2024-03-01 to 2024-03-31.")
  await expect(panel.getByTestId('export-preview')).toHaveText('No row falls in this range: there is nothing to export.')
  await expect(panel.getByTestId('export-button')).toBeDisabled()
  expect((await apiGet<{ exports: ExportDto[] }>(request, `/api/exports?import=${id}`)).exports).toEqual([])

  // The right way round: the count is the export's.
  await panel.getByLabel('From', { exact: true }).fill('2024-03-10')
  await panel.getByLabel('To', { exact: true }).fill('2024-03-20')
  await expect(panel.getByTestId('export-preview')).toHaveText(`Writes ${formatRows(inRange.length)}.`)
  await panel.getByTestId('export-button').click()
  await expect(panel.getByTestId('export-notice')).toHaveCount(0)
  const run = panel.getByTestId('export-progress')
  await expect(run).toHaveAttribute('data-status', 'PROCESSED', { timeout: 15_000 })
  await expect(run).toContainText(`${formatRows(inRange.length)} exported · Day 2024-03-10 to 2024-03-20`)
  const link = run.getByTestId('export-download')
  const fileName = 'dated_day_2024-03-10_to_2024-03-20.csv'
  await expect(link).toHaveText(`${fileName} (${formatBytes(expected.length)})`)
  const saved = await download(page, link)
  expect(saved.name).toBe(fileName)
  const savedRecords = parse(saved.bytes) as string[][]
  expect(savedRecords.length - 1).toBe(inRange.length)
  expect(savedRecords.slice(1).every((r) => r[1]! >= '2024-03-10' && r[1]! <= '2024-03-20')).toBe(true)
  expect(saved.bytes.equals(expected)).toBe(true)

  const exp = await apiGet<ExportDto>(request, `/api/exports/${(await run.getAttribute('data-export-id'))!}`)
  expect(exp).toMatchObject({ column: 'day', from: '2024-03-10', to: '2024-03-20', protectFormulas: false, rowsTotal: inRange.length, rowsWritten: inRange.length })
})

test('Stop ends a running export: STOPPED, its query cancelled, no file and no link', async ({ page, request }) => {
  const { id } = await importThroughPage(page, 'held.csv', toCsv(datedRecords(300)), 300)
  const { tableName } = await apiGet<ImportDto>(request, `/api/imports/${id}`)
  await page.goto(new URL(`/imports/${id}`, SERVER_URL).href)
  const panel = page.getByTestId('export-panel')
  // The sample of rows has been read (the range can be chosen) before the table is locked.
  await expect(panel.getByRole('radio', { name: 'A date range' })).toBeEnabled()

  // Holding the table keeps the export's first query waiting: it is running, for as long as needed.
  const holder = await connectToServerDatabase()
  let exportId = ''
  try {
    await holder.query('BEGIN')
    await holder.query(`LOCK TABLE ${tableName} IN ACCESS EXCLUSIVE MODE`)

    await panel.getByTestId('export-button').click()
    const run = panel.getByTestId('export-progress')
    await expect(run).toHaveAttribute('data-status', 'PROCESSING', { timeout: 15_000 })
    await expect(run).toContainText('Counting the rows…')
    await expect(run.getByRole('progressbar')).toHaveAttribute('aria-valuenow', '0')
    await expect(panel.getByTestId('export-button')).toBeDisabled()
    exportId = (await run.getAttribute('data-export-id'))!
    const connection = `sluice-export:${exportId}`
    await expect
      .poll(async () => (await sql<{ wait: string | null }>('SELECT wait_event_type AS wait FROM pg_stat_activity WHERE application_name = $1', [connection])).map((r) => r.wait))
      .toEqual(['Lock'])

    await run.getByTestId('export-stop').click()
    await expect(run).toHaveAttribute('data-status', 'STOPPED')
    await expect(run).toContainText('Stopped: the partial file was deleted')
    await expect(run.getByTestId('export-stop')).toHaveCount(0)
    await expect(panel.getByTestId('export-download')).toHaveCount(0)
    await expect(panel.getByTestId('export-button')).toBeEnabled()

    // The stop itself ended the export's query, while the table is still held.
    await expect
      .poll(async () => (await sql('SELECT 1 FROM pg_stat_activity WHERE application_name = $1', [connection])).length)
      .toBe(0)
    const stopped = await apiGet<ExportDto>(request, `/api/exports/${exportId}`)
    expect(stopped).toMatchObject({ status: 'STOPPED', rowsWritten: 0, downloadUrl: null, error: null })
    expect((await request.get(new URL(`/api/exports/${exportId}/download`, SERVER_URL).href)).status()).toBe(409)
  } finally {
    await holder.query('ROLLBACK')
    await holder.end()
  }
  // Once the table is free again the export stays stopped, and left no file behind.
  expect((await apiGet<ExportDto>(request, `/api/exports/${exportId}`)).status).toBe('STOPPED')
  const exportsDir = path.join(dataDir(), 'exports')
  expect((fs.existsSync(exportsDir) ? fs.readdirSync(exportsDir) : []).filter((f) => f.startsWith(exportId))).toEqual([])
})
