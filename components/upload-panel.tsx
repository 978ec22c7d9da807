'use client'

import { useEffect, useMemo, useRef, useState } from 'react'
import { formatBytes } from '@/lib/format'
import { EarlierImports } from './earlier-imports'
import { UploadCard } from './upload-card'
import { neutralButton, primaryButton } from './styles'
import { useUploads, type UploadItem } from './use-uploads'

/** The drop zone, one card per file (an upload, then its import), and the imports of earlier visits. */
/** `viewerEmail`: the signed-in person, whose own imports the list shows without a name. */
/** `maxUploadBytes`: the server's limit, said in the drop zone and checked before a file is sent. */
export function UploadPanel({ viewerEmail, maxUploadBytes }: { viewerEmail: string; maxUploadBytes: number }) {
  const { items, earlier, add, importAgain, retryNow, pause, resume, cancel, endStopped, dismiss, discard } = useUploads(maxUploadBytes, viewerEmail)
  const input = useRef<HTMLInputElement>(null)
  const [dragging, setDragging] = useState(false)
  // Set once the page's drop listeners are on and React handles clicks: before that, a drop
  // opens the file in place of the page, and a click on "Choose files…" does nothing.
  const [ready, setReady] = useState(false)
  const liveUploadIds = useMemo(
    () => new Set(items.flatMap((it) => (it.uploadId ? [it.uploadId] : []))),
    [items],
  )

  const moving = items.filter(isMoving)

  const choose = (files: FileList | null | undefined) => {
    if (files?.length) void add(Array.from(files))
  }

  // The whole page takes the drop: a file dropped beside the zone would otherwise make the
  // browser open it in place of the page, and every upload on the page would stop.
  useEffect(() => {
    const carriesFiles = (e: DragEvent) => e.dataTransfer?.types.includes('Files') ?? false
    const over = (e: DragEvent) => {
      if (!carriesFiles(e)) return
      e.preventDefault()
      setDragging(true)
    }
    const leave = (e: DragEvent) => {
      if (e.relatedTarget === null) setDragging(false) // left the window, not just a child element
    }
    const drop = (e: DragEvent) => {
      if (!carriesFiles(e)) return
      e.preventDefault()
      setDragging(false)
      if (e.dataTransfer?.files.length) void add(Array.from(e.dataTransfer.files))
    }
    window.addEventListener('dragover', over)
    window.addEventListener('dragleave', leave)
    window.addEventListener('drop', drop)
    setReady(true)
    return () => {
      window.removeEventListener('dragover', over)
      window.removeEventListener('dragleave', leave)
      window.removeEventListener('drop', drop)
    }
  }, [add])

  return (
    <section className="flex flex-col gap-4" aria-label="Uploads">
      <div
        data-testid="drop-zone"
        data-ready={ready}
        className={`flex flex-col items-center gap-3 rounded-xl border-2 border-dashed px-6 py-10 text-center transition-colors ${
          dragging
            ? 'border-sky-500 bg-sky-50 dark:bg-sky-950'
            : 'border-slate-300 bg-white dark:border-slate-700 dark:bg-slate-900'
        }`}
      >
        <p className="text-lg font-medium">{dragging ? 'Drop to upload' : 'Drop CSV files here'}</p>
        <p className="text-sm text-slate-500 dark:text-slate-400">One or many, up to {formatBytes(maxUploadBytes)} each. Or</p>
        <button
          type="button"
          onClick={() => input.current?.click()}
          className="rounded-lg bg-sky-700 px-4 py-2 font-medium text-white hover:bg-sky-800 focus-visible:outline-2 focus-visible:outline-offset-2 focus-visible:outline-sky-700"
        >
          Choose files…
        </button>
        <input
          ref={input}
          type="file"
          multiple
          accept=".csv,.tsv,.txt,text/csv,text/plain"
          className="sr-only"
          tabIndex={-1}
          aria-label="CSV files to upload"
          data-testid="file-input"
          onChange={(e) => {
            choose(e.target.files)
            e.target.value = '' // so choosing the same file again fires `change` again
          }}
        />
      </div>

      {earlier.length > 0 && (
        <section
          aria-labelledby="earlier-heading"
          data-testid="earlier-uploads"
          className="rounded-xl border border-amber-300 bg-amber-50 p-4 text-sm dark:border-amber-800 dark:bg-amber-950"
        >
          <h2 id="earlier-heading" className="font-medium">
            Unfinished uploads from an earlier visit
          </h2>
          <p className="mt-1 text-slate-600 dark:text-slate-300">Choose the same file again to continue where it stopped.</p>
          <ul className="mt-2 flex flex-col gap-1">
            {earlier.map((e) => (
              <li key={e.urlStorageKey} className="flex flex-wrap items-center justify-between gap-2">
                <span className="min-w-0 truncate">
                  {e.metadata.filename ?? 'unnamed file'}
                  {e.size !== null && <span className="text-slate-500 dark:text-slate-400"> · {formatBytes(e.size)}</span>}
                </span>
                <span className="flex gap-2">
                  <button
                    type="button"
                    onClick={() => input.current?.click()}
                    aria-label={`Resume the upload of ${e.metadata.filename ?? 'unnamed file'}: choose the file again`}
                    className="rounded-md border border-sky-600 px-2 py-1 text-xs font-medium text-sky-700 focus-visible:outline-2 focus-visible:outline-offset-2 focus-visible:outline-sky-600 dark:text-sky-300"
                  >
                    Resume…
                  </button>
                  <button
                    type="button"
                    onClick={() => void discard(e)}
                    aria-label={`Discard the unfinished upload of ${e.metadata.filename ?? 'unnamed file'}`}
                    className="rounded-md border border-slate-300 px-2 py-1 text-xs font-medium focus-visible:outline-2 focus-visible:outline-offset-2 focus-visible:outline-sky-600 dark:border-slate-700"
                  >
                    Discard
                  </button>
                </span>
              </li>
            ))}
          </ul>
        </section>
      )}

      {moving.length >= 2 && (
        <OverallProgress
          items={moving}
          onPauseAll={() => moving.forEach((it) => it.state.phase !== 'paused' && pause(it.key))}
          onResumeAll={() => items.forEach((it) => it.state.phase === 'paused' && resume(it.key))}
        />
      )}

      {items.length > 0 && (
        <ul className="flex flex-col gap-3">
          {items.map((item) => (
            <li key={item.key}>
              <UploadCard
                item={item}
                onPause={() => pause(item.key)}
                onResume={() => resume(item.key)}
                onCancel={() => void cancel(item.key)}
                onImportStopped={() => endStopped(item.key)}
                onDismiss={() => dismiss(item.key)}
                onChooseAnother={() => input.current?.click()}
                onImportAgain={() => importAgain(item.key)}
                onRetryNow={() => void retryNow(item.key)}
              />
            </li>
          ))}
        </ul>
      )}

      <EarlierImports liveUploadIds={liveUploadIds} viewerEmail={viewerEmail} />
    </section>
  )
}

