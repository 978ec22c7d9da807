import { expect } from 'vitest'
import type pg from 'pg'
import type { ImportDto } from '../lib/imports/schemas'
import { appFetch, sleep } from './app-process'

// The import API as the HTTP tests drive it, against the app at `baseUrl()` (a getter: a test
// may restart the app on another process).

export function importApi(baseUrl: () => string) {
  async function api(method: 'GET' | 'POST', route: string): Promise<{ status: number; body: any }> {
    const res = await appFetch(`${baseUrl()}${route}`, { method })
    return { status: res.status, body: await res.json() }
  }
  const getImport = async (id: string) => (await api('GET', `/api/imports/${id}`)).body as ImportDto
  const importsOf = async (uploadId: string) => (await api('GET', `/api/imports?upload=${uploadId}`)).body.imports as ImportDto[]

  /** The one import of an upload. */
  async function importOf(uploadId: string): Promise<ImportDto> {
    const imports = await importsOf(uploadId)
    expect(imports).toHaveLength(1)
    return imports[0]!
  }

  /** Polls the import until `done` holds (every 20 ms, up to `ms`). */
  async function waitFor(id: string, done: (imp: ImportDto) => boolean, ms = 60_000): Promise<ImportDto> {
    const deadline = Date.now() + ms
    for (;;) {
      const imp = await getImport(id)
      if (done(imp)) return imp
      if (Date.now() > deadline) throw new Error(`import ${id} still ${imp.status} (${imp.rowsImported} rows) after ${ms} ms`)
      await sleep(20)
    }
  }
  return { api, getImport, importsOf, importOf, waitFor }
}

/** Running with rows committed, so that pause, kill and stop land mid-import. */
export const processing = (imp: ImportDto) => imp.status === 'PROCESSING' && imp.rowsImported > 0
/** No longer queued or running. */
export const settled = (imp: ImportDto) => !['QUEUED', 'PROCESSING'].includes(imp.status)

/** Whether the import's table (schema-qualified) exists. */
export async function tableExists(db: pg.Pool, tableName: string): Promise<boolean> {
  return (await db.query('SELECT to_regclass($1) IS NOT NULL AS exists', [tableName])).rows[0].exists as boolean
}
