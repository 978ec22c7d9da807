import { to as copyTo } from 'pg-copy-streams'
import { connectAs } from '../db/named-connection'
import { pool } from '../db/pool'
import { getImport } from '../imports/imports'
import { buildExportQuery, EXPORT_SESSION_OPTIONS } from './export-query'
import { assertExportable, exportFileName } from './exports'
import type { ExportFilter } from './schemas'

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
  const client = await connectAs(`sluice-export-stream:${importId}`, EXPORT_SESSION_OPTIONS)

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
