'use client'

import Link from 'next/link'
import { useEffect, useId, useRef, useState } from 'react'
import { formatBytes, formatClock, formatCount, formatDuration, formatRows } from '@/lib/format'
import type { ImportDto } from '@/lib/imports/schemas'
import { ExportPanel } from './export-panel'
import { describeImport, UPLOAD_STILL_MS } from './import-description'
import { ImportStatusBadge } from './import-status-badge'
import { allows, IMPORT_COMMANDS, type ImportCommand } from '@/lib/imports/import-status'
import { button, dangerButton as danger, link, neutralButton as neutral, primaryButton as primary } from './styles'
import { useImport, type ImportController } from './use-import'

/**
 * The import of an upload (under way or finished): a bar over the bytes of the file, uploaded
 * and imported, rows imported and rejected, rows per second and time left, the buttons its
 * status allows, and its exports. `onStatus` hears each status the import is seen in.
 */
export function ImportCard({
  uploadId,
  fileName,
  onStatus,
  onChooseAnother,
  onRemoved,
}: {
  uploadId: string
  fileName: string
  onStatus?: (status: ImportDto['status'], failedOn: ImportDto['failedOn']) => void
  onChooseAnother?: () => void
  /** A failed import was removed from its card: the card can go. */
  onRemoved?: () => void
}) {
  const controller = useImport({ uploadId })
  const status = controller.view.phase === 'following' ? controller.view.imp.status : null
  const failedOn = controller.view.phase === 'following' ? controller.view.imp.failedOn : null
  useEffect(() => {
    if (status) onStatus?.(status, failedOn)
  }, [status, failedOn, onStatus])
  return (
    <>
      <ImportProgress controller={controller} fileName={fileName} onChooseAnother={onChooseAnother} onRemoved={onRemoved} />
      {controller.view.phase === 'following' && <ExportPanel imp={controller.view.imp} variant="card" />}
    </>
  )
}

