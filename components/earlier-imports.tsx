'use client'

import Link from 'next/link'
import { useEffect, useRef, useState } from 'react'
import { formatDateTime, formatRows } from '@/lib/format'
import type { ImportDto } from '@/lib/imports/schemas'
import { deleteImportAfterAsking } from './delete-import'
import { ImportStatusBadge } from './import-status-badge'
import { dangerButton } from './styles'

// Unsettled imports in the list (someone else's tab, a worker elsewhere) refresh this often;
// the list is a summary, so slower than a live card.
const REFRESH_INTERVAL_MS = 2_000
// Shown before "Show all": the list is a look back, not the page's main business.
const FIRST_SHOWN = 10

const UNSETTLED: readonly ImportDto['status'][] = ['QUEUED', 'RECEIVING', 'PROCESSING', 'PAUSED']

/**
 * Imports that existed when the page was opened, newest first, each with a link to its page.
 * Those of uploads on a live card (`liveUploadIds`) are left out: the card shows them.
 */
export function EarlierImports({ liveUploadIds, viewerEmail }: { liveUploadIds: ReadonlySet<string>; viewerEmail: string }) {
  // Null until the first answer, which fixes which imports count as earlier ones.
  const [imports, setImports] = useState<ImportDto[] | null>(null)
  const [showAll, setShowAll] = useState(false)
  const [failed, setFailed] = useState(false)
  const [deleteError, setDeleteError] = useState<string | null>(null)
  const [deletedAny, setDeletedAny] = useState(false)
  const heading = useRef<HTMLHeadingElement>(null)

  const unsettled = imports?.some((i) => UNSETTLED.includes(i.status)) ?? true
  const [tick, setTick] = useState(0)

  useEffect(() => {
    if (!unsettled) return
    const abort = new AbortController()
    const timer = setTimeout(
      async () => {
        try {
          const res = await fetch('/api/imports', { signal: abort.signal, cache: 'no-store' })
          if (!res.ok) throw new Error(`The server answered ${res.status}`)
          const { imports: all } = (await res.json()) as { imports: ImportDto[] }
          setFailed(false)
          setImports((earlier) => {
            if (earlier === null) return all
            const now = new Map(all.map((i) => [i.id, i]))
            return earlier.map((i) => now.get(i.id) ?? i)
          })
        } catch {
          if (abort.signal.aborted) return
          setFailed(true)
        }
        setTick((t) => t + 1)
      },
      tick === 0 ? 0 : REFRESH_INTERVAL_MS,
    )
    return () => {
      abort.abort()
      clearTimeout(timer)
    }
  }, [unsettled, tick])

  const shown = (imports ?? []).filter((i) => i.uploadId === null || !liveUploadIds.has(i.uploadId))
  // Once a person deleted one here, the list stays, empty or not: the focus went to its heading.
  if (shown.length === 0 && !deletedAny) {
    return failed && imports === null ? (
      <p className="text-sm text-red-700 dark:text-red-300" role="alert">
        Earlier imports could not be loaded.
      </p>
    ) : null
  }
  const visible = showAll ? shown : shown.slice(0, FIRST_SHOWN)

  return (
    <section aria-labelledby="earlier-imports-heading" data-testid="earlier-imports" className="flex flex-col gap-2">
      <h2 id="earlier-imports-heading" ref={heading} tabIndex={-1} className="text-lg font-semibold outline-none">
        Earlier imports
      </h2>
      {deleteError && (
        <p role="alert" className="text-sm text-red-700 dark:text-red-300">
          {deleteError}
        </p>
      )}
      {shown.length === 0 ? <p className="text-sm text-slate-600 dark:text-slate-300">None left.</p> : null}
      {visible.length > 0 && (
        <ul className="divide-y divide-slate-200 rounded-xl border border-slate-200 bg-white shadow-sm dark:divide-slate-800 dark:border-slate-800 dark:bg-slate-900">
          {visible.map((imp) => (
            <li key={imp.id} data-testid="earlier-import" data-status={imp.status} className="flex flex-wrap items-center gap-x-3 gap-y-1 px-4 py-3 text-sm">
              <Link
                href={`/imports/${imp.id}`}
                className="min-w-0 flex-1 basis-40 truncate font-medium text-sky-700 underline-offset-2 hover:underline focus-visible:outline-2 focus-visible:outline-offset-2 focus-visible:outline-sky-600 dark:text-sky-300"
                title={imp.fileName}
              >
                {imp.fileName}
              </Link>
              {/* An admin sees everyone's imports: whose each one is, unless it is theirs. */}
              {imp.owner && imp.owner.email !== viewerEmail && (
                <span data-testid="import-owner" className="text-slate-600 dark:text-slate-300" title={imp.owner.email}>
                  {imp.owner.name}
                </span>
              )}
              <ImportStatusBadge status={imp.status} />
              <span className="tabular-nums text-slate-600 sm:w-28 sm:text-right dark:text-slate-300">{formatRows(imp.rowsImported)}</span>
              <time dateTime={imp.createdAt} className="tabular-nums text-slate-600 sm:w-32 sm:text-right dark:text-slate-400">
                {formatDateTime(imp.createdAt)}
              </time>
              <button
                type="button"
                className={`${dangerButton} px-2 py-1 text-xs`}
                aria-label={`Delete the import of ${imp.fileName}…`}
                onClick={async () => {
                  setDeleteError(null)
                  const answer = await deleteImportAfterAsking(imp)
                  if (answer === 'deleted') {
                    setImports((all) => all && all.filter((i) => i.id !== imp.id))
                    setDeletedAny(true)
                    heading.current?.focus() // the row and its button are gone
                  } else if (answer !== 'kept') setDeleteError(`${imp.fileName}: ${answer.error}`)
                }}
              >
                Delete…
              </button>
            </li>
          ))}
        </ul>
      )}
      {shown.length > visible.length && (
        <button
          type="button"
          onClick={() => setShowAll(true)}
          className="self-start rounded-md px-2 py-1 text-sm font-medium text-sky-700 focus-visible:outline-2 focus-visible:outline-offset-2 focus-visible:outline-sky-600 dark:text-sky-300"
        >
          Show all {shown.length}
        </button>
      )}
    </section>
  )
}
