import { createHash } from 'node:crypto'
import fs from 'node:fs/promises'
import os from 'node:os'
import path from 'node:path'
import pg from 'pg'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { migrate, readMigrations } from './migrate'

// Runs against a database of its own on the test server, so it starts from nothing.
const admin = new pg.Client({ connectionString: process.env.DATABASE_URL })
const url = new URL(process.env.DATABASE_URL!)
url.pathname = '/migrate_test'

beforeAll(async () => {
  await admin.connect()
  await admin.query('DROP DATABASE IF EXISTS migrate_test')
  await admin.query('CREATE DATABASE migrate_test')
})
afterAll(async () => {
  await admin.query('DROP DATABASE IF EXISTS migrate_test WITH (FORCE)')
  await admin.end()
})

async function recorded() {
  const client = new pg.Client({ connectionString: url.href })
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
})