/** What `ImportCard` shows, for a page that follows the import itself (`useImport`). */
export function ImportProgress({
  controller,
  fileName,
  onItsPage = false,
  onChooseAnother,
  onRemoved,
}: {
  controller: ImportController
  fileName: string
  /** On the import's own page: no link to it, no divider from an upload above. */
  onItsPage?: boolean
  /** Opens the file picker, for a file that cannot be imported; without it, a link to the upload page. */
  onChooseAnother?: () => void
  onRemoved?: () => void
}) {
  const { view, command, pending, notice, clockOffsetMs } = controller
  const [confirmingStop, setConfirmingStop] = useState(false)
  // Said when the stop dialog closes by itself: the import ended while it was open.
  const [stopMissed, setStopMissed] = useState<string | null>(null)
  const hintId = useId()
  const card = useRef<HTMLElement>(null)
  const statusLine = useRef<HTMLSpanElement>(null)
  // The button a person used last: the focus goes back to it, or near it when it has gone.
  const usedControl = useRef<HTMLElement | null>(null)
  const status = view.phase === 'following' ? view.imp.status : null
  // Remove was used on a failed import: once it is stopped, its card can go.
  const removing = useRef(false)
  useEffect(() => {
    if (removing.current && status === 'STOPPED') onRemoved?.()
  }, [status, onRemoved])
  const canStop = status !== null && allows(status, 'stop')
  useEffect(() => {
    if (!confirmingStop || canStop) return
    setConfirmingStop(false)
    setStopMissed(`The import ended (${status?.toLowerCase()}) before the stop was confirmed: nothing was removed.`)
  }, [confirmingStop, canStop, status])
  // The focus was lost (the stop dialog closed, Kill went once the import was killed): back to
  // the control a person used, or else the card's first control, or else its status.
  useEffect(() => {
    const used = usedControl.current
    if (!used || confirmingStop) return
    const focused = document.activeElement
    if (focused && focused !== document.body) return // still on a control, or the person moved on
    ;(used.isConnected ? used : (card.current?.querySelector<HTMLElement>('[data-command]') ?? statusLine.current))?.focus()
  }, [status, pending, confirmingStop])
  // When the upload last brought bytes, as this page saw it: a queued import whose file is
  // still arriving waits for a worker; one whose upload stands still waits for the file.
  const bytesUploaded = view.phase === 'following' ? (view.imp.bytesUploaded ?? null) : null
  const [uploadGrewAt, setUploadGrewAt] = useState(0)
  useEffect(() => {
    if (bytesUploaded !== null) setUploadGrewAt(Date.now())
  }, [bytesUploaded])

  if (view.phase === 'finding') {
    return (
      <p className="mt-3 text-sm text-slate-500 dark:text-slate-400" data-testid="import-finding" aria-live="polite">
        Starting the import…
      </p>
    )
  }
  if (view.phase === 'lost') {
    return (
      <p className="mt-3 text-sm text-red-700 dark:text-red-300" role="alert">
        {view.message}
      </p>
    )
  }

  const { imp, rowsPerSecond, secondsLeft } = view
  // aria-disabled, not disabled, while a command is sent: a disabled button would drop the focus.
  const run = (c: ImportCommand) => (e: React.MouseEvent<HTMLElement>) => {
    usedControl.current = e.currentTarget
    if (pending === null && allows(imp.status, c)) void command(c)
  }
  const percent = imp.totalBytes === 0 ? (imp.status === 'PROCESSED' ? 100 : 0) : Math.floor((imp.bytesProcessed / imp.totalBytes) * 1000) / 10
  // The file is still arriving: the bar shows how much of it is on the server, behind what is imported.
  const uploading = imp.bytesUploaded != null && imp.bytesUploaded < imp.totalBytes && !['STOPPED', 'PROCESSED'].includes(imp.status)
  const uploadedPercent = uploading ? Math.floor((imp.bytesUploaded! / imp.totalBytes) * 1000) / 10 : 100
  // The file itself cannot be imported: resume would fail again; what is left is to remove it.
  const failedForGood = imp.status === 'FAILED' && imp.failedOn === 'file'
  const can = (command: ImportCommand) => allows(imp.status, command) && !(failedForGood && command === 'resume')
  const moving = imp.status === 'PROCESSING'
  // A batch session's total is unknown until it finishes: the bar is full and pulses.
  const receiving = imp.status === 'RECEIVING'
  const alsoDoes = imp.uploadId === null ? 'closes the batch session' : 'deletes the uploaded file'
  // From the first batch to the last, pauses included: what the person waited.
  const took =
    imp.status === 'PROCESSED' && imp.startedAt && imp.finishedAt ? (Date.parse(imp.finishedAt) - Date.parse(imp.startedAt)) / 1000 : null

  const cardProps = { ref: card, 'aria-label': `Import of ${fileName}`, 'data-testid': 'import-card', 'data-status': imp.status, 'data-import-id': imp.id }
  // Announced when the status changes, not with every tick of the numbers beside it.
  const announcement = (
    <span className="sr-only" aria-live="polite" data-testid="import-announcement">
      {`Import of ${fileName}: ${STATUS_WORDS[imp.status]}`}
    </span>
  )

  // Done, on a card: one line (status, rows, rejects, time, Details); the page has the rest.
  if (imp.status === 'PROCESSED' && !onItsPage) {
    return (
      <section
        {...cardProps}
        className="mt-3 flex flex-wrap items-center justify-between gap-x-4 gap-y-1 border-t border-slate-200 pt-3 text-sm dark:border-slate-800"
      >
        <p className="flex min-w-0 flex-wrap items-center gap-x-2 gap-y-1 tabular-nums text-slate-700 dark:text-slate-200">
          <ImportStatusBadge status={imp.status} />
          {announcement}
          <span>
            <span data-testid="import-rows" data-value={imp.rowsImported}>
              {formatCount(imp.rowsImported)}
            </span>{' '}
            rows ·{' '}
            <span data-testid="import-rejected" data-value={imp.rowsRejected} className={imp.rowsRejected > 0 ? 'text-amber-800 dark:text-amber-300' : ''}>
              {formatCount(imp.rowsRejected)}
            </span>{' '}
            rejected{took !== null && <> · took <span data-testid="import-took">{formatDuration(took)}</span></>}
          </span>
        </p>
        <Link href={`/imports/${imp.id}`} className={link} aria-label={`Details of the import of ${fileName}`}>
          Details
        </Link>
        {stopMissed && (
          <p role="status" className="basis-full text-slate-700 dark:text-slate-200" data-testid="import-stop-missed">
            {stopMissed}
          </p>
        )}
      </section>
    )
  }

  return (
    <section
      {...cardProps}
      className={onItsPage ? '' : 'mt-3 border-t border-slate-200 pt-3 dark:border-slate-800'}
    >
      <div className="flex flex-wrap items-center justify-between gap-x-4 gap-y-1">
        <div className="flex min-w-0 items-center gap-2">
          <ImportStatusBadge status={imp.status} />
          {announcement}
          <span ref={statusLine} tabIndex={-1} className="min-w-0 text-sm tabular-nums wrap-anywhere text-slate-600 outline-none dark:text-slate-300" data-testid="import-status-line">
            {describeImport(imp, percent, uploading ? { percent: uploadedPercent, arriving: Date.now() - uploadGrewAt < UPLOAD_STILL_MS } : null)}
          </span>
        </div>
        {!onItsPage && (
          <Link
            href={`/imports/${imp.id}`}
            className={`text-sm ${link}`}
          >
            Details
          </Link>
        )}
      </div>

      <div
        role="progressbar"
        aria-label={`Import of ${fileName}`}
        aria-valuemin={0}
        aria-valuemax={100}
        aria-valuenow={receiving ? undefined : percent}
        aria-valuetext={
          receiving
            ? 'Receiving records'
            : `${percent}% of ${formatBytes(imp.totalBytes)} read${uploading ? `, ${uploadedPercent}% uploaded` : ''}`
        }
        className="relative mt-2 h-2 overflow-hidden rounded-full bg-slate-200 dark:bg-slate-800"
      >
        {uploading && (
          <div
            className="absolute inset-y-0 left-0 rounded-full bg-sky-200 transition-[width] dark:bg-sky-900"
            data-testid="import-uploaded-bar"
            style={{ width: `${uploadedPercent}%` }}
          />
        )}
        <div className={`relative h-full rounded-full transition-[width] ${BAR_COLOUR[imp.status]}`} style={{ width: `${receiving ? 100 : percent}%` }} />
      </div>

      <dl className="mt-3 grid grid-cols-2 gap-x-4 gap-y-2 text-sm sm:grid-cols-4">
        <Stat label="Rows imported">
          <span data-testid="import-rows" data-value={imp.rowsImported}>
            {formatCount(imp.rowsImported)}
          </span>
        </Stat>
        <Stat label="Rows rejected">
          <span data-testid="import-rejected" data-value={imp.rowsRejected} className={imp.rowsRejected > 0 ? 'text-amber-700 dark:text-amber-300' : ''}>
            {formatCount(imp.rowsRejected)}
          </span>
        </Stat>
        {took === null ? (
          <>
            <Stat label="Rows per second">
              <span data-testid="import-rate">{moving && rowsPerSecond !== null ? formatCount(rowsPerSecond) : '—'}</span>
            </Stat>
            <Stat label="Time left">
              <span data-testid="import-time-left">{moving && secondsLeft !== null ? formatDuration(secondsLeft) : '—'}</span>
            </Stat>
          </>
        ) : (
          <>
            <Stat label="Rows per second, on average">
              <span data-testid="import-rate">{took > 0 ? formatCount(imp.rowsImported / took) : '—'}</span>
            </Stat>
            <Stat label="Took">
              <span data-testid="import-took">{formatDuration(took)}</span>
            </Stat>
          </>
        )}
      </dl>

      {imp.status === 'PAUSED' && imp.pauseExpiresAt && <PauseCountdown expiresAt={imp.pauseExpiresAt} clockOffsetMs={clockOffsetMs} />}
      {imp.status === 'KILLED' && (
        <p className="mt-2 text-sm text-slate-600 dark:text-slate-300">
          {imp.error ?? `Killed with ${formatRows(imp.rowsImported)} kept.`} Resume continues from where it stopped.
        </p>
      )}
      {imp.error && (imp.status === 'FAILED' || imp.status === 'STOPPED') && (
        <p className="mt-2 text-sm text-red-700 dark:text-red-300" data-testid="import-error">
          {imp.error}
        </p>
      )}
      {notice && (
        <p role="alert" className="mt-2 text-sm text-red-700 dark:text-red-300" data-testid="import-notice">
          {notice}
        </p>
      )}

      {stopMissed && (
        <p role="status" className="mt-2 text-sm text-slate-700 dark:text-slate-200" data-testid="import-stop-missed">
          {stopMissed}
        </p>
      )}

      {IMPORT_COMMANDS.some(can) && (
        <div className="mt-3 flex flex-wrap items-center gap-2">
          {/* One slot for Pause and Resume: the same button, so the focus stays on it when it turns
              (and while a resumed import waits in the queue, where neither can be used). */}
          {can('pause') || imp.status === 'QUEUED' ? (
            <button type="button" data-command className={neutral} aria-label={`Pause import of ${fileName}`} aria-disabled={pending !== null || !can('pause')} onClick={run('pause')}>
              Pause
            </button>
          ) : can('resume') ? (
            <button type="button" data-command className={primary} aria-label={`Resume import of ${fileName}`} aria-disabled={pending !== null} onClick={run('resume')}>
              Resume
            </button>
          ) : null}
          {can('kill') && (
            <button
              type="button"
              data-command
              className={neutral}
              aria-label={`Kill import of ${fileName}, keeping its rows`}
              aria-describedby={hintId}
              aria-disabled={pending !== null}
              onClick={run('kill')}
            >
              Kill · keep rows
            </button>
          )}
          {failedForGood && (
            <button
              type="button"
              data-command
              className={danger}
              aria-label={`Remove the import of ${fileName}`}
              aria-haspopup={imp.rowsImported > 0 ? 'dialog' : undefined}
              aria-disabled={pending !== null}
              onClick={(e) => {
                usedControl.current = e.currentTarget
                if (pending !== null) return
                removing.current = true
                // Nothing to lose but a file that cannot be read: no question asked.
                if (imp.rowsImported > 0) setConfirmingStop(true)
                else void command('stop')
              }}
            >
              {imp.rowsImported > 0 ? 'Remove…' : 'Remove'}
            </button>
          )}
          {failedForGood &&
            (onChooseAnother ? (
              <button type="button" data-command className={primary} onClick={onChooseAnother}>
                Choose another file
              </button>
            ) : (
              <Link href="/" className={primary}>
                Choose another file
              </Link>
            ))}
          {can('stop') && !failedForGood && (
            <button
              type="button"
              data-command
              className={danger}
              aria-label={`Stop import of ${fileName}, removing its rows`}
              aria-describedby={hintId}
              aria-haspopup="dialog"
              aria-disabled={pending !== null}
              onClick={(e) => {
                usedControl.current = e.currentTarget
                setStopMissed(null)
                if (pending === null) setConfirmingStop(true)
              }}
            >
              Stop · remove rows…
            </button>
          )}
          <p id={hintId} className="basis-full text-xs text-slate-600 dark:text-slate-400">
            {failedForGood
              ? `This file cannot be imported as it is. Remove deletes it${imp.rowsImported > 0 ? ' and the rows imported before the error' : ''}; then choose a corrected file.`
              : can('kill')
              ? 'Kill ends the work now and keeps the rows committed so far: Resume finishes it later. Stop removes every row, as if the import never ran.'
              : can('stop')
                ? `Stop removes every row imported so far and ${alsoDoes}.`
                : ''}
          </p>
        </div>
      )}

      {confirmingStop && (
        <StopDialog
          fileName={fileName}
          rows={imp.rowsImported}
          alsoDoes={alsoDoes}
          onCancel={() => {
            removing.current = false
            setConfirmingStop(false)
          }}
          onConfirm={() => {
            setConfirmingStop(false)
            void command('stop')
          }}
        />
      )}
    </section>
  )
}

