'use client'

import { useId, useState } from 'react'
import type { ExportDto } from '@/lib/exports/schemas'
import { formatBytes, formatCount, formatDateTime, formatDuration, formatRows } from '@/lib/format'
import type { ImportDto } from '@/lib/imports/schemas'
import { ExportForm } from './export-form'
import { dangerButton, link, neutralButton } from './styles'
import { isUnsettled, useExports, type ExportsController } from './use-exports'

type Variant = 'card' | 'page'

/**
 * Export an import's rows: all of them or a date range, with or without formula protection;
 * the running export's progress with Stop, its download link when done, and the earlier
 * exports whose files can still be downloaded. On a card the form opens on request.
 * Nothing is shown while the import has no rows to export (stopped, or no header read yet).
 */
export function ExportPanel({ imp, variant }: { imp: ImportDto; variant: Variant }) {
  if (imp.status === 'STOPPED' || imp.columns.length === 0) return null
  return <ExportSection imp={imp} variant={variant} />
}

function ExportSection({ imp, variant }: { imp: ImportDto; variant: Variant }) {
  const exportsOf = useExports(imp.id)
  const { current, exports, downloadable, start, stop, pending, notice } = exportsOf
  const [open, setOpen] = useState(variant === 'page')
  const headingId = useId()
  const formId = useId()
  const Heading = variant === 'card' ? 'h3' : 'h2'
  const earlier = (exports ?? []).filter((e) => e.id !== current?.exp.id && downloadable(e))
  const running = current !== null && isUnsettled(current.exp)

  return (
    <section
      aria-labelledby={headingId}
      data-testid="export-panel"
      className={
        variant === 'card'
          ? 'mt-3 border-t border-slate-200 pt-3 dark:border-slate-800'
          : 'rounded-xl border border-slate-200 bg-white p-4 shadow-sm dark:border-slate-800 dark:bg-slate-900'
      }
    >
      <div className="flex flex-wrap items-center justify-between gap-2">
        <Heading id={headingId} className={variant === 'card' ? 'text-sm font-medium' : 'font-semibold'}>
          Export
        </Heading>
        {variant === 'card' && (
          <button
            type="button"
            className={neutralButton}
            aria-label={`Export rows of ${imp.fileName}`}
            aria-expanded={open}
            aria-controls={formId}
            onClick={() => setOpen((o) => !o)}
          >
            Export rows <span aria-hidden>{open ? '▴' : '▾'}</span>
          </button>
        )}
      </div>

      {open && (
        <ExportForm
          id={formId}
          imp={imp}
          busy={pending !== null || running}
          onSubmit={async (request) => {
            const created = await start(request)
            if (created && variant === 'card') setOpen(false) // the card makes room for the progress
          }}
        />
      )}

      {notice && (
        <p role="alert" className="mt-2 text-sm text-red-700 dark:text-red-300" data-testid="export-notice">
          {notice}
        </p>
      )}
      {current && <ExportRun run={current} columns={imp.columns} downloadable={downloadable(current.exp)} stopping={pending === 'stop'} onStop={stop} />}
      {earlier.length > 0 && <EarlierExports exports={earlier} columns={imp.columns} level={variant === 'card' ? 'h4' : 'h3'} />}
    </section>
  )
}

const BAR_COLOUR: Record<ExportDto['status'], string> = {
  QUEUED: 'bg-slate-500 dark:bg-slate-400',
  PROCESSING: 'bg-sky-600 dark:bg-sky-500',
  PROCESSED: 'bg-emerald-700 dark:bg-emerald-500',
  STOPPED: 'bg-slate-500 dark:bg-slate-400',
  FAILED: 'bg-red-600 dark:bg-red-500',
  EXPIRED: 'bg-slate-500 dark:bg-slate-400',
}

