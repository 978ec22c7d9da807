import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { defineConfig } from '@playwright/test'
import { E2E_ADMIN, RUN_DIR_VARIABLE, SERVER_PORT, SERVER_URL, signedInState } from './e2e/run-dir'
import { startScriptNodeArgs } from './lib/server/start-command'

// Each run gets a fresh folder for the server's data (never the user's .data/) and the
// generated fixtures. This file is evaluated by the runner and again by every test worker;
// workers inherit the runner's environment, so only the runner's evaluation creates the folder,
// and only the runner removes it, on exit, after the web server has been stopped.
if (!process.env[RUN_DIR_VARIABLE]) {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'sluice-e2e-'))
  // As root, the embedded PostgreSQL runs as the OS user postgres, which must traverse it.
  fs.chmodSync(dir, 0o755)
  fs.mkdirSync(path.join(dir, 'data'), { mode: 0o755 })
  fs.mkdirSync(path.join(dir, 'fixtures'), { mode: 0o755 })
  process.env[RUN_DIR_VARIABLE] = dir
  process.on('exit', () => fs.rmSync(dir, { recursive: true, force: true }))
}
const runDir = process.env[RUN_DIR_VARIABLE]!

// Debian's chromium (apt-get install chromium) where Playwright's own browsers cannot be downloaded.
const systemChromium = '/usr/bin/chromium'

export default defineConfig({
  testDir: 'e2e',
  // One server, one database: tests run one after another.
  workers: 1,
  fullyParallel: false,
  forbidOnly: !!process.env.CI,
  retries: 0,
  reporter: process.env.CI ? [['list'], ['html', { open: 'never' }]] : 'list',
  projects: [
    // Signs in once through the sign-in page; every other test starts signed in as that admin.
    { name: 'sign-in', testMatch: /sign-in\.setup\.ts/ },
    { name: 'chromium', dependencies: ['sign-in'], use: { storageState: signedInState() } },
  ],
  use: {
    browserName: 'chromium',
    screenshot: 'only-on-failure',
    launchOptions: {
      ...(fs.existsSync(systemChromium) ? { executablePath: systemChromium } : {}),
      args: [
        '--no-sandbox',
        '--disable-gpu',
        '--disable-quic',
        '--disable-background-networking',
        '--disable-component-update',
        '--disable-sync',
        '--no-first-run',
      ],
    },
  },
  webServer: {
    // The app as a person runs it (`npm start`): embedded PostgreSQL, migrations, build if stale.
    command: ['node', ...startScriptNodeArgs(import.meta.dirname)].join(' '),
    url: new URL('/api/health', SERVER_URL).href,
    env: {
      PORT: String(SERVER_PORT),
      DATA_DIR: path.join(runDir, 'data'),
      // Always the run's own embedded database and the default limits, whatever the shell has set.
      DATABASE_URL: '',
      MAX_UPLOAD_BYTES: '',
      PAUSE_TIMEOUT_SECONDS: '',
      // The smallest batch (64 KiB, about 800 rows): a 300,000-row import takes seconds instead
      // of about one, so a test can pause or stop it while it runs, and sees many checkpoints.
      IMPORT_BATCH_BYTES: '65536',
      // The upload tests compare the stored file with the one sent, after its import.
      KEEP_UPLOADED_FILES: '1',
      // The first admin, made at start; the sign-in project signs in as it.
      ADMIN_EMAIL: E2E_ADMIN.email,
      ADMIN_PASSWORD: E2E_ADMIN.password,
    },
    // A stale build is rebuilt first (about 20 s here); the first start also initialises PostgreSQL.
    timeout: 180_000,
    reuseExistingServer: false,
    // SIGTERM lets start.ts stop its embedded PostgreSQL; a SIGKILL would leave it running.
    gracefulShutdown: { signal: 'SIGTERM', timeout: 15_000 },
    stdout: 'pipe',
    stderr: 'pipe',
  },
})
