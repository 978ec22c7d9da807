import fs from 'node:fs/promises'
import os from 'node:os'
import path from 'node:path'
import pg from 'pg'
import { startEmbeddedPostgres } from '../lib/db/embedded-postgres'
import { migrate } from '../lib/db/migrate'
import { installJobQueue } from '../lib/imports/import-worker'

// Starts a throwaway embedded PostgreSQL in a temporary folder, applies the migrations and
// hands its URL to the tests through the environment (test workers start after this runs).
export default async function setup() {
  const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'sluice-test-'))
  await fs.chmod(dir, 0o755) // the server runs as the OS user postgres when tests run as root
  const db = await startEmbeddedPostgres({ dataDir: path.join(dir, 'postgres') })
  await migrate(db.url)
  const pgPool = new pg.Pool({ connectionString: db.url })
  pgPool.on('error', () => {}) // graphile-worker asks every pool for one; this one lives for two statements
  await installJobQueue(pgPool)
  await pgPool.end()
  process.env.DATABASE_URL = db.url
  process.env.DATA_DIR = path.join(dir, 'data')
  process.env.MAX_UPLOAD_BYTES = String(1024 * 1024)
  // Most tests compare an upload's stored bytes after its import; retention.test.ts runs without this.
  process.env.KEEP_UPLOADED_FILES = '1'
  // For the tests that run route handlers in their own process (npm start sets these itself).
  process.env.BETTER_AUTH_SECRET = 'a-secret-for-the-tests-only-0123456789'
  process.env.BETTER_AUTH_URL = 'http://localhost'
  return async () => {
    await db.stop()
    await fs.rm(dir, { recursive: true, force: true })
  }
}
