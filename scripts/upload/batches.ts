import { stringify } from 'csv-stringify/sync'
import { startProgressBar } from '../../lib/cli/progress'
import { COLUMNS, generateRecords, type GeneratedRecord } from '../../lib/csv/generate'
import { formatBytes, formatCount } from '../../lib/format'
import type { ImportDto } from '../../lib/imports/schemas'
import type { BatchResult, SessionDto } from '../../lib/sessions/schemas'
import { ApiError, InterruptedError, sleep, UnreachableError, type Api, type RawBody } from './api'

// Waits before each retry of a request that got no answer or a 5xx: about 15 s in all. The
// same sequence is sent again, so a batch that did arrive is not applied twice.
const RETRY_DELAYS_MS = [500, 1_000, 2_000, 4_000, 8_000]

// The server's MAX_BATCH_BYTES by default. A server set lower says so in its 413, and the
// batches get smaller from then on.
const DEFAULT_MAX_BATCH_BYTES = 16 * 1024 * 1024
// `{"sequence":…,"records":[` and `]}` around the records, or a CSV body's header line.
const ENVELOPE_BYTES = 96

export const BATCH_FORMATS = ['ndjson', 'json', 'csv'] as const
export type BatchFormat = (typeof BATCH_FORMATS)[number]

export type BatchOptions = { rows: number; batchSize: number; name: string; seed: number | undefined; format: BatchFormat; inFlight: number }

/** What one batch may hold: --batch-size and MAX_BATCH_BYTES, lowered by the server's 413s. */
type Limits = { records: number; bytes: number }

/**
 * Opens a batch session, sends `rows` generated records in batches of `batchSize` as
 * `format`, `inFlight` at a time (each generated just before it is sent, so memory stays
 * flat), and finishes the session with the total. A batch the server refuses as too large
 * (413) is not applied: its records go again in batches within the limits its answer names,
 * with sequences of their own. Resolves with the finished session, its (PROCESSED) import and
 * how long the records took to send.
 */
export async function sendGeneratedRecords(api: Api, options: BatchOptions, signal: AbortSignal): Promise<{ session: SessionDto; imp: ImportDto; seconds: number }> {
  const opened = await api.call<SessionDto>('POST', '/api/sessions', { name: options.name, columns: [...COLUMNS] })
  console.log(
    `Opened session ${opened.id} (import ${opened.importId}): sending ${formatCount(options.rows)} records as ${options.format.toUpperCase()} ` +
      `in batches of ${formatCount(options.batchSize)}, ${options.inFlight} at a time`,
  )

  const records = recordQueue(options.seed, options.rows)
  let limits: Limits = { records: options.batchSize, bytes: DEFAULT_MAX_BATCH_BYTES }
  let limitsText = ''
  const bar = startProgressBar({ label: 'Sending', total: options.rows, unit: 'records' })
  const started = performance.now()
  let sent = 0
  let sequence = 0
  let failure: unknown
  const inFlight = new Set<Promise<void>>()
  // Sends one batch (again after a 5xx or no answer, with the same sequence): applied, or put back after a 413.
  const send = async (batch: Batch, at: number) => {
    try {
      await withRetries(
        () => api.send<BatchResult>(`/api/sessions/${opened.id}/batches${options.format === 'json' ? '' : `?sequence=${at}`}`, requestBody(options.format, at, batch.records)),
        signal,
        (why, attempt) => bar.update(sent, `${why}, retry ${attempt} of ${RETRY_DELAYS_MS.length}`),
      )
      sent += batch.records.length
      bar.update(sent, limitsText)
    } catch (error) {
      const smaller = error instanceof ApiError && error.status === 413 ? limitsAfterRefusal(limits, batch, error.details) : undefined
      if (!smaller) {
        failure ??= error
        return
      }
      records.putBack(batch.records)
      limits = smaller
      limitsText = `batches of at most ${formatCount(limits.records)} records` + (limits.bytes < DEFAULT_MAX_BATCH_BYTES ? ` and ${formatBytes(limits.bytes)}` : '') + ' (the server’s limit)'
      bar.update(sent, limitsText)
    }
  }
  try {
    while (failure === undefined && (records.left() > 0 || inFlight.size > 0)) {
      while (failure === undefined && records.left() > 0 && inFlight.size < options.inFlight) {
        const sending = send(takeBatch(records, limits), sequence++).finally(() => inFlight.delete(sending))
        inFlight.add(sending)
      }
      await Promise.race(inFlight)
    }
    await Promise.all(inFlight)
    if (failure !== undefined) throw failure
  } catch (error) {
    if (!(error instanceof InterruptedError)) throw error
    throw new InterruptedError(`Interrupted after ${formatCount(sent)} records: session ${opened.id} stays open (Stop its import on ${api.base}/imports/${opened.importId} to remove them)`)
  } finally {
    bar.stop()
  }
  const seconds = (performance.now() - started) / 1000
  const session = await withRetries(() => api.call<SessionDto>('POST', `/api/sessions/${opened.id}/finish`, { totalRecords: sent }), signal)
  const imp = await withRetries(() => api.call<ImportDto>('GET', `/api/imports/${session.importId}`), signal)
  return { session, imp, seconds }
}

