import fs from 'node:fs'
import type { Page } from '@playwright/test'
import { expect, openHome, sql, test } from './fixtures'
import { SERVER_URL } from './run-dir'

// A file as a European spreadsheet saves it: Windows-1252, semicolons, CRLF. About 150 KB, so
// that its two bad lines come after the server's first 64 KiB read (the type sample).
function spreadsheetExport(): Buffer {
  const cities = ['Zürich', 'Besançon', 'Malmö', '"Café; Bar"', 'Ørsted']
  const lines = ['Nr;Datum;Menge;Ort']
  for (let n = 1; n <= 5000; n++) lines.push(`${n};2024-01-${String((n % 28) + 1).padStart(2, '0')};${n * 3};${cities[n % cities.length]}`)
  lines[4500] = '4500;2024-13-01;7;Zürich' // line 4501: no thirteenth month
  lines[4600] = '4600;2024-01-02' // line 4601: two fields of four
  return Buffer.from(lines.join('\r\n') + '\r\n', 'latin1')
}

test('a semicolon-separated Windows-1252 file shows its dialect, column types and rejected lines', async ({ page, request }) => {
  await openHome(page)
  await page.getByTestId('file-input').setInputFiles({ name: 'bestellungen.csv', mimeType: 'text/csv', buffer: spreadsheetExport() })
  const imp = page.getByRole('article', { name: 'bestellungen.csv' }).getByTestId('import-card')
  await expect(imp).toHaveAttribute('data-status', 'PROCESSED', { timeout: 60_000 })
  await expect(imp.getByTestId('import-rows')).toHaveText('4,998')
  await expect(imp.getByTestId('import-rejected')).toHaveText('2')
  const id = (await imp.getAttribute('data-import-id'))!

  await page.goto(new URL(`/imports/${id}`, SERVER_URL).href)
  const detail = page.getByTestId('import-detail')
  await expect(detail.getByTestId('import-dialect').locator('dd')).toHaveText([
    'Windows-1252',
    'semicolon',
    'double quotes, escaped doubled ("")',
    'CRLF',
    'first line',
  ])
  const columns = detail.getByTestId('import-column')
  await expect(columns.locator('td:nth-child(2)')).toHaveText(['Nr', 'Datum', 'Menge', 'Ort'])
  await expect(columns.getByTestId('import-column-type')).toHaveText(['whole number bigint', 'date date', 'whole number bigint', 'text text'])
  // Non-ASCII letters arrive as UTF-8, and a quoted semicolon stays inside its value.
  await expect(detail.getByTestId('import-preview').locator('tbody tr').first().locator('td')).toHaveText(['1', '2024-01-02', '3', 'Besançon'])
  await expect(detail.getByTestId('import-preview').locator('tbody tr').nth(2).locator('td').last()).toHaveText('Café; Bar')

  const rejects = detail.getByTestId('import-reject')
  await expect(rejects).toHaveCount(2)
  await expect(rejects.nth(0).locator('td')).toHaveText(['4,501', 'Datum: "2024-13-01" is not a date', '4500;2024-13-01;7;Zürich'])
  await expect(rejects.nth(1).locator('td')).toHaveText(['4,601', 'expected 4 fields, found 2', '4600;2024-01-02'])

  const download = detail.getByTestId('rejects-download')
  await expect(download).toHaveAttribute('href', `/api/imports/${id}/rejects.csv`)
  const res = await request.get(new URL(`/api/imports/${id}/rejects.csv`, SERVER_URL).href)
  expect(res.status()).toBe(200)
  expect(res.headers()['content-disposition']).toBe('attachment; filename=bestellungen-rejects.csv')
  expect(await res.text()).toBe(
    'line,reason,record\n4501,"Datum: ""2024-13-01"" is not a date",4500;2024-13-01;7;Zürich\n4601,"expected 4 fields, found 2",4600;2024-01-02\n',
  )
})

