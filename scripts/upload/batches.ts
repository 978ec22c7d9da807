import { startProgressBar } from '../../lib/cli/progress'
import { COLUMNS, generateRecords, type GeneratedRecord } from '../../lib/csv/generate'
import { formatCount } from '../../lib/format'
import type { ImportDto } from '../../lib/imports/schemas'
import type { BatchResult, SessionDto } from '../../lib/sessions/schemas'
import { ApiError, InterruptedError, sleep, UnreachableError, type Api } from './api'

// Waits before each retry of a request that got no answer or a 5xx: about 15 s in all. The
// same sequence is sent again, so a batch that did arrive is not applied twice.
const RETRY_DELAYS_MS = [500, 1_000, 2_000, 4_000, 8_000]

export type BatchOptions = { rows: number; batchSize: number; name: string; seed: number | undefined }

/**
 * Opens a batch session, sends `rows` generated records in batches of `batchSize` (each
 * generated just before it is sent, so memory stays flat), and finishes the session with the
 * total. Resolves with the finished session and its (PROCESSED) import.
 */
export async function sendGeneratedRecords(api: Api, options: BatchOptions, signal: AbortSignal): Promise<{ session: SessionDto; imp: ImportDto; batches: number }> {
  const opened = await api.call<SessionDto>('POST', '/api/sessions', { name: options.name, columns: [...COLUMNS] })
  console.log(`Opened session ${opened.id} (import ${opened.importId}): sending ${formatCount(options.rows)} records in batches of ${formatCount(options.batchSize)}`)

  const records = generateRecords(options.seed)
  const bar = startProgressBar({ label: 'Sending', total: options.rows, unit: 'records' })
  let sent = 0
  let sequence = 0
  try {
    while (sent < options.rows) {
      const batch: GeneratedRecord[] = []
      while (batch.length < options.batchSize && sent + batch.length < options.rows) batch.push(records.next().value)
      await withRetries(
        () => api.call<BatchResult>('POST', `/api/sessions/${opened.id}/batches`, { sequence, records: batch }),
        signal,
        (why, attempt) => bar.update(sent, `${why}, retry ${attempt} of ${RETRY_DELAYS_MS.length}`),
      )
      sent += batch.length
      sequence++
      bar.update(sent, '')
    }
  } catch (error) {
    if (!(error instanceof InterruptedError)) throw error
    throw new InterruptedError(`Interrupted after ${formatCount(sent)} records: session ${opened.id} stays open (Stop its import on ${api.base}/imports/${opened.importId} to remove them)`)
  } finally {
    bar.stop()
  }
  const session = await withRetries(() => api.call<SessionDto>('POST', `/api/sessions/${opened.id}/finish`, { totalRecords: sent }), signal)
  const imp = await withRetries(() => api.call<ImportDto>('GET', `/api/imports/${session.importId}`), signal)
  return { session, imp, batches: sequence }
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