/** The export this page follows: a bar over the rows that match, rate, time left, Stop, and the link. */
function ExportRun({
  run: { exp, rowsPerSecond, secondsLeft },
  columns,
  downloadable,
  stopping,
  onStop,
}: {
  run: NonNullable<ExportsController['current']>
  columns: ImportDto['columns']
  downloadable: boolean
  stopping: boolean
  onStop: () => void
}) {
  const percent =
    exp.status === 'PROCESSED' ? 100 : exp.rowsTotal ? Math.min(100, Math.floor((exp.rowsWritten / exp.rowsTotal) * 1000) / 10) : 0
  const moving = exp.status === 'PROCESSING'

  return (
    <div className="mt-3" data-testid="export-progress" data-status={exp.status} data-export-id={exp.id}>
      <p className="text-sm tabular-nums text-slate-600 dark:text-slate-300" aria-live="polite">
        {describe(exp)} <span className="text-slate-500 dark:text-slate-400">· {scopeOf(exp, columns)}</span>
      </p>
      <div
        role="progressbar"
        aria-label={`Export of ${exp.fileName}`}
        aria-valuemin={0}
        aria-valuemax={100}
        aria-valuenow={percent}
        aria-valuetext={exp.rowsTotal === null ? `${percent}%` : `${percent}% of ${formatRows(exp.rowsTotal)} written`}
        className="mt-2 h-2 overflow-hidden rounded-full bg-slate-200 dark:bg-slate-800"
      >
        <div className={`h-full rounded-full transition-[width] ${BAR_COLOUR[exp.status]}`} style={{ width: `${percent}%` }} />
      </div>

      {isUnsettled(exp) && (
        <div className="mt-2 flex flex-wrap items-center justify-between gap-x-4 gap-y-2 text-sm">
          <p className="tabular-nums text-slate-600 dark:text-slate-300">
            <span data-testid="export-rate">{moving && rowsPerSecond !== null ? `${formatCount(rowsPerSecond)} rows/s` : '— rows/s'}</span>
            {' · '}
            <span data-testid="export-time-left">{moving && secondsLeft !== null ? `${formatDuration(secondsLeft)} left` : '— left'}</span>
          </p>
          <button type="button" className={dangerButton} data-testid="export-stop" aria-label="Stop export" disabled={stopping} onClick={onStop}>
            Stop
          </button>
        </div>
      )}

      {exp.status === 'PROCESSED' &&
        (downloadable ? (
          <p className="mt-2 text-sm">
            <DownloadLink exp={exp} />
            <span className="mt-1 block text-xs text-slate-500 dark:text-slate-400">
              Kept until {formatDateTime(exp.expiresAt!)}. If the download breaks off, resume it from the browser&apos;s downloads.
            </span>
          </p>
        ) : (
          <p className="mt-2 text-sm text-slate-500 dark:text-slate-400">This file has expired and was deleted; export again.</p>
        ))}
      {exp.error && (
        <p className="mt-2 text-sm text-red-700 dark:text-red-300" data-testid="export-error">
          {exp.error}
        </p>
      )}
    </div>
  )
}

function describe(exp: ExportDto): string {
  switch (exp.status) {
    case 'QUEUED':
      return 'Waiting for a worker…'
    case 'PROCESSING':
      return exp.rowsTotal === null ? 'Counting the rows…' : `${formatCount(exp.rowsWritten)} of ${formatRows(exp.rowsTotal)} written`
    case 'PROCESSED':
      return `${formatRows(exp.rowsWritten)} exported`
    case 'STOPPED':
      return 'Stopped: the partial file was deleted'
    case 'FAILED':
      return 'Failed'
    case 'EXPIRED':
      return 'Expired'
  }
}

/**
 * "All rows" or "Day 2024-03-10 to 2024-03-20", and whether formulas were defused; an export of
 * an unfinished import says it holds only the rows imported so far.
 */
function scopeOf(exp: ExportDto, columns: ImportDto['columns']): string {
  const header = columns.find((c) => c.name === exp.column)?.header ?? exp.column
  const soFar = exp.rowsTotal === null ? 'the rows imported so far' : `the ${formatRows(exp.rowsTotal)} imported so far`
  const range = `${header} ${exp.from ?? 'any date'} to ${exp.to ?? 'any date'}`
  const rows = exp.column === null ? (exp.partial ? soFar : 'all rows') : exp.partial ? `${range}, of ${soFar}` : range
  const format = exp.format === 'as-written' ? ', as the file was written' : exp.format === 'excel' ? ', for Excel' : ''
  return `${rows}${format}${exp.protectFormulas ? ', formulas protected' : ''}`
}

