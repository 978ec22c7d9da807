import pg from 'pg'
import { PrismaPg } from '@prisma/adapter-pg'
import { PrismaClient } from './generated/client'
import { SLUICE_SCHEMA, SLUICE_SEARCH_PATH } from './sluice-schema'

/**
 * One pg pool per process, shared by Prisma's adapter (ordinary reads and writes) and by
 * the bulk paths that need a raw client (COPY). Kept on globalThis so that Next.js module
 * reloads do not open a new pool each time.
 */
const globals = globalThis as unknown as { sluicePool?: pg.Pool; sluicePrisma?: PrismaClient }


/** Connections the app's shared pool opens at most (its queries, Prisma's, the job queue's). */
export const POOL_SIZE = 10

export function pool(): pg.Pool {
  const url = process.env.DATABASE_URL
  if (!url) throw new Error('DATABASE_URL is not set: start Sluice with `npm start`, which sets it')
  if (!globals.sluicePool) {
    const created = new pg.Pool({ connectionString: url, max: POOL_SIZE, options: SLUICE_SEARCH_PATH })
    // An idle connection that breaks (the database restarted) must not crash the process;
    // the next query gets a fresh connection and reports any lasting failure itself.
    const report = (e: Error) => console.error('database connection lost:', e.message)
    created.on('error', report)
    created.on('connect', (client) => client.on('error', report))
    globals.sluicePool = created
  }
  return globals.sluicePool
}

export function prisma(): PrismaClient {
  globals.sluicePrisma ??= new PrismaClient({ adapter: new PrismaPg(pool(), { schema: SLUICE_SCHEMA }) })
  return globals.sluicePrisma
}

/** True once the database answers a query. */
export async function databaseAnswers(): Promise<boolean> {
  try {
    await pool().query('SELECT 1')
    return true
  } catch {
    return false
  }
}
