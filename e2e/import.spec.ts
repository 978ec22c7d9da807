import fs from 'node:fs'
import { parse } from 'csv-parse/sync'
import type { APIRequestContext, Locator, Page } from '@playwright/test'
import type { ImportDto, RowsPage } from '../lib/imports/schemas'
import { expect, openHome, sql, test } from './fixtures'
import { SERVER_URL } from './run-dir'

/** The import as the API answers it. */
async function apiImport(request: APIRequestContext, id: string): Promise<ImportDto> {
  const res = await request.get(new URL(`/api/imports/${id}`, SERVER_URL).href)
  expect(res.status()).toBe(200)
  return (await res.json()) as ImportDto
}

/** The row count a card shows, as a number. */
/** Chooses the file on the home page and waits until its card shows an import with rows. */
async function importUnderWay(page: Page, file: string): Promise<{ imp: Locator; id: string }> {
  await openHome(page)
  await page.getByTestId('file-input').setInputFiles(file)
  const imp = page.getByTestId('upload-card').getByTestId('import-card')
  await expect(imp).toHaveAttribute('data-status', 'PROCESSING', { timeout: 30_000 })
  await expect.poll(() => shownRows(imp), { timeout: 15_000 }).toBeGreaterThan(0)
  return { imp, id: (await imp.getAttribute('data-import-id'))! }
}

const shownRows = async (card: Locator) => Number(await card.getByTestId('import-rows').getAttribute('data-value'))

/** The first `n` records of a CSV file (the header first), parsed from its first 64 KiB. */
function firstRecords(file: string, n: number): string[][] {
  const head = Buffer.alloc(64 * 1024)
  const fd = fs.openSync(file, 'r')
  try {
    fs.readSync(fd, head, 0, head.length, 0)
  } finally {
    fs.closeSync(fd)
  }
  // An unquoted empty field is NULL in the table (COPY's CSV rule), which the preview shows as "null".
  return parse(head.toString('utf8'), { to: n, cast: (value, { quoting }) => (value === '' && !quoting ? 'null' : value) }) as string[][]
}

const tableExists = async (tableName: string) =>
  (await sql<{ exists: boolean }>('SELECT to_regclass($1) IS NOT NULL AS exists', [tableName]))[0]!.exists

/** Rows in an import's table (`tableName` comes from the API: schema-qualified, safe names). */
const countRows = async (tableName: string) => Number((await sql<{ n: string }>(`SELECT count(*) AS n FROM ${tableName}`))[0]!.n)