/** The finished file: its name and size, as a plain link, so the browser can resume it. */
function DownloadLink({ exp }: { exp: ExportDto }) {
  return (
    <>
      <a href={exp.downloadUrl!} download={exp.fileName} className={`break-all ${link}`} data-testid="export-download">
        {exp.fileName} <span className="font-normal tabular-nums text-slate-500 dark:text-slate-400">({formatBytes(exp.bytesWritten)})</span>
      </a>{' '}
      <ShareLink exp={exp} />
    </>
  )
}

/**
 * "Copy link": a link to this one file that works without signing in, for someone else, until
 * the file expires or the link is revoked here.
 */
function ShareLink({ exp }: { exp: ExportDto }) {
  const [linkUrl, setLinkUrl] = useState(exp.linkUrl)
  const [state, setState] = useState<'idle' | 'busy' | 'copied' | 'failed'>('idle')
  // The page's own origin: the link is relative (rendered in the browser only, after the list loads).
  const absolute = linkUrl && (typeof window === 'undefined' ? linkUrl : new URL(linkUrl, window.location.href).href)
  async function call(method: 'POST' | 'DELETE') {
    setState('busy')
    const res = await fetch(`/api/exports/${exp.id}/link`, { method, cache: 'no-store' }).catch(() => null)
    if (!res?.ok) return setState('failed')
    const updated = (await res.json()) as ExportDto
    setLinkUrl(updated.linkUrl)
    if (method === 'DELETE' || !updated.linkUrl) return setState('idle')
    const copied = await navigator.clipboard?.writeText(new URL(updated.linkUrl, window.location.href).href).then(() => true, () => false)
    setState(copied ? 'copied' : 'idle')
  }
  return (
    <span className="inline-flex flex-wrap items-center gap-2">
      <button type="button" className={neutralButton} onClick={() => call('POST')} disabled={state === 'busy'} data-testid="export-copy-link">
        {state === 'copied' ? 'Link copied' : 'Copy link'}
      </button>
      {absolute && (
        <>
          <input readOnly value={absolute} aria-label={`Download link of ${exp.fileName}`} data-testid="export-link" className="w-64 rounded border border-slate-300 px-2 py-1 text-xs dark:border-slate-700 dark:bg-slate-900" onFocus={(e) => e.currentTarget.select()} />
          <button type="button" className={dangerButton} onClick={() => call('DELETE')} disabled={state === 'busy'}>
            Revoke link
          </button>
        </>
      )}
      {state === 'failed' && <span className="text-red-700 dark:text-red-300">The link could not be made: try again.</span>}
    </span>
  )
}

function EarlierExports({ exports, columns, level: Heading }: { exports: ExportDto[]; columns: ImportDto['columns']; level: 'h3' | 'h4' }) {
  const headingId = useId()
  return (
    <section aria-labelledby={headingId} data-testid="earlier-exports" className="mt-4">
      <Heading id={headingId} className="text-sm font-medium">
        Earlier exports
      </Heading>
      <ul className="mt-1 divide-y divide-slate-200 text-sm dark:divide-slate-800">
        {exports.map((exp) => (
          <li key={exp.id} data-testid="earlier-export" data-export-id={exp.id} className="flex flex-wrap items-baseline gap-x-3 gap-y-1 py-2">
            <span className="min-w-0 flex-1 basis-48">
              <DownloadLink exp={exp} />
            </span>
            <span className="text-slate-600 dark:text-slate-300">
              {formatRows(exp.rowsWritten)} · {scopeOf(exp, columns)}
            </span>
            <span className="tabular-nums text-slate-500 dark:text-slate-400">until {formatDateTime(exp.expiresAt!)}</span>
          </li>
        ))}
      </ul>
    </section>
  )
}
