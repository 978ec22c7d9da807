'use client'

import { useRouter } from 'next/navigation'
import { useEffect, useRef, useState } from 'react'
import { formatBytes, formatCount, formatDateTime } from '@/lib/format'
import { COLUMN_TYPE_LABELS } from '@/lib/csv/column-types'
import { describeFormat } from '@/lib/csv/conventions'
import type { ImportDto, RejectDto, RowsPage } from '@/lib/imports/schemas'
import type { Dialect } from '@/lib/csv/sniff'
import { ColumnTypeForm, retypeColumn } from './column-type-form'
import { deleteImportAfterAsking } from './delete-import'
import { ExportPanel } from './export-panel'
import { ImportProgress } from './import-card'
import { LoadPanel } from './load-panel'
import { PREVIEW_ROWS, REJECTS_SHOWN } from './import-limits'
import { dangerButton, neutralButton } from './styles'
import { useImport } from './use-import'


const card = 'rounded-xl border border-slate-200 bg-white p-4 shadow-sm dark:border-slate-800 dark:bg-slate-900'
const th = 'border-b border-slate-200 px-3 py-2 text-left font-medium whitespace-nowrap dark:border-slate-800'
const td = 'border-b border-slate-100 px-3 py-1.5 align-top dark:border-slate-800/60'

/**
 * One import's page below its title: live progress and controls, where its rows are in SQL,
 * its exports, its columns, a preview of its first rows and its rejected lines. Starts from
 * what the server rendered and follows the import while it runs.
 */