const STATUS_WORDS: Record<ImportDto['status'], string> = {
  QUEUED: 'queued',
  RECEIVING: 'receiving records',
  PROCESSING: 'importing',
  PAUSED: 'paused',
  PROCESSED: 'done',
  STOPPED: 'stopped, its rows removed',
  KILLED: 'killed, its rows kept',
  FAILED: 'failed',
}

const BAR_COLOUR: Record<ImportDto['status'], string> = {
  QUEUED: 'bg-slate-500 dark:bg-slate-400',
  RECEIVING: 'bg-sky-600 animate-pulse dark:bg-sky-500',
  PROCESSING: 'bg-sky-600 dark:bg-sky-500',
  PAUSED: 'bg-amber-700 dark:bg-amber-500',
  PROCESSED: 'bg-emerald-700 dark:bg-emerald-500',
  STOPPED: 'bg-slate-500 dark:bg-slate-400',
  KILLED: 'bg-orange-700 dark:bg-orange-500',
  FAILED: 'bg-red-600 dark:bg-red-500',
}

function Stat({ label, children }: { label: string; children: React.ReactNode }) {
  return (
    <div className="min-w-0">
      <dt className="text-xs text-slate-500 dark:text-slate-400">{label}</dt>
      <dd className="font-medium tabular-nums">{children}</dd>
    </div>
  )
}

