import { startProgressBar, type ProgressBar } from '../../lib/cli/progress'
import { formatCount } from '../../lib/format'
import type { ImportDto } from '../../lib/imports/schemas'
import { sleep, UnreachableError, type Api } from './api'

// The page polls twice a second too.
const POLL_MS = 500
// The import is queued in the same request that receives the upload's last byte; this is
// only for a server that is slow to answer.
const APPEAR_TIMEOUT_MS = 60_000
// A server restarting (or a network blip) is waited for this long: the import itself resumes
// on the server from its checkpoint.
const UNREACHABLE_TIMEOUT_MS = 120_000

/** The import's end that is not PROCESSED: the message says what happened and what to do. */
export class ImportEndedError extends Error {
  name = 'ImportEndedError'
}

/**
 * Finds the import of a finished tus upload and follows it to its end with a bar (bytes
 * processed, rows, rate, time left). Resolves with the PROCESSED import; throws
 * ImportEndedError when it ends otherwise (failed, stopped or killed).
 */
export async function followImport(api: Api, uploadId: string, signal: AbortSignal): Promise<ImportDto> {
  const deadline = Date.now() + APPEAR_TIMEOUT_MS
  let imp: ImportDto | undefined
  while (!imp) {
    const { imports } = await patiently(() => api.call<{ imports: ImportDto[] }>('GET', `/api/imports?upload=${encodeURIComponent(uploadId)}`), signal)
    imp = imports[0]
    if (!imp && Date.now() > deadline) throw new ImportEndedError(`No import appeared for upload ${uploadId} within ${APPEAR_TIMEOUT_MS / 1000} s`)
    if (!imp) await sleep(POLL_MS, signal)
  }

  const page = `${api.base}/imports/${imp.id}`
  let bar: ProgressBar | undefined
  try {
    for (;;) {
      // Drawn even for an import that is over at the first look, so every run ends with its bar.
      bar ??= startProgressBar({ label: 'Importing', total: imp.totalBytes, start: imp.bytesProcessed, unit: 'bytes' })
      if (imp.status === 'PROCESSED') {
        bar.update(imp.totalBytes, rowsText(imp))
        return imp
      }
      if (imp.status === 'FAILED') throw new ImportEndedError(`The import failed: ${imp.error ?? 'no reason given'} (its page: ${page})`)
      if (imp.status === 'STOPPED') throw new ImportEndedError(`The import was stopped, and its rows removed (its page: ${page})`)
      if (imp.status === 'KILLED') {
        throw new ImportEndedError(`The import was killed after ${formatCount(imp.rowsImported)} rows; resume it on its page: ${page}`)
      }
      bar.update(imp.bytesProcessed, rowsText(imp) + (imp.status === 'PAUSED' ? ', paused (resume it on its page)' : ''))
      await sleep(POLL_MS, signal)
      imp = await patiently(() => api.call<ImportDto>('GET', `/api/imports/${imp!.id}`), signal)
    }
  } finally {
    bar?.stop()
  }
}

const rowsText = (imp: ImportDto) => `${formatCount(imp.rowsImported)} rows` + (imp.rowsRejected ? `, ${formatCount(imp.rowsRejected)} rejected` : '')

/** Retries while the server cannot be reached (it may be restarting), up to a limit. */
async function patiently<T>(request: () => Promise<T>, signal: AbortSignal): Promise<T> {
  const deadline = Date.now() + UNREACHABLE_TIMEOUT_MS
  for (;;) {
    try {
      return await request()
    } catch (error) {
      if (!(error instanceof UnreachableError) || Date.now() > deadline) throw error
      await sleep(1000, signal)
    }
  }
}