test('an import is paused and resumed from its card, lands every row, and its page shows them', async ({ page, request, importCsv }) => {
  test.setTimeout(120_000)
  await openHome(page)
  await page.getByTestId('file-input').setInputFiles(importCsv.path)

  // 1. The upload finishes and its card turns into the import.
  const card = page.getByTestId('upload-card')
  await expect(card).toHaveAttribute('data-phase', 'done', { timeout: 30_000 })
  const imp = card.getByTestId('import-card')
  await expect(imp).toHaveAttribute('data-status', 'PROCESSING', { timeout: 15_000 })
  await expect(imp.getByRole('progressbar', { name: 'Import of rows-300k.csv' })).toBeVisible()
  const id = (await imp.getAttribute('data-import-id'))!

  // 2. Pause: the count holds still, on the card and on the server.
  await imp.getByRole('button', { name: 'Pause import' }).click()
  await expect(imp).toHaveAttribute('data-status', 'PAUSED')
  await expect(imp.getByRole('button', { name: 'Pause import' })).toHaveCount(0)
  await expect(imp.getByTestId('import-pause-countdown')).toHaveText(/^Unless resumed, ends in \d+:\d\d as kill does: the rows imported so far are kept, and resume finishes it later\.$/)
  const held = await shownRows(imp)
  expect(held).toBeLessThan(importCsv.rows)
  await page.waitForTimeout(1_500)
  expect(await shownRows(imp)).toBe(held)
  const paused = await apiImport(request, id)
  expect(paused.status).toBe('PAUSED')
  expect(paused.rowsImported).toBe(held)
  expect(paused.pauseExpiresAt).not.toBeNull()

  // 3. Resume: it goes on from its checkpoint and lands every row, exactly once.
  await imp.getByRole('button', { name: 'Resume import' }).click()
  await expect(imp).toHaveAttribute('data-status', /^(QUEUED|PROCESSING|PROCESSED)$/)
  await expect(imp).toHaveAttribute('data-status', 'PROCESSED', { timeout: 60_000 })
  await expect(imp.getByTestId('import-rows')).toHaveText('300,000')
  await expect(imp.getByTestId('import-rejected')).toHaveText('0')
  await expect(imp.getByRole('progressbar')).toHaveCount(0) // done: the card takes one line
  await expect(imp.getByRole('button')).toHaveCount(0)
  const done = await apiImport(request, id)
  expect(done).toMatchObject({ status: 'PROCESSED', rowsImported: importCsv.rows, rowsRejected: 0, bytesProcessed: importCsv.size })

  // 4. Its page: the table's name, its columns and a preview of its first rows, as in the file.
  await imp.getByRole('link', { name: 'Details' }).click()
  await expect(page).toHaveURL(new URL(`/imports/${id}`, SERVER_URL).href)
  const detail = page.getByTestId('import-detail')
  await expect(detail).toHaveAttribute('data-status', 'PROCESSED')
  await expect(page.getByRole('heading', { level: 1 })).toHaveText('rows-300k.csv')
  await expect(detail.getByTestId('import-table-name')).toHaveText(done.tableName)
  const [header, first, second] = firstRecords(importCsv.path, 3)
  await expect(detail.getByTestId('import-columns').locator('tbody tr td:first-child')).toHaveText(done.columns.map((c) => c.name))
  await expect(detail.getByTestId('import-columns').locator('tbody tr td:nth-child(2)')).toHaveText(header!)
  const preview = detail.getByTestId('import-preview')
  await expect(preview.locator('thead th')).toHaveText(done.columns.map((c) => c.name))
  await expect(preview.locator('tbody tr')).toHaveCount(50)
  await expect(preview.locator('tbody tr').nth(0).locator('td')).toHaveText(first!)
  await expect(preview.locator('tbody tr').nth(1).locator('td')).toHaveText(second!)
  await expect(detail.getByTestId('import-rejects')).toContainText('Rejected lines (0)')
})

test('stop asks first, says how many rows it removes, and removes them all', async ({ page, request, stopCsv }) => {
  test.setTimeout(120_000)
  const { imp, id } = await importUnderWay(page, stopCsv.path)
  const { tableName } = await apiImport(request, id)
  expect(await tableExists(tableName)).toBe(true)

  // 1. The dialog names the rows it will remove: the count the card shows, live.
  await imp.getByRole('button', { name: 'Stop import' }).click()
  const dialog = page.getByRole('dialog', { name: 'Stop the import of rows-600k.csv?' })
  await expect(dialog).toBeVisible()
  await expect(dialog).toContainText(/This removes [\d,]+ rows? and deletes the uploaded file/)
  await expect(async () => {
    const shown = await imp.getByTestId('import-rows').textContent()
    expect(await dialog.textContent()).toContain(`This removes ${shown} rows`)
  }).toPass({ timeout: 5_000 })

  // 2. Keep the rows: nothing happens.
  await dialog.getByRole('button', { name: 'Keep the rows' }).click()
  await expect(dialog).toHaveCount(0)
  await expect(imp).not.toHaveAttribute('data-status', 'STOPPED')

  // 3. Stop for real: every row is gone, and so is the table.
  await imp.getByRole('button', { name: 'Stop import' }).click()
  await page.getByRole('dialog').getByRole('button', { name: 'Stop and remove rows' }).click()
  await expect(imp).toHaveAttribute('data-status', 'STOPPED')
  await expect(imp.getByTestId('import-rows')).toHaveText('0')
  await expect(imp.getByRole('button')).toHaveCount(0)
  // Nothing is left to do with it: the card can leave the list.
  const card = page.getByRole('article', { name: 'rows-600k.csv' })
  await card.getByRole('button', { name: 'Remove rows-600k.csv from the list' }).click()
  await expect(card).toHaveCount(0)
  const stopped = await apiImport(request, id)
  expect(stopped).toMatchObject({ status: 'STOPPED', rowsImported: 0, rowsRejected: 0 })
  const rows = await request.get(new URL(`/api/imports/${id}/rows`, SERVER_URL).href)
  expect(rows.status()).toBe(200)
  expect(((await rows.json()) as RowsPage).rows).toEqual([])
  // The card says STOPPED as soon as the status changes; the DROP that follows may wait a
  // moment for the batches in flight on the import's connections to roll back.
  await expect.poll(() => tableExists(tableName), { timeout: 10_000 }).toBe(false)
})