const isMoving = (it: UploadItem) => ['starting', 'uploading', 'paused', 'retrying'].includes(it.state.phase)

/** Several files going up at once: one bar over all of them, and Pause all / Resume all, as Uppy's Dashboard has. */
function OverallProgress({ items, onPauseAll, onResumeAll }: { items: UploadItem[]; onPauseAll: () => void; onResumeAll: () => void }) {
  const size = items.reduce((n, it) => n + it.size, 0)
  const sent = items.reduce((n, it) => n + ('sent' in it.state ? it.state.sent : 0), 0)
  const percent = size === 0 ? 100 : Math.floor((sent / size) * 1000) / 10
  const anyUploading = items.some((it) => it.state.phase === 'uploading' || it.state.phase === 'starting' || it.state.phase === 'retrying')
  const anyPaused = items.some((it) => it.state.phase === 'paused')
  return (
    <section aria-label="All uploads" data-testid="overall-progress" className="rounded-xl border border-slate-200 bg-white p-4 shadow-sm dark:border-slate-800 dark:bg-slate-900">
      <div className="flex flex-wrap items-center justify-between gap-x-4 gap-y-2 text-sm">
        <p className="tabular-nums text-slate-700 dark:text-slate-200" data-testid="overall-status">
          {items.length} files · {percent}% of {formatBytes(size)}
        </p>
        <div className="flex gap-2">
          {anyUploading && (
            <button type="button" className={neutralButton} onClick={onPauseAll}>
              Pause all
            </button>
          )}
          {anyPaused && (
            <button type="button" className={primaryButton} onClick={onResumeAll}>
              Resume all
            </button>
          )}
        </div>
      </div>
      <div
        role="progressbar"
        aria-label="All uploads"
        aria-valuemin={0}
        aria-valuemax={100}
        aria-valuenow={percent}
        className="mt-2 h-2 overflow-hidden rounded-full bg-slate-200 dark:bg-slate-800"
      >
        <div className="h-full rounded-full bg-sky-600 transition-[width] dark:bg-sky-500" style={{ width: `${percent}%` }} />
      </div>
    </section>
  )
}
