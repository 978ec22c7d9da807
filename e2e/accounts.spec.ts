import fs from 'node:fs'
import path from 'node:path'
import { expect, test, type Page } from '@playwright/test'
import { freePort } from '../lib/server/free-port'
import { health, startApp, type AppProcess } from '../test/app-process'
import { runNpm } from '../test/cli-process'
import { runDir } from './run-dir'

// A Sluice of its own, started without ADMIN_EMAIL, as a newcomer starts it: the setup link it
// prints makes the first admin, who invites a second person; each sees what they should.

test.use({ storageState: { cookies: [], origins: [] } })

let app: AppProcess
let setupUrl: string
const files = () => path.join(runDir(), 'accounts')

test.beforeAll(async () => {
  fs.mkdirSync(files(), { recursive: true, mode: 0o755 })
  app = startApp({ PORT: String(await freePort()), DATA_DIR: path.join(files(), 'data'), ADMIN_EMAIL: '', ADMIN_PASSWORD: '' })
  expect(await health(app.url)).toEqual({ ok: true })
  setupUrl = /(http:\/\/localhost:\d+\/setup\?token=[\w-]+)/.exec(app.output())![1]!
})

test.afterAll(async () => {
  app?.child.kill('SIGTERM')
  await app?.exited
})

function csv(name: string, body: string): string {
  const file = path.join(files(), name)
  fs.writeFileSync(file, body)
  return file
}

async function importFile(page: Page, file: string) {
  await page.goto(app.url)
  await expect(page.getByTestId('drop-zone')).toHaveAttribute('data-ready', 'true')
  await page.getByTestId('file-input').setInputFiles(file)
  await expect(page.getByTestId('upload-card').getByTestId('import-card')).toHaveAttribute('data-status', 'PROCESSED', { timeout: 30_000 })
}

async function fillAccount(page: Page, account: { name: string; email: string; password: string }) {
  await page.getByLabel('Name').fill(account.name)
  await page.getByLabel('Email').fill(account.email)
  await page.getByLabel('Password').fill(account.password)
}

const earlierFiles = (page: Page) => page.getByTestId('earlier-import').getByRole('link').allTextContents()

test('setup link → first admin → invite → a second person signs up and imports; each sees what they should; a key from the settings page drives npm run upload', async ({ browser }) => {
  test.setTimeout(180_000)
  const ada = { name: 'Ada', email: 'ada@e2e.test', password: 'ada-first-admin-pw' }
  const pat = { name: 'Pat', email: 'pat@e2e.test', password: 'pat-second-person' }

  // 1. The setup link makes the first account, an admin, signed in at once.
  const adminContext = await browser.newContext()
  const admin = await adminContext.newPage()
  await admin.goto(setupUrl)
  await fillAccount(admin, ada)
  await admin.getByRole('button', { name: 'Create the admin account' }).click()
  await expect(admin).toHaveURL(`${app.url}/`)
  await expect(admin.getByRole('navigation', { name: 'Account' })).toContainText('Ada (admin)')
  // The link is used up.
  await admin.goto(setupUrl)
  await expect(admin.getByText('Sluice is set up already.')).toBeVisible()
  await importFile(admin, csv('ada.csv', 'id,city\n1,Oslo\n2,Bergen\n'))

  // 2. An invite link, from the admin page.
  await admin.goto(`${app.url}/admin`)
  await admin.getByRole('button', { name: 'Create an invite link' }).click()
  const inviteUrl = (await admin.getByTestId('invite-url').textContent())!
  expect(inviteUrl).toMatch(/\/invite\?token=/)

  // 3. The second person signs up with it, and imports a file of their own.
  const patContext = await browser.newContext()
  const person = await patContext.newPage()
  await person.goto(app.url)
  await expect(person).toHaveURL(/\/sign-in\?next=%2F$/)
  await person.goto(inviteUrl)
  await fillAccount(person, pat)
  await person.getByRole('button', { name: 'Create my account' }).click()
  await expect(person).toHaveURL(`${app.url}/`)
  await importFile(person, csv('pat.csv', 'name\nTove\n'))

  // 4. Each sees what they should: Pat only Pat's, the admin both, with the owner named.
  await person.reload()
  await expect.poll(() => earlierFiles(person)).toEqual(['pat.csv'])
  await admin.goto(app.url)
  await expect.poll(() => earlierFiles(admin)).toEqual(['pat.csv', 'ada.csv'])
  await expect(admin.getByTestId('earlier-import').filter({ hasText: 'pat.csv' }).getByTestId('import-owner')).toHaveText('Pat')
  await expect(admin.getByTestId('import-owner')).toHaveCount(1)
  const adasImport = await admin.getByTestId('earlier-import').filter({ hasText: 'ada.csv' }).getByRole('link').getAttribute('href')
  expect((await person.goto(`${app.url}${adasImport}`))!.status()).toBe(404)

  // 5. Sign-out forgets the browser's unfinished uploads; signing in again brings Pat back.
  await person.goto(app.url)
  await person.evaluate(() => localStorage.setItem('tus::fingerprint::1', '{"uploadUrl":"/api/uploads/x"}'))
  await person.getByRole('button', { name: 'Sign out' }).click()
  await expect(person).toHaveURL(/\/sign-in$/)
  expect(await person.evaluate(() => Object.keys(localStorage).filter((k) => k.startsWith('tus::')))).toEqual([])
  await person.goto(app.url)
  await expect(person).toHaveURL(/\/sign-in\?next=%2F$/)
  await person.getByLabel('Email').fill(pat.email)
  await person.getByLabel('Password').fill('not the password')
  await person.getByRole('button', { name: 'Sign in' }).click()
  await expect(person.getByRole('alert').filter({ hasText: 'Wrong' })).toHaveText('Wrong email or password.')
  await person.getByLabel('Password').fill(pat.password)
  await person.getByRole('button', { name: 'Sign in' }).click()
  await expect(person).toHaveURL(`${app.url}/`)

  // 6. A key made on the settings page, shown once, drives `npm run upload`.
  await person.goto(`${app.url}/settings`)
  await person.getByLabel('Name').fill('laptop')
  await person.getByRole('button', { name: 'Create key' }).click()
  const key = (await person.getByTestId('new-key').textContent())!
  expect(key).toMatch(/^sluice_\w{64}$/)
  const cache = path.join(files(), 'cli-cache')
  const run = await runNpm('upload', [csv('from-cli.csv', 'n\n1\n2\n3\n'), '--url', app.url], { SLUICE_API_KEY: key, XDG_CACHE_HOME: cache, XDG_CONFIG_HOME: cache })
  expect(run.code, run.stderr).toBe(0)
  expect(run.stdout).toContain('Imported 3 rows (0 rejected)')
  await person.reload()
  await expect(person.getByRole('row', { name: /laptop/ })).not.toContainText('never')
  await person.goto(app.url)
  await expect.poll(() => earlierFiles(person)).toEqual(['from-cli.csv', 'pat.csv'])
  await adminContext.close()
  await patContext.close()
})
