import path from 'node:path'
import { expect, openHome, test } from './fixtures'
import { SERVER_URL } from './run-dir'

// The README's screenshots, taken from the app as it is. Every run takes them (and checks the
// states they show) into the test's output; with SLUICE_SCREENSHOTS=1 they go to docs/, to commit:
//   SLUICE_SCREENSHOTS=1 npx playwright test e2e/screenshots.spec.ts

test('the README screenshots, desktop and phone', async ({ page, importCsv, throttledProxy }, testInfo) => {
  const docs = (name: string) => (process.env.SLUICE_SCREENSHOTS ? path.join(import.meta.dirname, '..', 'docs', name) : testInfo.outputPath(name))
  test.setTimeout(120_000)
  await page.setViewportSize({ width: 1280, height: 800 })
  await openHome(page)
  await page.getByTestId('file-input').setInputFiles({ name: 'customers.csv', mimeType: 'text/csv', buffer: Buffer.from('id,name,joined\n1,Ada Lovelace,2024-01-31\n2,Grace Hopper,2024-02-01\n') })
  const customers = page.getByRole('article', { name: 'customers.csv' }).getByTestId('import-card')
  await expect(customers).toHaveAttribute('data-status', 'PROCESSED', { timeout: 30_000 })
  const customersId = (await customers.getAttribute('data-import-id'))!

  // One file done, another on its way through a slow link.
  const proxy = await throttledProxy(Math.ceil(importCsv.size / 30))
  await page.goto(proxy.url)
  await expect(page.getByTestId('drop-zone')).toHaveAttribute('data-ready', 'true')
  await page.getByTestId('file-input').setInputFiles(importCsv.path)
  const card = page.getByRole('article', { name: 'rows-300k.csv' })
  await expect(card.getByTestId('import-card')).toHaveAttribute('data-status', 'PROCESSING', { timeout: 30_000 })
  await expect(card.getByTestId('import-rate')).not.toHaveText('—', { timeout: 15_000 })
  await page.screenshot({ path: docs('upload-page.png') })
  await card.screenshot({ path: docs('import-card.png') })

  await page.setViewportSize({ width: 390, height: 844 })
  await page.screenshot({ path: docs('upload-page-phone.png'), fullPage: true })
  await card.getByRole('button', { name: /^Cancel upload/ }).click()

  await page.setViewportSize({ width: 1280, height: 800 })
  await page.goto(new URL(`/imports/${customersId}`, SERVER_URL).href)
  await expect(page.getByTestId('import-preview')).toBeVisible()
  await expect(page.getByTestId('export-preview')).toHaveText('Writes 2 rows.')
  await page.screenshot({ path: docs('import-detail.png'), fullPage: true })
  await page.setViewportSize({ width: 390, height: 844 })
  await page.screenshot({ path: docs('import-detail-phone.png'), fullPage: true })
  // Nothing wider than the phone's screen: long table names wrap inside their card.
  expect(await page.evaluate(() => document.documentElement.scrollWidth)).toBeLessThanOrEqual(390)
})
