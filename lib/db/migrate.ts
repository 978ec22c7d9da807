import { createHash, randomUUID } from 'node:crypto'
import fs from 'node:fs/promises'
import path from 'node:path'
import pg from 'pg'
import { SLUICE_SCHEMA, SLUICE_SEARCH_PATH } from './sluice-schema'

/**
 * Applies prisma/migrations the way `prisma migrate deploy` does, without Prisma's schema
 * engine (a binary the CLI downloads, which cannot be fetched everywhere Sluice runs).
 * Each migration is recorded in `_prisma_migrations` with the same columns, checksum
 * (SHA-256 of migration.sql) and advisory lock as Prisma's, so `prisma migrate status`
 * agrees with what this applied.
 */

// The advisory lock key Prisma Migrate takes on PostgreSQL, so the two never run at once.
const PRISMA_MIGRATE_LOCK = 72707369

// Copied from Prisma's schema engine (sql-migration-connector, postgres flavour).
const CREATE_MIGRATIONS_TABLE = `
CREATE TABLE IF NOT EXISTS "_prisma_migrations" (
    "id"                    VARCHAR(36) PRIMARY KEY NOT NULL,
    "checksum"              VARCHAR(64) NOT NULL,
    "finished_at"           TIMESTAMPTZ,
    "migration_name"        VARCHAR(255) NOT NULL,
    "logs"                  TEXT,
    "rolled_back_at"        TIMESTAMPTZ,
    "started_at"            TIMESTAMPTZ NOT NULL DEFAULT now(),
    "applied_steps_count"   INTEGER NOT NULL DEFAULT 0
)`

export const MIGRATIONS_DIR = path.resolve('prisma/migrations')

type Migration = { name: string; sql: string; checksum: string }

/** The migrations on disk, oldest first (their folder names start with a timestamp). */
export async function readMigrations(dir = MIGRATIONS_DIR): Promise<Migration[]> {
  const entries = await fs.readdir(dir, { withFileTypes: true })
  const names = entries.filter((e) => e.isDirectory()).map((e) => e.name).sort()
  return Promise.all(
    names.map(async (name) => {
      const sql = await fs.readFile(path.join(dir, name, 'migration.sql'), 'utf8')
      return { name, sql, checksum: createHash('sha256').update(sql).digest('hex') }
    }),
  )
}

/** Applies every pending migration; returns the names it applied. */
export async function migrate(databaseUrl: string, dir = MIGRATIONS_DIR): Promise<string[]> {
  const migrations = await readMigrations(dir)
  const client = new pg.Client({ connectionString: databaseUrl, options: SLUICE_SEARCH_PATH })
  await client.connect()
  try {
    await client.query('SELECT pg_advisory_lock($1)', [PRISMA_MIGRATE_LOCK])
    await client.query(`CREATE SCHEMA IF NOT EXISTS ${SLUICE_SCHEMA}`)
    await moveMigrationRecordsFromPublic(client, migrations)
    await client.query(CREATE_MIGRATIONS_TABLE)
    const { rows } = await client.query<{ migration_name: string; finished_at: Date | null; rolled_back_at: Date | null }>(
      'SELECT migration_name, finished_at, rolled_back_at FROM "_prisma_migrations"',
    )
    const failed = rows.find((r) => r.finished_at === null && r.rolled_back_at === null)
    if (failed) {
      throw new Error(
        `Migration ${failed.migration_name} failed earlier and was not rolled back. ` +
          'Fix the database by hand, then mark it with `prisma migrate resolve`.',
      )
    }
    const applied = new Set(rows.filter((r) => r.finished_at !== null).map((r) => r.migration_name))
    const done: string[] = []
    for (const m of migrations.filter((m) => !applied.has(m.name))) {
      await apply(client, m)
      done.push(m.name)
    }
    return done
  } finally {
    await client.query('SELECT pg_advisory_unlock($1)', [PRISMA_MIGRATE_LOCK]).catch(() => {})
    await client.end()
  }
}

/**
 * Before Sluice kept its bookkeeping in its own schema, its migrations were recorded in
 * public._prisma_migrations, a table the database's own Prisma app may share. Sluice's
 * records move to its schema's table (the migration sluice_schema then moves its tables);
 * anyone else's stay where they are.
 */
async function moveMigrationRecordsFromPublic(client: pg.Client, migrations: Migration[]) {
  const { rows } = await client.query<{ ours: string | null; legacy: string | null }>(
    `SELECT to_regclass('${SLUICE_SCHEMA}._prisma_migrations')::text AS ours, to_regclass('public._prisma_migrations')::text AS legacy`,
  )
  if (rows[0]!.ours !== null || rows[0]!.legacy === null) return
  const names = migrations.map((m) => m.name)
  await client.query('BEGIN')
  try {
    await client.query(CREATE_MIGRATIONS_TABLE)
    await client.query('INSERT INTO "_prisma_migrations" SELECT * FROM public."_prisma_migrations" WHERE migration_name = ANY($1)', [names])
    await client.query('DELETE FROM public."_prisma_migrations" WHERE migration_name = ANY($1)', [names])
    await client.query(`DO $$ BEGIN
      IF NOT EXISTS (SELECT FROM public."_prisma_migrations") THEN DROP TABLE public."_prisma_migrations"; END IF;
    END $$`)
    await client.query('COMMIT')
  } catch (error) {
    await client.query('ROLLBACK')
    throw error
  }
}

async function apply(client: pg.Client, m: Migration) {
  const id = randomUUID()
  await client.query('BEGIN')
  try {
    await client.query(
      'INSERT INTO "_prisma_migrations" (id, checksum, migration_name, started_at) VALUES ($1, $2, $3, now())',
      [id, m.checksum, m.name],
    )
    await client.query(m.sql)
    await client.query(
      'UPDATE "_prisma_migrations" SET finished_at = now(), applied_steps_count = 1 WHERE id = $1',
      [id],
    )
    await client.query('COMMIT')
  } catch (error) {
    await client.query('ROLLBACK')
    // Leave the trace Prisma leaves for a failed migration, so `migrate status` reports it.
    await client.query(
      'INSERT INTO "_prisma_migrations" (id, checksum, migration_name, logs, started_at) VALUES ($1, $2, $3, $4, now())',
      [id, m.checksum, m.name, String(error)],
    )
    throw new Error(`Migration ${m.name} failed: ${(error as Error).message}`, { cause: error })
  }
}
