'use client'

import Link from 'next/link'
import { useEffect, useState } from 'react'
import { formatBytes, formatDateTime, formatDuration, formatRows } from '@/lib/format'
import { ImportCard } from './import-card'
import type { UploadItem } from './use-uploads'

const button =
  'rounded-md border px-3 py-1.5 text-sm font-medium focus-visible:outline-2 focus-visible:outline-offset-2 focus-visible:outline-sky-600 disabled:opacity-40'

/**
 * One file's upload: name, size, a progress bar with percent, rate and time left, and its
 * controls; below it the file's import, which starts with the upload and follows its bytes.
 */
export function UploadCard({
  item,
  onPause,
  onResume,
  onCancel,
  onDismiss,
  onImportStopped,
  onChooseAnother,
  onImportAgain,
  onRetryNow,
}: {
  item: UploadItem
  onPause: () => void
  onResume: () => void
  onCancel: () => void
  onDismiss: () => void
  /** The import was stopped while the file was still going up: the server ended the upload. */
  onImportStopped: () => void
  /** Opens the file picker: for a file whose import failed because of the file itself. */
  onChooseAnother: () => void
  /** For a file imported before: upload it anyway. */
  onImportAgain: () => void
  /** For an upload waiting to retry: now, not at the end of the backoff. */
  onRetryNow: () => void
}) {
  const { state, size } = item
  // The import's status once the file is up: a stopped or failed one can leave the list too.
  const [ended, setEnded] = useState(false)
  const sent = 'sent' in state ? state.sent : state.phase === 'done' ? size : 0
  const percent = size === 0 ? 100 : Math.floor((sent / size) * 1000) / 10
  const rate = 'bytesPerSecond' in state ? state.bytesPerSecond : null
  const active = state.phase === 'starting' || state.phase === 'uploading' || state.phase === 'retrying'
  const finished = state.phase === 'done' || state.phase === 'cancelled' || state.phase === 'refused' || state.phase === 'duplicate'
  // What cannot go on, or waits for a person's answer, can leave the list.
  const removable =
    state.phase === 'cancelled' || state.phase === 'refused' || state.phase === 'duplicate' || (state.phase === 'failed' && !state.canRetry) || (state.phase === 'done' && ended)

  return (
    <article
      aria-label={item.name}
      data-testid="upload-card"
      data-phase={state.phase}
      className="rounded-xl border border-slate-200 bg-white p-4 shadow-sm dark:border-slate-800 dark:bg-slate-900"
    >
      <div className="flex flex-wrap items-baseline justify-between gap-x-4 gap-y-1">
        <h2 className="min-w-0 truncate font-medium" title={item.name}>
          {item.name}
        </h2>
        <span className="text-sm text-slate-500 tabular-nums dark:text-slate-400">{formatBytes(size)}</span>
      </div>

      {!finished && (
        <div
          role="progressbar"
          aria-label={`Upload of ${item.name}`}
          aria-valuemin={0}
          aria-valuemax={100}
          aria-valuenow={percent}
          className="mt-3 h-2 overflow-hidden rounded-full bg-slate-200 dark:bg-slate-800"
        >
          <div
            className={`h-full rounded-full transition-[width] ${state.phase === 'failed' ? 'bg-red-600 dark:bg-red-500' : 'bg-sky-600 dark:bg-sky-500'}`}
            style={{ width: `${percent}%` }}
          />
        </div>
      )}

      <div className="mt-2 flex flex-wrap items-center justify-between gap-x-4 gap-y-2 text-sm">
        <p className="tabular-nums text-slate-600 dark:text-slate-300" data-testid="upload-status">
          {describe(item, percent, rate)}
          {state.phase === 'retrying' && <RetryCountdown at={state.retryAt} />}
        </p>
        {state.phase === 'retrying' && (
          <button type="button" className={`${button} border-sky-600 text-sky-700 dark:text-sky-300`} onClick={onRetryNow} aria-label={`Retry upload of ${item.name} now`}>
            Retry now
          </button>
        )}
        {state.phase === 'duplicate' && (
          <div className="flex flex-wrap gap-2">
            <Link href={`/imports/${state.existing.id}`} className={`${button} border-sky-600 text-sky-700 dark:text-sky-300`}>
              Open the existing import
            </Link>
            <button type="button" className={`${button} border-slate-300 dark:border-slate-700`} onClick={onImportAgain} aria-label={`Import ${item.name} again`}>
              Import it again
            </button>
          </div>
        )}
        {/* Announced when the phase changes, not with each progress tick (five a second). */}
        <span className="sr-only" aria-live="polite" data-testid="upload-announcement">
          {state.phase === 'uploading' ? `Uploading ${item.name}` : `Upload of ${item.name}: ${describe(item, percent, null)}`}
        </span>
        {removable && (
          <button type="button" className={`${button} border-slate-300 dark:border-slate-700`} onClick={onDismiss} aria-label={`Remove ${item.name} from the list`}>
            Remove
          </button>
        )}
        {!finished && !removable && (
          <div className="flex gap-2">
            {state.phase === 'paused' || state.phase === 'failed' ? (
              <button type="button" className={`${button} border-sky-600 text-sky-700 dark:text-sky-300`} onClick={onResume} aria-label={`Resume upload of ${item.name}`}>
                Resume
              </button>
            ) : (
              <button type="button" className={`${button} border-slate-300 dark:border-slate-700`} onClick={onPause} disabled={!active} aria-label={`Pause upload of ${item.name}`}>
                Pause
              </button>
            )}
            <button type="button" className={`${button} border-red-300 text-red-700 dark:border-red-800 dark:text-red-300`} onClick={onCancel} aria-label={`Cancel upload of ${item.name}`}>
              Cancel
            </button>
          </div>
        )}
      </div>
      {item.resumedFrom !== null && item.resumedFrom > 0 && state.phase !== 'done' && (
        <p className="mt-1 text-xs text-slate-500 dark:text-slate-400" data-testid="resumed-from" data-offset={item.resumedFrom}>
          Continued from {formatBytes(item.resumedFrom)} already on the server
        </p>
      )}
      {item.uploadId && state.phase !== 'cancelled' && (
        <ImportCard
          uploadId={item.uploadId}
          fileName={item.name}
          onStatus={(status, failedOn) => {
            if (status === 'STOPPED' && !finished) onImportStopped()
            // A file that cannot be imported has its own Remove, which also deletes it.
            setEnded(status === 'STOPPED' || (status === 'FAILED' && failedOn === 'server'))
          }}
          onChooseAnother={onChooseAnother}
          onRemoved={onDismiss}
        />
      )}
    </article>
  )
}