test('kill ends an import at once and keeps its rows; resume finishes it without a duplicate', async ({ page, request, importCsv }) => {
  test.setTimeout(120_000)
  const { imp, id } = await importUnderWay(page, importCsv.path)

  await imp.getByRole('button', { name: 'Kill import' }).click()
  await expect(imp).toHaveAttribute('data-status', 'KILLED')
  const kept = await shownRows(imp)
  await expect(imp).toContainText(`Killed with ${kept.toLocaleString('en-US')} rows kept`)
  const killed = await apiImport(request, id)
  expect(killed).toMatchObject({ status: 'KILLED', rowsImported: kept })
  expect(kept).toBeLessThan(importCsv.rows)
  expect(await countRows(killed.tableName)).toBe(kept)

  await imp.getByRole('button', { name: 'Resume import' }).click()
  await expect(imp).toHaveAttribute('data-status', 'PROCESSED', { timeout: 60_000 })
  await expect(imp.getByTestId('import-rows')).toHaveText('300,000')
  expect(await countRows(killed.tableName)).toBe(importCsv.rows)
})

/** Chooses the file on the page served through a slow link; its upload card and import card, once the import runs. */
async function uploadSlowly(page: Page, proxy: { url: string }, file: string): Promise<{ card: Locator; imp: Locator }> {
  await page.goto(proxy.url)
  await page.getByTestId('file-input').setInputFiles(file)
  const card = page.getByTestId('upload-card')
  const imp = card.getByTestId('import-card')
  await expect(imp).toHaveAttribute('data-status', 'PROCESSING', { timeout: 30_000 })
  return { card, imp }
}

test('a throttled upload is imported as it arrives: rows are in the table before the last byte lands, and the card shows both bars', async ({
  page,
  request,
  importCsv,
  throttledProxy,
}) => {
  test.setTimeout(120_000)
  // About 8 s for the whole file: the import has its first batches in long before the end.
  const { card, imp } = await uploadSlowly(page, await throttledProxy(Math.ceil(importCsv.size / 8)), importCsv.path)
  await expect.poll(() => shownRows(imp), { timeout: 15_000 }).toBeGreaterThan(0)
  await expect(imp.getByTestId('import-uploaded-bar')).toBeVisible()
  const following = await apiImport(request, (await imp.getAttribute('data-import-id'))!)
  expect(await countRows(following.tableName)).toBeGreaterThan(0)
  expect(following.bytesUploaded).toBeLessThan(importCsv.size)
  expect(following.bytesProcessed).toBeLessThanOrEqual(following.bytesUploaded!)
  await expect(card).toHaveAttribute('data-phase', 'uploading') // the file is still arriving

  await expect(card).toHaveAttribute('data-phase', 'done', { timeout: 60_000 })
  await expect(imp).toHaveAttribute('data-status', 'PROCESSED', { timeout: 30_000 })
  await expect(imp.getByTestId('import-rows')).toHaveText('300,000')
  await expect(imp.getByTestId('import-uploaded-bar')).toHaveCount(0)
  expect(await countRows(following.tableName)).toBe(importCsv.rows)
})

