import { createHash } from 'node:crypto'
import fs from 'node:fs/promises'
import os from 'node:os'
import path from 'node:path'
import pg from 'pg'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { migrate, readMigrations } from './migrate'
import { SLUICE_SEARCH_PATH } from './sluice-schema'

// Runs against a database of its own on the test server, so it starts from nothing.
const admin = new pg.Client({ connectionString: process.env.DATABASE_URL })
const url = new URL(process.env.DATABASE_URL!)
url.pathname = '/migrate_test'

beforeAll(async () => {
  await admin.connect()
  await admin.query('DROP DATABASE IF EXISTS migrate_test')
  await admin.query('CREATE DATABASE migrate_test')
  await admin.query('DROP DATABASE IF EXISTS migrate_legacy_test')
  await admin.query('CREATE DATABASE migrate_legacy_test')
})
afterAll(async () => {
  await admin.query('DROP DATABASE IF EXISTS migrate_test WITH (FORCE)')
  await admin.query('DROP DATABASE IF EXISTS migrate_legacy_test WITH (FORCE)')
  await admin.end()
})

async function recorded() {
  const client = new pg.Client({ connectionString: url.href, options: SLUICE_SEARCH_PATH })
  await client.connect()
  try {
    const { rows } = await client.query(
      'SELECT migration_name, checksum, finished_at IS NOT NULL AS finished, applied_steps_count, logs FROM "_prisma_migrations" ORDER BY migration_name',
    )
    return rows
  } finally {
    await client.end()
  }
}

