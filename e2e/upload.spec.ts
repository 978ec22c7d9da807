import fs from 'node:fs'
import path from 'node:path'
import type { APIRequestContext, Locator, Page, Request } from '@playwright/test'
import { expect, offsetOf, openHome, serverOffset, sha256File, test } from './fixtures'
import { dataDir, SERVER_URL } from './run-dir'

const MB = 1_000_000
const UPLOADS_PATH = '/api/uploads'

const isCreation = (r: Request) => r.method() === 'POST' && new URL(r.url()).pathname === UPLOADS_PATH
const isPatch = (r: Request) => r.method() === 'PATCH' && new URL(r.url()).pathname.startsWith(`${UPLOADS_PATH}/`)

/** Resolves with the new upload's URL on the server itself (the page talks to it through the proxy). */
async function createdUploadUrl(page: Page): Promise<string> {
  const res = await page.waitForResponse((r) => isCreation(r.request()))
  expect(res.status()).toBe(201)
  const location = await res.headerValue('location')
  expect(location).toMatch(new RegExp(`^${UPLOADS_PATH}/[^/]+$`)) // relativeLocation: true
  return new URL(location!, SERVER_URL).href
}

/** The card's progress in percent, as its progress bar announces it. */
const percentOf = (card: Locator) => async () => {
  const bar = card.getByRole('progressbar', { name: /^Upload of / })
  // An auto-waiting assertion first: the page fixture answers "imported before?" before it.
  await expect(bar).toBeAttached()
  return Number(await bar.getAttribute('aria-valuenow'))
}

/** The server's offset once it has stopped moving (two HEADs half a second apart agree). */
async function settledOffset(request: APIRequestContext, uploadUrl: string): Promise<number> {
  let previous = -1
  let settled = -1
  await expect
    .poll(
      async () => {
        const now = await offsetOf(request, uploadUrl)
        settled = now === previous ? now : -1
        previous = now
        return settled
      },
      { intervals: [500], timeout: 10_000, message: 'the server offset kept moving' },
    )
    .toBeGreaterThanOrEqual(0)
  return settled
}

test('a 200 MB upload survives pause, resume and a page reload, and lands byte for byte', async ({
  page,
  request,
  bigCsv,
  throttledProxy,
}) => {
  test.setTimeout(120_000)
  // About 10 s for the whole file: slow enough to act mid-way, fast enough for a short run.
  const proxy = await throttledProxy(20 * MB)
  const sent: Request[] = []
  page.on('request', (r) => sent.push(r))

  // 1. Choose the file.
  await page.goto(proxy.url)
  const card = page.getByTestId('upload-card')
  const created = createdUploadUrl(page)
  await page.getByTestId('file-input').setInputFiles(bigCsv.path)
  const uploadUrl = await created
  const uploadId = new URL(uploadUrl).pathname.split('/').pop()!
  await expect(card).toHaveCount(1)
  await expect(card).toHaveAttribute('data-phase', 'uploading')

  // 2. Pause mid-way: nothing more reaches the server.
  await expect.poll(percentOf(card), { timeout: 30_000 }).toBeGreaterThan(15)
  await card.getByRole('button', { name: /^Pause upload of / }).click()
  await expect(card).toHaveAttribute('data-phase', 'paused')
  await expect(card.getByTestId('upload-status')).toContainText('Paused at')
  const pausedAt = await offsetOf(request, uploadUrl)
  const patchesWhenPaused = sent.filter(isPatch).length
  await page.waitForTimeout(1_000)
  expect(await offsetOf(request, uploadUrl)).toBe(pausedAt)
  expect(pausedAt).toBeGreaterThan(0)
  expect(pausedAt).toBeLessThan(bigCsv.size)
  expect(sent.filter(isPatch).length).toBe(patchesWhenPaused)

  // 3. Resume: it goes on from where the server stopped.
  await card.getByRole('button', { name: /^Resume upload of / }).click()
  await expect(card).toHaveAttribute('data-phase', 'uploading')
  await expect.poll(percentOf(card), { timeout: 30_000 }).toBeGreaterThan(40)

  // 4. Reload mid-way and choose the same file again: it continues at the server's offset.
  const sentBeforeReload = sent.length
  await page.reload()
  // The page remembers the unfinished upload and says how to continue it.
  const earlier = page.getByTestId('earlier-uploads')
  await expect(earlier).toContainText('big.csv')
  await expect(earlier).toContainText('Choose the same file again to continue')
  const offset = await settledOffset(request, uploadUrl)
  expect(offset).toBeGreaterThan(pausedAt)
  expect(offset).toBeLessThan(bigCsv.size)
  const firstPatch = page.waitForRequest(isPatch)
  await page.getByTestId('file-input').setInputFiles(bigCsv.path)
  expect((await firstPatch).headers()['upload-offset']).toBe(String(offset))
  await expect(card).toHaveCount(1)
  await expect(card.getByTestId('resumed-from')).toHaveAttribute('data-offset', String(offset))
  await expect(earlier).toHaveCount(0)

  // 5. It finishes, as one upload, with the source's exact bytes.
  await expect(card).toHaveAttribute('data-phase', 'done', { timeout: 60_000 })
  await expect(card.getByTestId('upload-status')).toHaveText('Uploaded')
  expect(sent.slice(sentBeforeReload).filter(isCreation)).toHaveLength(0)
  expect(sent.filter(isCreation)).toHaveLength(1)
  expect(await offsetOf(request, uploadUrl)).toBe(bigCsv.size)
  const stored = path.join(dataDir(), 'uploads', uploadId)
  expect(fs.statSync(stored).size).toBe(bigCsv.size)
  expect(await sha256File(stored)).toBe(bigCsv.sha256)
})

