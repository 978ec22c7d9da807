import { expect, expectAccessible, expectProgressContrast, openHome, test } from './fixtures'
import { SERVER_URL } from './run-dir'

// Every page and state a person meets, checked by axe-core (WCAG 2.1 AA): no serious or
// critical violation. In light and dark mode, since colours are half of what it checks.
for (const colorScheme of ['light', 'dark'] as const) {
  test.describe(`in ${colorScheme} mode`, () => {
    test.use({ colorScheme })

    test('the upload page: empty, uploading, importing, paused, failed, done', async ({ page, importCsv, throttledProxy }) => {
      test.setTimeout(120_000)
      await openHome(page)
      await expectAccessible(page, 'the empty upload page')

      const proxy = await throttledProxy(Math.ceil(importCsv.size / 10))
      await page.goto(proxy.url)
      await expect(page.getByTestId('drop-zone')).toHaveAttribute('data-ready', 'true')
      await page.getByTestId('file-input').setInputFiles(importCsv.path)
      const card = page.getByTestId('upload-card').first()
      await expect(card).toHaveAttribute('data-phase', 'uploading', { timeout: 15_000 })
      const imp = card.getByTestId('import-card')
      await expect(imp).toHaveAttribute('data-status', 'PROCESSING', { timeout: 30_000 })
      await expectAccessible(page, 'an upload and its import under way')
      expect(await expectProgressContrast(page, 'an upload and its import under way')).toBe(2)
      await imp.getByRole('button', { name: /^Pause import/ }).click()
      await expect(imp).toHaveAttribute('data-status', 'PAUSED')
      await card.getByRole('button', { name: /^Pause upload/ }).click()
      await expect(card).toHaveAttribute('data-phase', 'paused')
      await expectAccessible(page, 'a paused upload and import')
      expect(await expectProgressContrast(page, 'a paused upload and import')).toBe(2)
      await card.getByRole('button', { name: /^Cancel upload/ }).click()

      await page.getByTestId('file-input').setInputFiles([
        { name: 'chart.png', mimeType: 'image/png', buffer: Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]) },
        { name: 'letter.csv', mimeType: 'text/csv', buffer: Buffer.from('Dear team,\nthe report, as promised, is late.\nSorry\n') },
        { name: 'fine.csv', mimeType: 'text/csv', buffer: Buffer.from('id,name\n1,Ada\n2,Grace\n') },
      ])
      await expect(page.getByRole('article', { name: 'letter.csv' }).getByTestId('import-card')).toHaveAttribute('data-status', 'FAILED', { timeout: 30_000 })
      await expect(page.getByRole('article', { name: 'fine.csv' }).getByTestId('import-card')).toHaveAttribute('data-status', 'PROCESSED', { timeout: 30_000 })
      await expectAccessible(page, 'refused, failed and finished cards')
      // At least the failed import's bar (a finished card takes one line, without one).
      expect(await expectProgressContrast(page, 'refused, failed and finished cards')).toBeGreaterThanOrEqual(1)
    })

    test("an import's page, its export form and the other pages", async ({ page, browser }) => {
      await openHome(page)
      // A long name makes a long table name: on a phone it must stay inside its card.
      const name = 'people_of_the_analytical_engine_and_the_first_compilers_final_v2.csv'
      await page.getByTestId('file-input').setInputFiles({ name, mimeType: 'text/csv', buffer: Buffer.from('id,name,born\n1,Ada,1815-12-10\n2,Grace,1906-12-09\n3,"x,y",\n') })
      const imp = page.getByRole('article', { name }).getByTestId('import-card')
      await expect(imp).toHaveAttribute('data-status', 'PROCESSED', { timeout: 30_000 })
      await page.goto(new URL(`/imports/${await imp.getAttribute('data-import-id')}`, SERVER_URL).href)
      await expect(page.getByTestId('import-detail')).toBeVisible()
      await expectAccessible(page, "an import's page")
      await page.getByRole('button', { name: 'Change type of name' }).click()
      await expectAccessible(page, "an import's page with its type change form open")
      await page.setViewportSize({ width: 390, height: 844 })
      await expect(page.getByTestId('import-table-name')).toBeVisible()
      expect(await page.evaluate(() => document.documentElement.scrollWidth), 'the page on a phone is no wider than its screen').toBeLessThanOrEqual(390)
      await openHome(page)
      expect(await page.evaluate(() => document.documentElement.scrollWidth), 'the upload page on a phone').toBeLessThanOrEqual(390)
      await page.setViewportSize({ width: 1280, height: 800 })

      await page.goto(new URL('/settings', SERVER_URL).href)
      await expectAccessible(page, '/settings')
      // Scalar's own reference (a third-party Vue app) has violations of its own (an unnamed
      // search button, a faint placeholder): this page's part is checked, Scalar's is not.
      await page.goto(new URL('/docs', SERVER_URL).href)
      await expectAccessible(page, '/docs', { exclude: '[data-testid="api-reference"]' })
      const signedOut = await browser.newContext({ storageState: { cookies: [], origins: [] }, colorScheme })
      const visitor = await signedOut.newPage()
      await visitor.goto(new URL('/sign-in', SERVER_URL).href)
      await expect(visitor.getByRole('button', { name: /sign in/i })).toBeVisible()
      await expectAccessible(visitor, 'the sign-in page')
      await signedOut.close()
    })
  })
}