test('stop on an import whose file is still uploading ends the upload too', async ({ page, request, importCsv, throttledProxy }) => {
  const { card, imp } = await uploadSlowly(page, await throttledProxy(Math.ceil(importCsv.size / 20)), importCsv.path)
  const id = (await imp.getAttribute('data-import-id'))!
  await imp.getByRole('button', { name: 'Stop import' }).click()
  await page.getByRole('dialog').getByRole('button', { name: 'Stop and remove rows' }).click()
  await expect(card).toHaveAttribute('data-phase', 'cancelled')
  await expect(card.getByRole('button')).toHaveText(['Remove'])
  const stopped = await apiImport(request, id)
  expect(stopped).toMatchObject({ status: 'STOPPED', rowsImported: 0 })
  await expect.poll(() => tableExists(stopped.tableName), { timeout: 10_000 }).toBe(false)
})

test('rejected lines are listed on the import page, and earlier imports on the home page', async ({ page, request }) => {
  await openHome(page)
  const csv = 'city,population\nOslo,709037\nLima\nQuito,"2,800,000"\n'
  await page.getByTestId('file-input').setInputFiles({ name: 'ragged.csv', mimeType: 'text/csv', buffer: Buffer.from(csv) })
  const card = page.getByRole('article', { name: 'ragged.csv' })
  const imp = card.getByTestId('import-card')
  await expect(imp).toHaveAttribute('data-status', 'PROCESSED', { timeout: 30_000 })
  await expect(imp.getByTestId('import-rows')).toHaveText('2')
  await expect(imp.getByTestId('import-rejected')).toHaveText('1')
  const id = (await imp.getAttribute('data-import-id'))!

  // After a reload the import is an earlier one, listed with its status and a link to its page.
  await page.reload()
  const earlier = page.getByTestId('earlier-imports').getByTestId('earlier-import').filter({ hasText: 'ragged.csv' })
  await expect(earlier).toHaveAttribute('data-status', 'PROCESSED')
  await expect(earlier).toContainText('2 rows')
  await earlier.getByRole('link', { name: 'ragged.csv' }).click()
  await expect(page).toHaveURL(new URL(`/imports/${id}`, SERVER_URL).href)

  const rejects = page.getByTestId('import-rejects').getByTestId('import-reject')
  await expect(rejects).toHaveCount(1)
  await expect(rejects.locator('td')).toHaveText(['3', 'expected 2 fields, found 1', 'Lima'])
  const preview = page.getByTestId('import-preview')
  // "2,800,000" groups thousands with commas: the population column holds whole numbers.
  await expect(preview.locator('tbody tr td')).toHaveText(['Oslo', '709037', 'Quito', '2800000'])

  // An unknown id is a 404 page, not an error.
  const missing = await request.get(new URL('/imports/00000000-0000-4000-8000-000000000000', SERVER_URL).href)
  expect(missing.status()).toBe(404)
  await page.goto(new URL('/imports/00000000-0000-4000-8000-000000000000', SERVER_URL).href)
  await expect(page.getByRole('heading', { name: 'No such import' })).toBeVisible()
})

test('an import deleted from its page asks first, naming its table, then is gone from the list and from PostgreSQL', async ({ page, request }) => {
  await openHome(page)
  await page.getByTestId('file-input').setInputFiles({ name: 'to-delete.csv', mimeType: 'text/csv', buffer: Buffer.from('id,name\n1,a\n2,b\n') })
  const imp = page.getByRole('article', { name: 'to-delete.csv' }).getByTestId('import-card')
  await expect(imp).toHaveAttribute('data-status', 'PROCESSED', { timeout: 30_000 })
  const id = (await imp.getAttribute('data-import-id'))!
  const { tableName } = await apiImport(request, id)
  await page.goto(new URL(`/imports/${id}`, SERVER_URL).href)

  // Dismissed: nothing happens.
  const questions: string[] = []
  page.once('dialog', (d) => void (questions.push(d.message()), d.dismiss()))
  await page.getByRole('button', { name: 'Delete import…' }).click()
  await expect.poll(() => questions.length).toBe(1)
  expect(questions[0]).toBe(
    `Delete the import of to-delete.csv? Its table ${tableName}, its uploaded file and its exports (and their download links) are deleted for good.`,
  )
  expect(await tableExists(tableName)).toBe(true)

  page.once('dialog', (d) => void d.accept())
  await page.getByRole('button', { name: 'Delete import…' }).click()
  await expect(page).toHaveURL(new URL('/', SERVER_URL).href)
  expect(await tableExists(tableName)).toBe(false)
  expect((await request.get(new URL(`/api/imports/${id}`, SERVER_URL).href)).status()).toBe(404)
  await page.reload()
  await expect(page.getByTestId('earlier-imports').getByTestId('earlier-import').filter({ hasText: 'to-delete.csv' })).toHaveCount(0)
})