test('cancel stops the upload and removes it from the server', async ({ page, request, smallCsv, throttledProxy }) => {
  // 8 MiB at 1 MB/s: several seconds, so Cancel lands while bytes are still flowing.
  const proxy = await throttledProxy(1 * MB)
  await page.goto(proxy.url)
  const card = page.getByTestId('upload-card')
  const created = createdUploadUrl(page)
  await page.getByTestId('file-input').setInputFiles(smallCsv.path)
  const uploadUrl = await created
  const uploadId = new URL(uploadUrl).pathname.split('/').pop()!
  await expect.poll(percentOf(card), { timeout: 15_000 }).toBeGreaterThan(5)
  await expect(card).toHaveAttribute('data-phase', 'uploading')

  await card.getByRole('button', { name: /^Cancel upload of / }).click()
  await expect(card).toHaveAttribute('data-phase', 'cancelled')
  await expect(card.getByTestId('upload-status')).toHaveText('Cancelled')
  // Nothing to do with it but take it off the list.
  await expect(card.getByRole('button')).toHaveText(['Remove'])
  // tus termination: the server forgets the upload (404, or 410 where it tracks removed ones).
  const answer = await serverOffset(request, uploadUrl)
  expect([{ status: 404 }, { status: 410 }]).toContainEqual(answer)
  expect(fs.existsSync(path.join(dataDir(), 'uploads', uploadId))).toBe(false)
  await card.getByRole('button', { name: /^Remove .* from the list$/ }).click()
  await expect(card).toHaveCount(0)
})

test('an unfinished upload from before a reload can be discarded', async ({ page, request, smallCsv, throttledProxy }) => {
  const proxy = await throttledProxy(1 * MB)
  await page.goto(proxy.url)
  const created = createdUploadUrl(page)
  await page.getByTestId('file-input').setInputFiles(smallCsv.path)
  const uploadUrl = await created
  await expect.poll(percentOf(page.getByTestId('upload-card')), { timeout: 15_000 }).toBeGreaterThan(5)

  await page.reload()
  const earlier = page.getByTestId('earlier-uploads')
  await expect(earlier).toContainText('small.csv')
  await earlier.getByRole('button', { name: 'Discard the unfinished upload of small.csv' }).click()
  await expect(earlier).toHaveCount(0)
  await expect.poll(() => serverOffset(request, uploadUrl)).toEqual({ status: 404 })

  // Forgotten for good: tus-js-client's fingerprint is gone, so no later visit offers it again.
  await expect.poll(() => page.evaluate(() => Object.keys(localStorage).filter((k) => k.startsWith('tus::')))).toEqual([])
  await page.reload()
  await expect(page.getByRole('button', { name: 'Choose files…' })).toBeVisible()
  await expect(earlier).toHaveCount(0)
})

