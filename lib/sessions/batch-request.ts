import { isUtf8 } from 'node:buffer'
import { config } from '../config'
import { drainBody, isJsonType, readBodyUpTo, SluiceError, streamBody, type BodyLimit } from '../http/errors'
import type { BatchInput } from './batch-copy'
import { BatchQuery } from './schemas'

const batchLimit = (): BodyLimit => ({ bytes: config().maxBatchBytes, setting: 'MAX_BATCH_BYTES', advice: 'send the records in smaller batches' })

/**
 * A batch request by its Content-Type: a JSON body (`{records, sequence}`) read whole (its
 * envelope is read once the session's columns are known: readJsonBatch), or an NDJSON or CSV
 * body of records only, with its sequence in the query, read as it arrives.
 */
export type BatchRequest = { format: 'json'; bytes: Buffer } | (BatchInput & { format: 'ndjson' | 'csv'; sequence?: number | undefined })

export async function readBatch(req: Request): Promise<BatchRequest> {
  const type = (req.headers.get('content-type') ?? '').split(';')[0]!.trim().toLowerCase()
  const format = type === 'application/x-ndjson' || type === 'application/jsonl' ? 'ndjson' : type === 'text/csv' ? 'csv' : isJsonType(type) ? 'json' : null
  if (format === null) {
    throw new SluiceError('UNSUPPORTED_MEDIA_TYPE', 'Send a batch as application/json ({"records": […]}), application/x-ndjson (a record per line) or text/csv (a header line, then records)')
  }
  if (format === 'json') return { format, bytes: await readJsonBytes(req) }
  const { sequence } = BatchQuery.parse(Object.fromEntries(new URL(req.url).searchParams))
  return { format, body: streamBody(req, batchLimit()), sequence }
}

// The JSON body's bytes, as UTF-8 (a byte that is not is replaced, as a text decoder does):
// their digest tells a retry (the same bytes again) from another batch.
async function readJsonBytes(req: Request): Promise<Buffer> {
  const bytes = await readBodyUpTo(req, batchLimit())
  return isUtf8(bytes) ? bytes : Buffer.from(bytes.toString('utf8'))
}

/** What is left of a streamed batch's body once it is answered (refused half-way, or before it was read), read and dropped. */
export const drainBatch = (req: Request): Promise<void> => drainBody(req, batchLimit())