export function ImportDetail({ initial, rows: firstRows, rejects: firstRejects }: { initial: ImportDto; rows: RowsPage; rejects: RejectDto[] }) {
  const controller = useImport({ initial })
  // A column's type changed on this page: the import as that change answered it.
  const [retyped, setRetyped] = useState<ImportDto | null>(null)
  const followed = controller.view.phase === 'following' ? controller.view.imp : initial
  const imp = retyped ?? followed
  // A finished file import's columns can change type (a batch session's get theirs when it opens).
  const retypable = imp.status === 'PROCESSED' && imp.dialect !== null
  // After a type change: its answer, and the preview and rejects read again.
  const onRetyped = async (answer: ImportDto) => {
    setRetyped(answer)
    const [page, rejected] = await Promise.all([
      fetch(`/api/imports/${answer.id}/rows?limit=${PREVIEW_ROWS}`, { cache: 'no-store' }).then((r) => (r.ok ? (r.json() as Promise<RowsPage>) : null)),
      fetch(`/api/imports/${answer.id}/rejects?limit=${REJECTS_SHOWN}`, { cache: 'no-store' }).then((r) => (r.ok ? (r.json() as Promise<{ rejects: RejectDto[] }>) : null)),
    ])
    if (page) setRows(page)
    if (rejected) setRejects(rejected.rejects)
  }
  // Failed before its first row: the error and what to do are all there is to show.
  const failedEmpty = imp.status === 'FAILED' && imp.rowsImported === 0
  const [rows, setRows] = useState(firstRows)
  const [rejects, setRejects] = useState(firstRejects)

  // The preview fills up while the first rows arrive, and empties when a stop removes them;
  // the rejects grow up to what is shown. Each change of what is wanted loads it once.
  const wantedRows = imp.status === 'STOPPED' ? 0 : Math.min(imp.rowsImported, PREVIEW_ROWS)
  const wantedRejects = Math.min(imp.rowsRejected, REJECTS_SHOWN)
  const columns = imp.columns.length ? imp.columns : rows.columns
  const shown = useRef({ rows: firstRows.rows.length, columns: firstRows.columns.length, rejects: firstRejects.length })
  shown.current = { rows: rows.rows.length, columns: rows.columns.length, rejects: rejects.length }

  useEffect(() => {
    if (shown.current.rows === wantedRows && shown.current.columns === imp.columns.length) return
    const abort = new AbortController()
    fetch(`/api/imports/${imp.id}/rows?limit=${PREVIEW_ROWS}`, { signal: abort.signal, cache: 'no-store' })
      .then((res) => (res.ok ? (res.json() as Promise<RowsPage>) : null))
      .then((page) => page && setRows(page))
      .catch(() => {}) // the next change of the counts tries again
    return () => abort.abort()
  }, [imp.id, wantedRows, imp.columns.length])

  useEffect(() => {
    if (shown.current.rejects === wantedRejects) return
    const abort = new AbortController()
    fetch(`/api/imports/${imp.id}/rejects?limit=${REJECTS_SHOWN}`, { signal: abort.signal, cache: 'no-store' })
      .then((res) => (res.ok ? (res.json() as Promise<{ rejects: RejectDto[] }>) : null))
      .then((page) => page && setRejects(page.rejects))
      .catch(() => {})
    return () => abort.abort()
  }, [imp.id, wantedRejects])

  return (
    <div className="flex flex-col gap-6" data-testid="import-detail" data-status={imp.status}>
      <section className={card} aria-label="Progress">
        <ImportProgress controller={controller} fileName={initial.fileName} onItsPage />
        <dl className="mt-4 grid grid-cols-1 gap-x-6 gap-y-2 text-sm sm:grid-cols-4">
          <Fact label="Table">
            <code className="font-mono break-all" data-testid="import-table-name">
              {imp.tableName}
            </code>
          </Fact>
          <Fact label="Takes">
            {initial.storage ? (
              <span data-testid="import-storage">
                {formatBytes(initial.storage.tableBytes)} in the database · {initial.uploadId === null ? 'no file' : initial.storage.fileBytes ? `${formatBytes(initial.storage.fileBytes)} file` : 'file deleted'}
              </span>
            ) : (
              '—'
            )}
          </Fact>
          <Fact label="Created">
            <time dateTime={imp.createdAt} suppressHydrationWarning>
              {formatDateTime(imp.createdAt)}
            </time>
          </Fact>
          <Fact label="Finished">
            {imp.finishedAt ? (
              <time dateTime={imp.finishedAt} suppressHydrationWarning>
                {formatDateTime(imp.finishedAt)}
              </time>
            ) : (
              '—'
            )}
          </Fact>
        </dl>
        {imp.status !== 'STOPPED' && !failedEmpty && (
          <p className="mt-3 text-sm text-slate-600 dark:text-slate-300">
            Query it in SQL:{' '}
            <code className="rounded bg-slate-100 px-1.5 py-0.5 font-mono text-xs break-all dark:bg-slate-800">
              SELECT * FROM {imp.tableName} ORDER BY {imp.fileOrder};
            </code>
          </p>
        )}
      </section>

      {!failedEmpty && (
        <>
          <ExportPanel imp={imp} variant="page" />

          <LoadPanel imp={imp} />

          <section aria-labelledby="columns-heading" className={card}>
            <h2 id="columns-heading" className="font-semibold">
              Columns <span className="font-normal text-slate-500 dark:text-slate-400">({columns.length})</span>
            </h2>
            {imp.dialect && <DialectFacts dialect={imp.dialect} />}
            {columns.length === 0 ? (
              <p className="mt-2 text-sm text-slate-500 dark:text-slate-400">Known once the header line has been read.</p>
            ) : (
              <div className="mt-2 overflow-x-auto">
                <table className="w-full text-sm" data-testid="import-columns">
                  <thead>
                    <tr>
                      <th scope="col" className={th}>
                        Column in the table
                      </th>
                      <th scope="col" className={th}>
                        Header in the file
                      </th>
                      <th scope="col" className={th}>
                        Type
                      </th>
                      {retypable && (
                        <th scope="col" className={th}>
                          Change
                        </th>
                      )}
                    </tr>
                  </thead>
                  <tbody>
                    {columns.map((c) => (
                      <tr key={c.name} data-testid="import-column">
                        <td className={`${td} font-mono`}>{c.name}</td>
                        <td className={td}>{c.header}</td>
                        <td className={td} data-testid="import-column-type">
                          {COLUMN_TYPE_LABELS[c.type]}{' '}
                          <code className="font-mono text-xs text-slate-500 dark:text-slate-400">{c.type}</code>{' '}
                          {c.format && (
                            <span className="block text-xs text-slate-600 dark:text-slate-400" data-testid="import-column-format">
                              {describeFormat(c.format)}
                            </span>
                          )}
                          {c.dateReadings && (
                            <span className="block text-xs text-amber-800 dark:text-amber-300" data-testid="import-column-readings">
                              Dates kept as text: no day in the file&apos;s start is above 12, so they read either day first (03.04 is 3 April) or month first (4 March)
                            </span>
                          )}
                        </td>
                        {retypable && (
                          <td className={td}>
                            {c.dateReadings && c.dateShape && <DateReadings importId={imp.id} column={c} onRetyped={onRetyped} />}
                            <ColumnTypeForm importId={imp.id} column={c} onRetyped={onRetyped} />
                          </td>
                        )}
                      </tr>
                    ))}
                  </tbody>
                </table>
              </div>
            )}
          </section>

          <section aria-labelledby="preview-heading" className={card}>
            <h2 id="preview-heading" className="font-semibold">
              First rows{' '}
              <span className="font-normal text-slate-500 dark:text-slate-400">
                ({formatCount(rows.rows.length)} of {formatCount(imp.rowsImported)})
              </span>
            </h2>
            {rows.rows.length === 0 ? (
              <p className="mt-2 text-sm text-slate-500 dark:text-slate-400" data-testid="import-preview-empty">
                {imp.status === 'STOPPED' ? 'The import was stopped: its rows were removed.' : 'No rows yet.'}
              </p>
            ) : (
              <div className="mt-2 max-h-[32rem] overflow-auto rounded-lg border border-slate-200 dark:border-slate-800">
                <table className="w-full text-sm" data-testid="import-preview">
                  <thead className="sticky top-0 bg-slate-50 dark:bg-slate-950">
                    <tr>
                      {rows.columns.map((c) => (
                        <th key={c.name} scope="col" className={`${th} font-mono`} title={`Header in the file: ${c.header}`}>
                          {c.name}
                        </th>
                      ))}
                    </tr>
                  </thead>
                  <tbody className="tabular-nums">
                    {rows.rows.map((row, i) => (
                      <tr key={i} className="hover:bg-slate-50 dark:hover:bg-slate-800/40">
                        {rows.columns.map((c) => {
                          const value = row[c.name] ?? null
                          return (
                            <td key={c.name} className={`${td} max-w-[24rem] truncate whitespace-nowrap`} title={value ?? 'NULL'}>
                              {value === null ? <span className="text-slate-500 italic dark:text-slate-400">null</span> : value}
                            </td>
                          )
                        })}
                      </tr>
                    ))}
                  </tbody>
                </table>
              </div>
            )}
          </section>

          <section aria-labelledby="rejects-heading" className={card} data-testid="import-rejects">
            <h2 id="rejects-heading" className="font-semibold">
              Rejected lines <span className="font-normal text-slate-500 dark:text-slate-400">({formatCount(imp.rowsRejected)})</span>
            </h2>
            {rejects.length === 0 ? (
              <p className="mt-2 text-sm text-slate-500 dark:text-slate-400">None: every record fit the table&apos;s columns.</p>
            ) : (
              <>
                <div className="mt-2 overflow-x-auto">
                  <table className="w-full text-sm">
                    <thead>
                      <tr>
                        <th scope="col" className={`${th} text-right`}>
                          Line
                        </th>
                        <th scope="col" className={th}>
                          Reason
                        </th>
                        <th scope="col" className={th}>
                          Record
                        </th>
                      </tr>
                    </thead>
                    <tbody>
                      {rejects.map((r) => (
                        <tr key={r.line} data-testid="import-reject">
                          <td className={`${td} text-right tabular-nums`}>{formatCount(r.line)}</td>
                          <td className={`${td} sm:whitespace-nowrap`}>{r.reason}</td>
                          <td className={`${td} min-w-48`}>
                            <pre className="font-mono text-xs break-all whitespace-pre-wrap">{r.record}</pre>
                          </td>
                        </tr>
                      ))}
                    </tbody>
                  </table>
                </div>
                <p className="mt-2 flex flex-wrap items-center gap-x-3 text-xs text-slate-500 dark:text-slate-400">
                  {imp.rowsRejected > rejects.length && (
                    <span>
                      The first {formatCount(rejects.length)} of {formatCount(imp.rowsRejected)}.
                    </span>
                  )}
                  <a
                    href={`/api/imports/${imp.id}/rejects.csv`}
                    download
                    className="font-medium text-sky-700 underline-offset-2 hover:underline dark:text-sky-400"
                    data-testid="rejects-download"
                  >
                    Download all {formatCount(imp.rowsRejected)} as CSV (line, reason, record)
                  </a>
                </p>
              </>
            )}
          </section>
        </>
      )}

      <DeleteImport imp={imp} />
    </div>
  )
}