describe('migrate', () => {
  it('applies every migration once and records it the way Prisma does', async () => {
    const onDisk = await readMigrations()
    expect(await migrate(url.href)).toEqual(onDisk.map((m) => m.name))
    expect(await migrate(url.href)).toEqual([]) // the second start applies nothing

    const rows = await recorded()
    expect(rows).toEqual(
      await Promise.all(
        onDisk.map(async (m) => ({
          migration_name: m.name,
          // Prisma's checksum is the SHA-256 of migration.sql's bytes, in hex.
          checksum: createHash('sha256').update(await fs.readFile(path.join('prisma/migrations', m.name, 'migration.sql'))).digest('hex'),
          finished: true,
          applied_steps_count: 1,
          logs: null,
        })),
      ),
    )
  })

  it('records a failing migration, applies none of it, and refuses to go on', async () => {
    const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'sluice-migrations-'))
    await fs.mkdir(path.join(dir, '20990101000000_broken'))
    await fs.writeFile(path.join(dir, '20990101000000_broken', 'migration.sql'), 'CREATE TABLE half_done (id int);\nSELECT nonsense FROM nowhere;')

    await expect(migrate(url.href, dir)).rejects.toThrow('Migration 20990101000000_broken failed: relation "nowhere" does not exist')
    const broken = (await recorded()).find((r) => r.migration_name === '20990101000000_broken')
    expect(broken).toMatchObject({ finished: false, applied_steps_count: 0 })

    const client = new pg.Client({ connectionString: url.href })
    await client.connect()
    const { rowCount } = await client.query("SELECT 1 FROM pg_tables WHERE tablename = 'half_done'")
    await client.end()
    expect(rowCount).toBe(0)

    await expect(migrate(url.href, dir)).rejects.toThrow('Migration 20990101000000_broken failed earlier and was not rolled back')
    await fs.rm(dir, { recursive: true })
  })

  it("moves the bookkeeping of a Sluice from before its own schema out of public, rows and all, and leaves a person's tables there", async () => {
    const legacyUrl = new URL(url.href)
    legacyUrl.pathname = '/migrate_legacy_test'
    // As the Sluice of before did it: every migration up to lazy_row_numbers, in public.
    const before = (await readMigrations()).filter((m) => m.name <= '20261204000000_lazy_row_numbers')
    const old = new pg.Client({ connectionString: legacyUrl.href })
    await old.connect()
    try {
      await old.query(`CREATE TABLE "_prisma_migrations" (id varchar(36) PRIMARY KEY, checksum varchar(64) NOT NULL, finished_at timestamptz,
        migration_name varchar(255) NOT NULL, logs text, rolled_back_at timestamptz, started_at timestamptz NOT NULL DEFAULT now(), applied_steps_count integer NOT NULL DEFAULT 0)`)
      for (const m of before) {
        await old.query(m.sql)
        await old.query('INSERT INTO "_prisma_migrations" VALUES (gen_random_uuid(), $1, now(), $2, NULL, NULL, now(), 1)', [m.checksum, m.name])
      }
      // The database's own app: a table, and a Prisma of its own recording its migrations.
      await old.query('CREATE TABLE customers (id bigint PRIMARY KEY, email text)')
      await old.query("INSERT INTO customers VALUES (1, 'ada@example.com')")
      await old.query(`INSERT INTO "_prisma_migrations" VALUES (gen_random_uuid(), 'theirs', now(), '20200101000000_their_app', NULL, NULL, now(), 1)`)
      await old.query("INSERT INTO users (id, name, email, email_verified) VALUES ('u1', 'Old Admin', 'old@sluice.test', true)")
      await old.query("INSERT INTO uploads (id, file_name, size, status, updated_at, owner_id) VALUES ('up1', 'old.csv', 4, 'FINISHED', now(), 'u1')")
      await old.query(`INSERT INTO imports (id, upload_id, file_name, total_bytes, status, table_name, updated_at, owner_id, stored_in_file_order)
        VALUES ('00000000-0000-4000-8000-000000000001', 'up1', 'old.csv', 4, 'PROCESSED', 'old_csv_00000000', now(), 'u1', true)`)
      await old.query("INSERT INTO exports (import_id, file_name, updated_at, owner_id) VALUES ('00000000-0000-4000-8000-000000000001', 'old.csv', now(), 'u1')")
      await old.query('CREATE TABLE imported.old_csv_00000000 (_sluice_row bigint, a text)')
      await old.query("INSERT INTO imported.old_csv_00000000 VALUES (1, 'x')")
      await old.query('CREATE TRIGGER sluice_changed AFTER UPDATE ON imported.old_csv_00000000 FOR EACH STATEMENT EXECUTE FUNCTION sluice_import_table_changed()')

      expect(await migrate(legacyUrl.href)).toEqual((await readMigrations()).filter((m) => m.name > '20261204000000_lazy_row_numbers').map((m) => m.name))

      const inPublic = await old.query("SELECT c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = 'public' AND c.relkind = 'r' ORDER BY 1")
      expect(inPublic.rows.map((r) => r.relname)).toEqual(['_prisma_migrations', 'customers'])
      expect((await old.query('SELECT migration_name FROM public."_prisma_migrations"')).rows).toEqual([{ migration_name: '20200101000000_their_app' }])
      const ours = await old.query("SELECT count(*)::int AS n FROM pg_type t JOIN pg_namespace n ON n.oid = t.typnamespace WHERE n.nspname = 'public' AND t.typname LIKE '%Status'")
      expect(ours.rows[0].n).toBe(0)
      const functions = await old.query("SELECT n.nspname, p.proname FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace WHERE p.proname LIKE 'sluice%' ORDER BY 2")
      expect(functions.rows).toEqual(['sluice_import_table_changed', 'sluice_keep_row_place', 'sluice_place'].map((proname) => ({ nspname: 'sluice', proname })))
      expect((await old.query('SELECT email FROM sluice.users')).rows).toEqual([{ email: 'old@sluice.test' }])
      expect((await old.query("SELECT u.file_name, i.status, e.file_name AS export FROM sluice.uploads u JOIN sluice.imports i ON i.upload_id = u.id JOIN sluice.exports e ON e.import_id = i.id")).rows)
        .toEqual([{ file_name: 'old.csv', status: 'PROCESSED', export: 'old.csv' }])
      expect((await old.query('SELECT * FROM public.customers')).rows).toEqual([{ id: '1', email: 'ada@example.com' }])
      expect((await old.query('SELECT migration_name FROM sluice."_prisma_migrations" ORDER BY 1')).rows.map((r) => r.migration_name))
        .toEqual((await readMigrations()).map((m) => m.name))

      // The trigger still works from a session that searches only public.
      await old.query("UPDATE imported.old_csv_00000000 SET a = 'y'")
      expect((await old.query('SELECT stored_in_file_order FROM sluice.imports')).rows).toEqual([{ stored_in_file_order: false }])
      expect(await migrate(legacyUrl.href)).toEqual([])
    } finally {
      await old.end()
    }
  })
})