/** Drops the file on the home page and waits until its import is PROCESSED: its card and id. */
async function importOnHomePage(page: Page, name: string, file: Buffer) {
  await openHome(page)
  await page.getByTestId('file-input').setInputFiles({ name, mimeType: 'text/csv', buffer: file })
  const card = page.getByRole('article', { name }).getByTestId('import-card')
  await expect(card).toHaveAttribute('data-status', 'PROCESSED', { timeout: 60_000 })
  return { card, id: (await card.getAttribute('data-import-id'))! }
}

// As a German spreadsheet saves sales: Windows-1252, semicolons, CRLF, 1.234,56 and 31.01.2024.
function germanSales(): { file: Buffer; cents: number } {
  const lines = ['Nr;Datum;Betrag;Kunde']
  let cents = 0
  for (let n = 1; n <= 3000; n++) {
    const amount = n * 1234 + (n % 100) // cents
    cents += amount
    const euros = new Intl.NumberFormat('de-DE', { minimumFractionDigits: 2 }).format(amount / 100)
    lines.push(`${n};${String((n % 28) + 1).padStart(2, '0')}.${String((n % 12) + 1).padStart(2, '0')}.2024;${euros};Müller ${n}`)
  }
  return { file: Buffer.from(lines.join('\r\n') + '\r\n', 'latin1'), cents }
}

test('a German file with decimal commas and day.month.year dates gets numeric and date columns, sums right, and exports for Excel', async ({ page }) => {
  const { file, cents } = germanSales()
  const { card, id } = await importOnHomePage(page, 'umsatz.csv', file)
  await expect(card.getByTestId('import-rows')).toHaveText('3,000')

  await page.goto(new URL(`/imports/${id}`, SERVER_URL).href)
  const detail = page.getByTestId('import-detail')
  await expect(detail.getByTestId('import-dialect').locator('dd').last()).toHaveText('day before month')
  const types = detail.getByTestId('import-column').getByTestId('import-column-type')
  await expect(types).toHaveText(['whole number bigint', 'date date written DD.MM.YYYY', 'decimal number numeric written 1.234.567,89', 'text text'])
  await expect(detail.getByTestId('import-preview').locator('tbody tr').first().locator('td')).toHaveText(['1', '2024-02-02', '12.35', 'Müller 1'])

  const sums = await sql<{ total: string; last: string }>(
    `SELECT sum(betrag)::text AS total, max(datum)::text AS last FROM imported.${JSON.stringify((await importTable(id)) ?? '')}`,
  )
  expect(sums).toEqual([{ total: (cents / 100).toFixed(2), last: '2024-12-28' }])

  const panel = detail.getByTestId('export-panel')
  await panel.getByTestId('export-format').getByLabel('For Excel').check()
  await panel.getByTestId('export-button').click()
  const run = panel.getByTestId('export-progress')
  await expect(run).toHaveAttribute('data-status', 'PROCESSED', { timeout: 15_000 })
  await expect(run).toContainText('3,000 rows exported · all rows, for Excel')
  const [saved] = await Promise.all([page.waitForEvent('download'), run.getByTestId('export-download').click()])
  expect(saved.suggestedFilename()).toBe('umsatz_excel.csv')
  const bytes = fs.readFileSync((await saved.path())!)
  expect(bytes.subarray(0, 3)).toEqual(Buffer.from([0xef, 0xbb, 0xbf]))
  expect(bytes.subarray(3).toString().split('\r\n').slice(0, 2)).toEqual(['Nr,Datum,Betrag,Kunde', '1,2024-02-02,12.35,Müller 1'])
})

async function importTable(id: string): Promise<string | undefined> {
  const [row] = await sql<{ table_name: string }>('SELECT table_name FROM imports WHERE id = $1', [id])
  return row?.table_name
}