/**
 * Deletes the import for good, after a confirmation that names what goes: its table, its
 * uploaded file and its exports. Then back to the list, where it is no longer.
 */
function DeleteImport({ imp }: { imp: ImportDto }) {
  const router = useRouter()
  const [pending, setPending] = useState(false)
  const [error, setError] = useState<string | null>(null)
  async function remove() {
    setPending(true)
    setError(null)
    const answer = await deleteImportAfterAsking(imp)
    if (answer === 'deleted') {
      router.push('/')
      router.refresh()
      return
    }
    if (answer !== 'kept') setError(answer.error)
    setPending(false)
  }
  return (
    <section aria-labelledby="delete-heading" className={card}>
      <h2 id="delete-heading" className="font-semibold">
        Delete this import
      </h2>
      <p className="mt-1 text-sm text-slate-600 dark:text-slate-300">
        Removes its table <code className="font-mono text-xs break-all">{imp.tableName}</code>, its uploaded file and its exports. There is no undo.
      </p>
      <button type="button" className={`${dangerButton} mt-3`} disabled={pending} onClick={() => void remove()}>
        {pending ? 'Deleting…' : 'Delete import…'}
      </button>
      {error && (
        <p className="mt-2 text-sm text-red-700 dark:text-red-300" role="alert">
          {error}
        </p>
      )}
    </section>
  )
}