test('an earlier import is deleted from the list, after the same question, and the focus goes to the list', async ({ page, request }) => {
  await openHome(page)
  await page.getByTestId('file-input').setInputFiles({ name: 'old-list.csv', mimeType: 'text/csv', buffer: Buffer.from('id,name\n1,a\n') })
  const imp = page.getByRole('article', { name: 'old-list.csv' }).getByTestId('import-card')
  await expect(imp).toHaveAttribute('data-status', 'PROCESSED', { timeout: 30_000 })
  const id = (await imp.getAttribute('data-import-id'))!
  const { tableName } = await apiImport(request, id)

  await openHome(page)
  const row = page.getByTestId('earlier-imports').getByTestId('earlier-import').filter({ hasText: 'old-list.csv' })
  const questions: string[] = []
  page.once('dialog', (d) => void (questions.push(d.message()), d.dismiss()))
  await row.getByRole('button', { name: 'Delete the import of old-list.csv…' }).click()
  await expect.poll(() => questions).toEqual([
    `Delete the import of old-list.csv? Its table ${tableName}, its uploaded file and its exports (and their download links) are deleted for good.`,
  ])
  await expect(row).toHaveCount(1)

  page.once('dialog', (d) => void d.accept())
  await row.getByRole('button', { name: 'Delete the import of old-list.csv…' }).click()
  await expect(row).toHaveCount(0)
  await expect(page.getByRole('heading', { name: 'Earlier imports' })).toBeFocused()
  expect((await request.get(new URL(`/api/imports/${id}`, SERVER_URL).href)).status()).toBe(404)
  expect(await tableExists(tableName)).toBe(false)
})

test("the card's controls say what they do, and the focus stays with the control a person used", async ({ page, stopCsv }) => {
  test.setTimeout(120_000)
  const { imp } = await importUnderWay(page, stopCsv.path)
  const commands = imp.locator('[data-command]')
  await expect(commands).toHaveText(['Pause', 'Kill · keep rows', 'Stop · remove rows…'])
  await expect(imp.getByRole('button', { name: 'Kill import of rows-600k.csv, keeping its rows' })).toBeVisible()
  await expect(imp.getByRole('button', { name: 'Stop import of rows-600k.csv, removing its rows' })).toBeVisible()

  // Pause turns into Resume under the focus, and back.
  await imp.getByRole('button', { name: 'Pause import of rows-600k.csv' }).focus()
  await page.keyboard.press('Enter')
  await expect(imp).toHaveAttribute('data-status', 'PAUSED')
  await expect(imp.getByRole('button', { name: 'Resume import of rows-600k.csv' })).toBeFocused()
  await expect(imp.getByTestId('import-announcement')).toHaveText('Import of rows-600k.csv: paused')
  await page.keyboard.press('Enter')
  await expect(imp.getByRole('button', { name: 'Pause import of rows-600k.csv' })).toBeFocused()

  // Kill goes away once the import is killed: the focus moves to the card's first control.
  await imp.getByRole('button', { name: /^Kill import/ }).focus()
  await page.keyboard.press('Enter')
  await expect(imp).toHaveAttribute('data-status', 'KILLED')
  await expect(imp.getByRole('button', { name: 'Resume import of rows-600k.csv' })).toBeFocused()

  // The dialog gives the focus back to Stop when it is dismissed…
  const stop = imp.getByRole('button', { name: /^Stop import/ })
  await stop.focus()
  await page.keyboard.press('Enter')
  await expect(page.getByRole('dialog')).toBeVisible()
  await page.keyboard.press('Escape')
  await expect(page.getByRole('dialog')).toHaveCount(0)
  await expect(stop).toBeFocused()
  // …and to the card's status once the stop has removed every control.
  await page.keyboard.press('Enter')
  await page.getByRole('dialog').getByRole('button', { name: 'Stop and remove rows' }).click()
  await expect(imp).toHaveAttribute('data-status', 'STOPPED')
  await expect(imp.getByTestId('import-status-line')).toBeFocused()
  await expect(imp.getByTestId('import-announcement')).toHaveText('Import of rows-600k.csv: stopped, its rows removed')
})