test('a dropped connection is retried by itself and the upload continues where it was', async ({ page, smallCsv, throttledProxy }) => {
  const proxy = await throttledProxy(2 * MB)
  const sent: Request[] = []
  page.on('request', (r) => sent.push(r))
  await page.goto(proxy.url)
  const card = page.getByTestId('upload-card')
  const created = createdUploadUrl(page)
  await page.getByTestId('file-input').setInputFiles(smallCsv.path)
  const uploadId = new URL(await created).pathname.split('/').pop()!
  await expect.poll(percentOf(card), { timeout: 15_000 }).toBeGreaterThan(20)

  proxy.cut(3_000)
  await expect(card).toHaveAttribute('data-phase', 'retrying')
  await expect(card.getByTestId('upload-status')).toContainText('retrying')

  await expect(card).toHaveAttribute('data-phase', 'done', { timeout: 30_000 })
  expect(sent.filter(isCreation)).toHaveLength(1)
  // It asked the server where it stopped (HEAD) and went on from there, not from zero.
  const resumedAt = sent.filter(isPatch).slice(1).map((r) => Number(r.headers()['upload-offset']))
  expect(resumedAt.length).toBeGreaterThan(0)
  expect(Math.min(...resumedAt)).toBeGreaterThan(0)
  const stored = path.join(dataDir(), 'uploads', uploadId)
  expect(await sha256File(stored)).toBe(smallCsv.sha256)
})

test('an outage is shown as one, and the upload goes on as soon as the server answers, before its backoff would retry', async ({ page, smallCsv, throttledProxy }) => {
  const proxy = await throttledProxy(1 * MB)
  await page.goto(proxy.url)
  const card = page.getByTestId('upload-card')
  await page.getByTestId('file-input').setInputFiles(smallCsv.path)
  await expect.poll(percentOf(card), { timeout: 15_000 }).toBeGreaterThan(10)

  // Tries after 0, 1, 3 and 5 s, then waits 10 s: its own next try comes about 19 s after the cut.
  proxy.cut(14_000)
  const cutAt = Date.now()
  await expect(card).toHaveAttribute('data-phase', 'retrying')
  await expect(card.getByTestId('upload-status')).toHaveText(/^Server unreachable at [\d.]+%, retrying( in \d+ s|…)$/)
  await expect(card.getByTestId('upload-announcement')).toHaveText(/^Upload of small\.csv: Server unreachable at [\d.]+%, retrying$/)
  // Retry now tries at once (the HEAD that asks the server where it stopped).
  await expect(card.getByTestId('upload-status')).toHaveText(/retrying in \d+ s$/, { timeout: 10_000 })
  const asked = page.waitForRequest((r) => r.method() === 'HEAD', { timeout: 2_000 })
  await card.getByRole('button', { name: 'Retry upload of small.csv now' }).click()
  await asked

  await expect(card).toHaveAttribute('data-phase', 'uploading', { timeout: 20_000 })
  expect(Date.now() - cutAt).toBeLessThan(18_000)
  await expect(card).toHaveAttribute('data-phase', 'done', { timeout: 30_000 })
})

test.describe('a file imported before', () => {
  test.use({ answerImportedBefore: false })

  test('asks: open that import, or import it again', async ({ page }) => {
    const file = { name: 'twice.csv', mimeType: 'text/csv', buffer: Buffer.from('id,name\n1,Ada\n2,Grace\n') }
    await openHome(page)
    await page.getByTestId('file-input').setInputFiles(file)
    const first = page.getByRole('article', { name: 'twice.csv' }).getByTestId('import-card')
    await expect(first).toHaveAttribute('data-status', 'PROCESSED', { timeout: 30_000 })
    const firstId = (await first.getAttribute('data-import-id'))!

    await openHome(page)
    const sent: Request[] = []
    page.on('request', (r) => sent.push(r))
    await page.getByTestId('file-input').setInputFiles(file)
    const card = page.getByTestId('upload-card')
    await expect(card).toHaveAttribute('data-phase', 'duplicate')
    await expect(card.getByTestId('upload-status')).toHaveText(/^Imported before, on .+ \(2 rows\): open that import, or import the file again\?$/)
    await expect(card.getByRole('link', { name: 'Open the existing import' })).toHaveAttribute('href', `/imports/${firstId}`)
    expect(sent.filter(isCreation)).toHaveLength(0)

    await card.getByRole('button', { name: 'Import twice.csv again' }).click()
    const again = card.getByTestId('import-card')
    await expect(again).toHaveAttribute('data-status', 'PROCESSED', { timeout: 30_000 })
    expect(await again.getAttribute('data-import-id')).not.toBe(firstId)
    expect(sent.filter(isCreation)).toHaveLength(1)
  })
})