const ENCODING_LABELS: Record<Dialect['encoding'], string> = {
  'utf-8': 'UTF-8',
  'utf-16le': 'UTF-16 (little-endian)',
  'utf-16be': 'UTF-16 (big-endian)',
  'windows-1252': 'Windows-1252',
}
const DELIMITER_LABELS: Record<Dialect['delimiter'], string> = { ',': 'comma', ';': 'semicolon', '\t': 'tab', '|': 'pipe' }
const NEWLINE_LABELS: Record<Dialect['newline'], string> = { '\n': 'LF', '\r\n': 'CRLF', '\r': 'CR' }

/**
 * The two readings of a column of dates the sample could not order, as buttons: the chosen one
 * turns the column into dates (values that do not fit it become rejects with their line).
 */
function DateReadings({ importId, column, onRetyped }: { importId: string; column: ImportDto['columns'][number]; onRetyped: (imp: ImportDto) => Promise<void> }) {
  const [busy, setBusy] = useState(false)
  const [message, setMessage] = useState<string | null>(null)
  const read = async (order: 'DMY' | 'MDY') => {
    setBusy(true)
    setMessage(null)
    const shape = column.dateShape!
    const answer = await retypeColumn(importId, column.name, { type: shape.time ? 'timestamptz' : 'date', format: { date: { order, ...shape } } })
    setBusy(false)
    if ('error' in answer) {
      setMessage(answer.error)
      return
    }
    await onRetyped(answer.import)
  }
  return (
    <span className="mt-1 flex flex-wrap gap-2" data-testid="import-column-reading-choices">
      <button type="button" className={neutralButton} disabled={busy} onClick={() => void read('DMY')} aria-label={`Read ${column.header} day first`}>
        Day first
      </button>
      <button type="button" className={neutralButton} disabled={busy} onClick={() => void read('MDY')} aria-label={`Read ${column.header} month first`}>
        Month first
      </button>
      {message && (
        <span role="alert" className="basis-full text-red-700 dark:text-red-300">
          {message}
        </span>
      )}
    </span>
  )
}

/** What the sniffer found in the file's first bytes, as a person reads it. */
function DialectFacts({ dialect }: { dialect: Dialect }) {
  const quote = dialect.quote === '"' ? 'double quotes' : 'single quotes'
  const escape = dialect.escape === '\\' ? 'backslash' : `doubled (${dialect.quote}${dialect.quote})`
  return (
    <dl className="mt-2 mb-3 grid grid-cols-2 gap-x-6 gap-y-2 text-sm sm:grid-cols-5" data-testid="import-dialect">
      <Fact label="Encoding">
        {ENCODING_LABELS[dialect.encoding]}
        {dialect.bom > 0 && ' with BOM'}
      </Fact>
      <Fact label="Delimiter">{DELIMITER_LABELS[dialect.delimiter]}</Fact>
      <Fact label="Quotes">
        {quote}, escaped {escape}
      </Fact>
      <Fact label="Line endings">{NEWLINE_LABELS[dialect.newline]}</Fact>
      <Fact label="Header">{dialect.header ? 'first line' : 'none: columns named by position'}</Fact>
      {dialect.dateOrder && <Fact label="Dates">{dialect.dateOrder === 'DMY' ? 'day before month' : 'month before day'}</Fact>}
    </dl>
  )
}

function Fact({ label, children }: { label: string; children: React.ReactNode }) {
  return (
    <div className="min-w-0">
      <dt className="text-xs text-slate-500 dark:text-slate-400">{label}</dt>
      <dd>{children}</dd>
    </div>
  )
}