/** How long a paused import has before the pause timeout ends it (as kill does), ticking each second. */
function PauseCountdown({ expiresAt, clockOffsetMs }: { expiresAt: string; clockOffsetMs: number }) {
  // Null until mounted: the server's render and the browser's first one must agree.
  const [now, setNow] = useState<number | null>(null)
  useEffect(() => {
    setNow(Date.now())
    const timer = setInterval(() => setNow(Date.now()), 1_000)
    return () => clearInterval(timer)
  }, [])
  if (now === null) return null
  const left = (Date.parse(expiresAt) - (now + clockOffsetMs)) / 1000
  return (
    <p className="mt-2 text-sm text-amber-800 dark:text-amber-300" data-testid="import-pause-countdown">
      {left > 0 ? (
        <>
          Unless resumed, ends in <span className="font-medium tabular-nums">{formatClock(left)}</span> as kill does: the rows
          imported so far are kept, and resume finishes it later.
        </>
      ) : (
        'The pause timeout is ending this import; its rows are kept…'
      )}
    </p>
  )
}

/** Asks before a stop, which cannot be undone; says how many rows it removes, live. */
function StopDialog({
  fileName,
  rows,
  alsoDoes,
  onCancel,
  onConfirm,
}: {
  fileName: string
  rows: number
  alsoDoes: string
  onCancel: () => void
  onConfirm: () => void
}) {
  const dialog = useRef<HTMLDialogElement>(null)
  const titleId = useId()
  const bodyId = useId()
  useEffect(() => {
    const el = dialog.current
    el?.showModal() // modal: focus moves in, Escape closes, the page behind is inert
    return () => el?.close()
  }, [])
  return (
    <dialog
      ref={dialog}
      aria-labelledby={titleId}
      aria-describedby={bodyId}
      data-testid="stop-dialog"
      onCancel={(e) => {
        e.preventDefault()
        onCancel()
      }}
      className="m-auto w-[min(28rem,calc(100vw-2rem))] rounded-xl border border-slate-200 bg-white p-5 text-slate-900 shadow-xl backdrop:bg-slate-950/50 dark:border-slate-800 dark:bg-slate-900 dark:text-slate-100"
    >
      <h2 id={titleId} className="text-lg font-semibold">
        Stop the import of {fileName}?
      </h2>
      <p id={bodyId} className="mt-2 text-sm text-slate-600 dark:text-slate-300">
        This removes <span className="font-medium tabular-nums text-slate-900 dark:text-slate-100">{formatRows(rows)}</span> and {alsoDoes}. It
        cannot be undone.
      </p>
      <div className="mt-4 flex flex-wrap justify-end gap-2">
        <button type="button" className={neutral} onClick={onCancel} autoFocus>
          Keep the rows
        </button>
        <button type="button" className={`${button} border-red-600 bg-red-600 text-white hover:bg-red-700`} onClick={onConfirm}>
          Stop and remove rows
        </button>
      </div>
    </dialog>
  )
}