test('a file over the size limit is refused before a byte is sent, with the limit', async ({ page }, testInfo) => {
  // A sparse file: 11 GiB to the browser and over the server's limit (10 GiB), no disk used.
  const huge = testInfo.outputPath('huge.csv')
  fs.writeFileSync(huge, 'a,b\n')
  fs.truncateSync(huge, 11 * 1024 ** 3)
  const sent: Request[] = []
  page.on('request', (r) => sent.push(r))
  await openHome(page)
  await expect(page.getByTestId('drop-zone')).toContainText('One or many, up to 10 GiB each.')
  await page.getByTestId('file-input').setInputFiles(huge)
  const card = page.getByTestId('upload-card')
  await expect(card).toHaveAttribute('data-phase', 'refused')
  await expect(card.getByTestId('upload-status')).toHaveText('Not uploaded: The file is 11 GiB, larger than the limit of 10 GiB')
  await expect(card.getByRole('button')).toHaveText(['Remove'])
  await page.waitForTimeout(1_000)
  expect(sent.filter((r) => new URL(r.url()).pathname.startsWith('/api/uploads'))).toHaveLength(0)
  await card.getByRole('button', { name: 'Remove huge.csv from the list' }).click()
  await expect(card).toHaveCount(0)
})

test('a file that is not CSV is refused before a byte is sent, saying what it is', async ({ page }) => {
  const sent: Request[] = []
  page.on('request', (r) => sent.push(r))
  await openHome(page)
  const png = Buffer.concat([Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]), Buffer.alloc(200_000, 7)])
  const oneLine = Buffer.alloc(100_000, 'a') // no line end in its first 64 KiB
  await page.getByTestId('file-input').setInputFiles([
    { name: 'chart.png', mimeType: 'image/png', buffer: png },
    { name: 'blob.csv', mimeType: 'text/csv', buffer: oneLine },
    { name: 'empty.csv', mimeType: 'text/csv', buffer: Buffer.alloc(0) },
  ])
  const status = (name: string) => page.getByRole('article', { name }).getByTestId('upload-status')
  await expect(status('chart.png')).toHaveText('Not uploaded: This file is a PNG image, not a CSV file')
  await expect(status('blob.csv')).toHaveText('Not uploaded: No line ends in the first 64 KiB of this file: it is not a CSV file of records')
  await expect(status('empty.csv')).toHaveText('Not uploaded: The file is empty: there is no header and no data')
  await page.waitForTimeout(1_000)
  expect(sent.filter((r) => new URL(r.url()).pathname.startsWith('/api/uploads'))).toHaveLength(0)
})

test('files dragged onto the page upload, each with its own card', async ({ page }) => {
  await page.goto(SERVER_URL.href)
  await expect(page.getByTestId('drop-zone')).toHaveAttribute('data-ready', 'true') // its drop listeners are on
  const sent: Request[] = []
  page.on('request', (r) => sent.push(r))
  // A drag from the desktop, as the page sees it: a DataTransfer holding two files.
  const files = { 'one.csv': 'id,name\n1,Ada\n', 'two.csv': 'id,city\n1,Oslo\n2,Lima\n' }
  const dataTransfer = await page.evaluateHandle((contents) => {
    const dt = new DataTransfer()
    for (const [name, text] of Object.entries(contents)) dt.items.add(new File([text], name, { type: 'text/csv' }))
    return dt
  }, files)
  const zone = page.getByTestId('drop-zone')
  await zone.dispatchEvent('dragover', { dataTransfer })
  await expect(zone).toContainText('Drop to upload')
  await zone.dispatchEvent('drop', { dataTransfer })

  const cards = page.getByTestId('upload-card')
  await expect(cards).toHaveCount(2)
  for (const name of Object.keys(files)) {
    await expect(page.getByRole('article', { name })).toHaveAttribute('data-phase', 'done')
  }
  await expect(zone).toContainText('Drop CSV files here')
  // What landed on the server is exactly what was dropped.
  const created = await Promise.all(
    sent.filter(isCreation).map(async (r) => new URL((await r.response())!.headers()['location']!, SERVER_URL).pathname.split('/').pop()!),
  )
  const stored = created.map((id) => fs.readFileSync(path.join(dataDir(), 'uploads', id), 'utf8')).sort()
  expect(stored).toEqual(Object.values(files).sort())
})

