import { pipeline, type Readable } from 'node:stream'
import { to as copyTo } from 'pg-copy-streams'
import { config } from '../config'
import { SluiceError } from '../http/errors'
import { connectAs } from '../db/named-connection'
import { pool } from '../db/pool'
import { getImport } from '../imports/imports'
import type { OwnerScope } from '../auth/owner-scope'
import { CsvRecordCounter } from './csv-record-counter'
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
export async function openExportStream(
  importId: string,
  filter: ExportFilter,
  scope: OwnerScope,
  signal?: AbortSignal,
): Promise<{ fileName: string; body: ReadableStream<Uint8Array>; contentType: string }> {
  const imp = await getImport(importId, scope)
  assertExportable(imp)
  const query = buildExportQuery(imp, filter)
  const { maxExportStreams } = config()
  if (openStreams >= maxExportStreams) {
    throw new SluiceError(
      'UNAVAILABLE',
      `${maxExportStreams} exports are streaming from this server already (MAX_EXPORT_STREAMS): try again in a few seconds, or start an export job (POST /api/exports), which waits its turn`,
      { details: { retryAfterSeconds: RETRY_AFTER_SECONDS } },
    )
  }
  openStreams++
  let client: Awaited<ReturnType<typeof connectAs>>
  try {
    client = await connectAs(`sluice-export-stream:${importId}`, EXPORT_SESSION_OPTIONS)
  } catch (error) {
    openStreams--
    throw error
  }

  let closed = false
  let stall: ReturnType<typeof setTimeout> | undefined
  const close = async (cancelQuery: boolean) => {
    if (closed) return
    closed = true
    openStreams--
    clearTimeout(stall)
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
    const copy = client.query(copyTo(query.copy))
    // Between COPY and the response: the records' line ends (when not LF) and the encoding (UTF-16).
    const { quote, lineEnd, encoder } = query.writing
    const utf16 = encoder()
    const transforms = [...(lineEnd === '\n' ? [] : [new CsvRecordCounter(quote, lineEnd)]), ...(utf16 ? [utf16] : [])]
    const out = transforms.length ? (pipeline([copy, ...transforms], () => {}) as unknown as Readable) : copy
    chunks = out[Symbol.asyncIterator]()
    first = await chunks.next()
  } catch (error) {
    await close(false)
    throw error
  }
  signal?.addEventListener('abort', onAbort, { once: true })

  // A client that stops reading holds a connection and its backend: STALL_MS after a chunk was
  // handed over without the client asking for the next, the export is broken off.
  const watch = (controller: ReadableStreamDefaultController<Uint8Array>) => {
    clearTimeout(stall)
    stall = setTimeout(() => {
      controller.error(new Error('the client stopped reading'))
      void close(true)
    }, STALL_MS)
  }
  const body = new ReadableStream<Uint8Array>({
    start(controller) {
      controller.enqueue(query.header)
      if (first.done) {
        controller.close()
        void close(false)
      } else {
        controller.enqueue(first.value)
        watch(controller)
      }
    },
    async pull(controller) {
      clearTimeout(stall) // the client reads; a slow query between chunks is not a stall
      try {
        const next = await chunks.next()
        if (next.done) {
          controller.close()
          await close(false)
        } else {
          controller.enqueue(next.value)
          watch(controller)
        }
      } catch (error) {
        controller.error(error)
        await close(true)
      }
    },
    cancel: () => close(true),
  })
  return { fileName: exportFileName(imp, filter), body, contentType: query.writing.contentType }
}

// Streams open in this process (each holds one connection until it closes).
let openStreams = 0
const RETRY_AFTER_SECONDS = 5
// Long enough for a slow link or a paused download manager, short enough that stalled clients
// cannot pile up connections for ever.
const STALL_MS = 120_000