test('dates the file cannot order stay text, and the page reads them in the order a person chooses', async ({ page }) => {
  const file = Buffer.from('Nr;Termin\n1;03.04.2024\n2;05.06.2024\n3;12.11.2024\n')
  const { id } = await importOnHomePage(page, 'termine.csv', file)

  await page.goto(new URL(`/imports/${id}`, SERVER_URL).href)
  const detail = page.getByTestId('import-detail')
  const termin = detail.getByTestId('import-column').nth(1)
  await expect(termin.getByTestId('import-column-readings')).toContainText('read either day first (03.04 is 3 April) or month first (4 March)')
  await expect(detail.getByTestId('import-preview').locator('tbody tr').first().locator('td')).toHaveText(['1', '03.04.2024'])

  await termin.getByRole('button', { name: 'Read Termin month first' }).click()
  await expect(termin.getByTestId('import-column-type')).toHaveText('date date written MM.DD.YYYY')
  await expect(termin.getByTestId('import-column-readings')).toHaveCount(0)
  await expect(detail.getByTestId('import-preview').locator('tbody tr td:nth-child(2)')).toHaveText(['2024-03-04', '2024-05-06', '2024-12-11'])
  const december = await sql<{ n: string }>(`SELECT count(*)::text AS n FROM imported.${JSON.stringify((await importTable(id)) ?? '')} WHERE termin = '2024-12-11'`)
  expect(december).toEqual([{ n: '1' }])
})

test("a column's type changes on the page: decimal commas read as numbers, the value that does not fit set aside with its line", async ({ page }) => {
  const file = Buffer.from('item,price\nTee,"2,50"\nKaffee,"3,20"\nKuchen,gratis\n')
  const { id } = await importOnHomePage(page, 'preise.csv', file)

  const { detail, column: price, form } = await openTypeChange(page, id, 1, 'price')
  await form.getByLabel('Type').selectOption('numeric')
  await form.getByLabel('Decimal separator').selectOption(',')
  await form.getByRole('button', { name: 'Change' }).click()
  await expect(price.getByRole('status')).toHaveText('Now decimal number: 1 row did not fit, set aside with its line among the rejects.')
  await expect(price.getByTestId('import-column-format')).toHaveText('written 1234567,89')
  await expect(detail.getByTestId('import-preview').locator('tbody tr td:nth-child(2)')).toHaveText(['2.50', '3.20'])
  await expect(detail.getByTestId('import-reject').locator('td')).toHaveText(['4', 'price: "gratis" is not a decimal number', 'Kuchen,gratis'])
})

test('a text column of dates becomes a date column on the page, read in the pattern a person chooses', async ({ page }) => {
  const file = Buffer.from('Nr;Lieferung\n1;31.01.2024\n2;unbekannt\n3;01.02.2024\n')
  const { id } = await importOnHomePage(page, 'lieferungen.csv', file)

  const { detail, column: delivery, form } = await openTypeChange(page, id, 1, 'Lieferung')
  await form.getByLabel('Type').selectOption('date')
  await form.getByLabel('Dates written').selectOption({ label: 'DD.MM.YYYY' })
  await form.getByRole('button', { name: 'Change' }).click()
  await expect(delivery.getByRole('status')).toHaveText('Now date: 1 row did not fit, set aside with its line among the rejects.')
  await expect(delivery.getByTestId('import-column-type')).toHaveText('date date written DD.MM.YYYY')
  await expect(detail.getByTestId('import-preview').locator('tbody tr td:nth-child(2)')).toHaveText(['2024-01-31', '2024-02-01'])
  await expect(detail.getByTestId('import-reject').locator('td')).toHaveText(['3', 'Lieferung: "unbekannt" is not a date', '2;unbekannt'])
})

/** The import's page with the type change form of its text column at `index` (headed `header`) open. */
async function openTypeChange(page: Page, id: string, index: number, header: string) {
  await page.goto(new URL(`/imports/${id}`, SERVER_URL).href)
  const detail = page.getByTestId('import-detail')
  const column = detail.getByTestId('import-column').nth(index)
  await expect(column.getByTestId('import-column-type')).toContainText('text text')
  await column.getByRole('button', { name: `Change type of ${header}` }).click()
  return { detail, column, form: column.getByTestId('column-type-form') }
}
