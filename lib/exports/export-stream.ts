import pg from 'pg'
import { to as copyTo } from 'pg-copy-streams'
import type { Import } from '../db/generated/client'
import { pool } from '../db/pool'
import { SluiceError } from '../http/errors'
import { getImport } from '../imports/imports'
import { buildExportQuery, EXPORT_SESSION_OPTIONS } from './export-query'
import type { ExportFilter } from './schemas'

/** The import's rows can be read: its table exists and it was not stopped. */
export function assertExportable(imp: Import): void {
  if (imp.status === 'STOPPED') throw new SluiceError('INVALID_TRANSITION', 'This import was stopped: its rows were removed, so there is nothing to export')
  if (imp.columns === null) throw new SluiceError('INVALID_TRANSITION', `This import is ${imp.status.toLowerCase()} and has not read its header yet: there is nothing to export`)
}

/** The suggested file name of an export: the source's name, plus the range when there is one. */
export function exportFileName(imp: Import, filter: ExportFilter): string {
  const stem = imp.fileName.replace(/\.csv$/i, '') || 'export'
  const range = filter.column === undefined ? '' : `_${filter.column}_${filter.from ?? 'start'}_to_${filter.to ?? 'end'}`
  return `${stem}${range.replace(/[:]/g, '-')}.csv`
}

/**
 * The import's rows as CSV (the file's header, then the rows in file order), straight from
 * `COPY (SELECT …) TO STDOUT` on a connection of its own. Memory stays flat: a chunk is read
 * from PostgreSQL only when the response has sent the previous one. When the reader goes away
 * (`cancel`, or the request's signal), the query is cancelled on the server, not left running
 * into a full socket. The COPY has started when this resolves, so an error in the query is
 * thrown here, before any byte of the response.
 */
export async function openExportStream(importId: string, filter: ExportFilter, signal?: AbortSignal): Promise<{ fileName: string; body: ReadableStream<Uint8Array> }> {
  const imp = await getImport(importId)
  assertExportable(imp)
  const query = buildExportQuery(imp, filter)
  const client = new pg.Client({
    connectionString: process.env.DATABASE_URL,
    application_name: `sluice-export-stream:${importId}`,
    options: EXPORT_SESSION_OPTIONS,
  })
  client.on('error', () => {}) // a cancelled connection is handled where it is read
  await client.connect()

  let closed = false
  const close = async (cancelQuery: boolean) => {
    if (closed) return
    closed = true
    signal?.removeEventListener('abort', onAbort)
    // pg keeps the backend's pid from the connection's start (BackendKeyData); its types omit it.
    const pid = (client as unknown as { processID: number }).processID
    if (cancelQuery) await pool().query('SELECT pg_cancel_backend($1)', [pid]).catch(() => {})
    await client.end().catch(() => {})
  }
  const onAbort = () => void close(true)

  let chunks: AsyncIterator<Buffer>
  let first: IteratorResult<Buffer>
  try {
    const copy = client.query(copyTo(`COPY (${query.select}) TO STDOUT (FORMAT csv)`))
    chunks = copy[Symbol.asyncIterator]()
    first = await chunks.next()
  } catch (error) {
    await close(false)
    throw error
  }
  signal?.addEventListener('abort', onAbort, { once: true })

  const body = new ReadableStream<Uint8Array>({
    start(controller) {
      controller.enqueue(query.header)
      if (first.done) {
        controller.close()
        void close(false)
      } else controller.enqueue(first.value)
    },
    async pull(controller) {
      try {
        const next = await chunks.next()
        if (next.done) {
          controller.close()
          await close(false)
        } else controller.enqueue(next.value)
      } catch (error) {
        controller.error(error)
        await close(true)
      }
    },
    cancel: () => close(true),
  })
  return { fileName: exportFileName(imp, filter), body }
}
