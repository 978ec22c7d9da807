import path from 'node:path'

/** The port the app under test listens on (the browser reaches it through a throttling proxy). */
export const SERVER_PORT = 3100
export const SERVER_URL = new URL(`http://localhost:${SERVER_PORT}`)

// playwright.config.ts creates this run's folder and names it here; the test workers, started
// by the runner, inherit the variable.
const RUN_DIR_VARIABLE = 'SLUICE_E2E_RUN_DIR'

/** This run's temporary folder: `data/` is the server's DATA_DIR, `fixtures/` holds generated CSVs. */
export function runDir(): string {
  const dir = process.env[RUN_DIR_VARIABLE]
  if (!dir) throw new Error(`${RUN_DIR_VARIABLE} is not set: run the e2e tests with \`npx playwright test\``)
  return dir
}

export const dataDir = () => path.join(runDir(), 'data')
/** The browser state (session cookie) of the signed-in admin, written by sign-in.setup.ts. */
export const signedInState = () => path.join(runDir(), 'signed-in.json')

/** The e2e server's first admin (ADMIN_EMAIL and ADMIN_PASSWORD of its start). */
export const E2E_ADMIN = { email: 'admin@e2e.test', password: 'e2e-admin-password' }
export const fixturesDir = () => path.join(runDir(), 'fixtures')

export { RUN_DIR_VARIABLE }