function describe({ state, size }: UploadItem, percent: number, rate: number | null): string {
  switch (state.phase) {
    case 'starting':
      return 'Starting…'
    case 'uploading': {
      const speed = rate ? ` · ${formatBytes(rate)}/s · ${formatDuration((size - state.sent) / rate)} left` : ''
      return `${percent}%${speed}`
    }
    case 'paused':
      return `Paused at ${percent}%`
    case 'retrying':
      return `${state.unreachable ? 'Server unreachable' : 'The server could not take it'} at ${percent}%, retrying`
    case 'failed':
      return `Failed: ${state.message}`
    case 'done':
      return 'Uploaded'
    case 'cancelled':
      return 'Cancelled'
    case 'refused':
      return `Not uploaded: ${state.message}`
    case 'duplicate':
      return `Imported before, on ${formatDateTime(state.existing.createdAt)} (${formatRows(state.existing.rows)}): open that import, or import the file again?`
  }
}

/** " in 5 s", ticking each second, then "…" while the retry is under way. */
function RetryCountdown({ at }: { at: number }) {
  const [now, setNow] = useState(() => Date.now())
  useEffect(() => {
    const timer = setInterval(() => setNow(Date.now()), 1_000)
    return () => clearInterval(timer)
  }, [])
  const seconds = Math.ceil((at - now) / 1000)
  return <>{seconds > 0 ? ` in ${seconds} s` : '…'}</>
}
