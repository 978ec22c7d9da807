import { expect, test as setup } from '@playwright/test'
import { E2E_ADMIN, SERVER_URL, signedInState } from './run-dir'

// Before every other test: sign in through the sign-in page as a person does, and keep the
// browser's state (the session cookie) for the tests that follow.
setup('sign in as the first admin', async ({ page }) => {
  await page.goto(SERVER_URL.href)
  await expect(page).toHaveURL(/\/sign-in\?next=%2F$/)
  await page.getByLabel('Email').fill(E2E_ADMIN.email)
  await page.getByLabel('Password').fill(E2E_ADMIN.password)
  await page.getByRole('button', { name: 'Sign in' }).click()
  await expect(page.getByRole('heading', { name: 'Sluice', level: 1 })).toBeVisible()
  await expect(page).toHaveURL(SERVER_URL.href)
  await page.context().storageState({ path: signedInState() })
})