test('works from the keyboard: choose a file, then pause and resume it', async ({ page, smallCsv, throttledProxy }) => {
  const proxy = await throttledProxy(1 * MB)
  await page.goto(proxy.url)
  // Keys pressed before React has hydrated the page would reach a button without its handler.
  await expect(page.getByTestId('drop-zone')).toHaveAttribute('data-ready', 'true')
  const choose = page.getByRole('button', { name: 'Choose files…' })
  await page.keyboard.press('Tab')
  await expect(choose).toBeFocused()
  const chooser = page.waitForEvent('filechooser')
  // Enter on the button itself: pressed on the page, a re-render of the list below while the
  // page still loads through the slow proxy could leave the key with nothing focused.
  await choose.press('Enter')
  await (await chooser).setFiles(smallCsv.path)

  const card = page.getByTestId('upload-card')
  await expect(card).toHaveAttribute('data-phase', 'uploading')
  await page.keyboard.press('Tab')
  await expect(card.getByRole('button', { name: /^Pause upload of / })).toBeFocused()
  await page.keyboard.press('Enter')
  await expect(card).toHaveAttribute('data-phase', 'paused')
  await expect(card.getByRole('button', { name: /^Resume upload of / })).toBeFocused()
  await page.keyboard.press('Enter')
  await expect(card).toHaveAttribute('data-phase', 'uploading')
})

test("after a reload, an unfinished upload's Resume… opens the file picker and goes on where it stopped", async ({ page, smallCsv, throttledProxy }) => {
  const proxy = await throttledProxy(1 * MB)
  await page.goto(proxy.url)
  await page.getByTestId('file-input').setInputFiles(smallCsv.path)
  await expect.poll(percentOf(page.getByTestId('upload-card')), { timeout: 15_000 }).toBeGreaterThan(5)

  await page.reload()
  await expect(page.getByTestId('drop-zone')).toHaveAttribute('data-ready', 'true')
  const earlier = page.getByTestId('earlier-uploads')
  const [chooser] = await Promise.all([
    page.waitForEvent('filechooser'),
    earlier.getByRole('button', { name: 'Resume the upload of small.csv: choose the file again' }).click(),
  ])
  await chooser.setFiles(smallCsv.path)
  const card = page.getByTestId('upload-card')
  await expect(card.getByTestId('resumed-from')).toBeVisible({ timeout: 15_000 })
  expect(Number(await card.getByTestId('resumed-from').getAttribute('data-offset'))).toBeGreaterThan(0)
  await expect(earlier).toHaveCount(0)
})

test('several files at once get one bar over all of them and Pause all / Resume all; finished cards take one line', async ({ page, throttledProxy }) => {
  const proxy = await throttledProxy(400_000)
  await page.goto(proxy.url)
  await expect(page.getByTestId('drop-zone')).toHaveAttribute('data-ready', 'true')
  const file = (name: string) => ({ name, mimeType: 'text/csv', buffer: Buffer.from('id,text\n' + Array.from({ length: 20_000 }, (_, i) => `${i},row ${i} of ${name}`).join('\n') + '\n') })
  await page.getByTestId('file-input').setInputFiles([file('north.csv'), file('south.csv')])
  const overall = page.getByTestId('overall-progress')
  await expect(overall.getByTestId('overall-status')).toHaveText(/^2 files · [\d.]+% of [\d.]+ (KiB|MiB)$/)

  await overall.getByRole('button', { name: 'Pause all' }).click()
  const cards = page.getByTestId('upload-card')
  await expect(cards.nth(0)).toHaveAttribute('data-phase', 'paused')
  await expect(cards.nth(1)).toHaveAttribute('data-phase', 'paused')
  await expect(overall.getByRole('button')).toHaveText(['Resume all'])
  await overall.getByRole('button', { name: 'Resume all' }).click()
  await expect(cards.nth(0)).not.toHaveAttribute('data-phase', 'paused')

  for (const name of ['north.csv', 'south.csv']) {
    const imp = page.getByRole('article', { name }).getByTestId('import-card')
    await expect(imp).toHaveAttribute('data-status', 'PROCESSED', { timeout: 30_000 })
    // One line: status, rows, rejects, time, Details; no bar and no stats grid.
    await expect(imp).toHaveText(/^Imported(Import of .+: done)?20,000 rows · 0 rejected · took .+Details$/)
    await expect(imp.getByRole('progressbar')).toHaveCount(0)
    await expect(imp.getByRole('link', { name: `Details of the import of ${name}` })).toBeVisible()
  }
  await expect(overall).toHaveCount(0)
})