test('the stop dialog closes by itself when the import ends while it is open, and says nothing was removed', async ({ page, importCsv, throttledProxy }) => {
  test.setTimeout(120_000)
  // About 6 s for the whole file: the dialog is open when the last bytes arrive and the import finishes.
  const { imp } = await uploadSlowly(page, await throttledProxy(Math.ceil(importCsv.size / 6)), importCsv.path)
  await imp.getByRole('button', { name: /^Stop import/ }).click()
  await expect(page.getByRole('dialog')).toBeVisible()
  await expect(imp).toHaveAttribute('data-status', 'PROCESSED', { timeout: 60_000 })
  await expect(page.getByRole('dialog')).toHaveCount(0)
  await expect(imp.getByTestId('import-stop-missed')).toHaveText('The import ended (processed) before the stop was confirmed: nothing was removed.')
  await expect(imp.getByTestId('import-rows')).toHaveText('300,000')
})

test('a file the server cannot read as CSV offers Remove and another file, not a Resume that fails again; its page shows one error', async ({ page }) => {
  await openHome(page)
  // Text, so the browser sends it; prose whose lines never agree on a number of fields.
  await page.getByTestId('file-input').setInputFiles({ name: 'letter.csv', mimeType: 'text/csv', buffer: Buffer.from('Dear team,\nthe report, as promised, is late.\nSorry\n') })
  const card = page.getByRole('article', { name: 'letter.csv' })
  const imp = card.getByTestId('import-card')
  await expect(imp).toHaveAttribute('data-status', 'FAILED', { timeout: 30_000 })
  await expect(imp.getByTestId('import-error')).toHaveText(/^The lines of this file do not agree on a number of columns/)
  await expect(imp.locator('[data-command]')).toHaveText(['Remove', 'Choose another file'])

  await page.goto(new URL(`/imports/${await imp.getAttribute('data-import-id')}`, SERVER_URL).href)
  const detail = page.getByTestId('import-detail')
  await expect(detail.getByTestId('import-error')).toHaveText(/^The lines of this file do not agree/)
  await expect(detail).toContainText('This file cannot be imported as it is. Remove deletes it; then choose a corrected file.')
  await expect(detail).not.toContainText('Query it in SQL')
  await expect(detail).not.toContainText('No rows yet')
  await expect(detail).not.toContainText('every record fit')
  await expect(detail.getByRole('link', { name: 'Choose another file' })).toHaveAttribute('href', '/')

  // On a card of this visit, Remove stops the import (its file is deleted) and takes the card away.
  await openHome(page)
  await page.getByTestId('file-input').setInputFiles({ name: 'letter2.csv', mimeType: 'text/csv', buffer: Buffer.from('Dear team,\nthe report, as promised, is late.\nSorry\n') })
  const second = page.getByRole('article', { name: 'letter2.csv' })
  await expect(second.getByTestId('import-card')).toHaveAttribute('data-status', 'FAILED', { timeout: 30_000 })
  await second.getByRole('button', { name: 'Remove the import of letter2.csv' }).click()
  await expect(second).toHaveCount(0)
})