/** A batch's request body: NDJSON (a record per line), JSON (`{sequence, records}`) or CSV (a header, then a line per record). */
function requestBody(format: BatchFormat, sequence: number, records: GeneratedRecord[]): RawBody {
  if (format === 'json') return { type: 'application/json', text: JSON.stringify({ sequence, records }) }
  if (format === 'ndjson') return { type: 'application/x-ndjson', text: records.map((r) => `${JSON.stringify(r)}\n`).join('') }
  // Every value quoted, so an empty string stays one; null is an empty field, which is NULL.
  return { type: 'text/csv', text: stringify(records, { header: true, columns: [...COLUMNS], quoted: true }) }
}

/** The `total` records to send, in order: those of a refused batch first, then newly generated ones. */
function recordQueue(seed: number | undefined, total: number) {
  const generated = generateRecords(seed)
  const returned: GeneratedRecord[] = [] // last to send first, so that taking one is a pop
  let left = total
  return {
    /** How many records are still to be taken. */
    left: () => left,
    take(): GeneratedRecord {
      left--
      return returned.pop() ?? generated.next().value
    },
    putBack(records: GeneratedRecord[]) {
      left += records.length
      for (let i = records.length - 1; i >= 0; i--) returned.push(records[i]!)
    },
  }
}

type Batch = { records: GeneratedRecord[]; bytes: number }

/** The next batch within the limits (at least one record, however large). */
function takeBatch(queue: ReturnType<typeof recordQueue>, limits: Limits): Batch {
  const records: GeneratedRecord[] = []
  let bytes = ENVELOPE_BYTES
  while (records.length < limits.records && queue.left() > 0) {
    const record = queue.take()
    // The record as JSON carries it (UTF-8), plus its comma or line break: at least what CSV takes.
    const size = Buffer.byteLength(JSON.stringify(record)) + 1
    if (records.length > 0 && bytes + size > limits.bytes) {
      queue.putBack([record])
      break
    }
    records.push(record)
    bytes += size
  }
  return { records, bytes }
}

/**
 * The limits to send a refused batch again with: those the 413 names (`maxRecords` for
 * MAX_BATCH_RECORDS, `maxBytes` for MAX_BATCH_BYTES), or half the batch when it names none
 * (a proxy's limit). Undefined when the batch was a single record: it cannot be split.
 */
function limitsAfterRefusal(limits: Limits, refused: Batch, details: Record<string, unknown>): Limits | undefined {
  if (refused.records.length <= 1) return undefined
  const next = {
    records: typeof details.maxRecords === 'number' ? Math.min(limits.records, details.maxRecords) : limits.records,
    bytes: typeof details.maxBytes === 'number' ? Math.min(limits.bytes, details.maxBytes) : limits.bytes,
  }
  // Whatever the answer says, the next batch must be smaller than the one refused.
  if (next.records >= refused.records.length && next.bytes >= refused.bytes) next.records = Math.floor(refused.records.length / 2)
  return next.records >= 1 ? next : undefined
}

/** Runs the request, and again after a pause while it gets no answer or a 5xx. */
async function withRetries<T>(request: () => Promise<T>, signal: AbortSignal, onRetry?: (why: string, attempt: number) => void): Promise<T> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await request()
    } catch (error) {
      const retriable = error instanceof UnreachableError || (error instanceof ApiError && error.status >= 500)
      const delay = RETRY_DELAYS_MS[attempt - 1]
      if (!retriable || delay === undefined) throw error
      onRetry?.(error instanceof ApiError ? `answer ${error.status}` : 'no answer', attempt)
      await sleep(delay, signal)
    }
  }
}
