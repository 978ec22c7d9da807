'use client'

import { useEffect, useId, useState } from 'react'
import { findDateColumns } from '@/lib/date-columns'
import type { ImportDto, RowsPage } from '@/lib/imports/schemas'
import type { ExportPreview } from '@/lib/exports/schemas'
import { formatRows } from '@/lib/format'
import { primaryButton } from './styles'
import type { ExportRequest } from './use-exports'
import { describeFormat } from '@/lib/csv/conventions'
import type { ExportFormat } from '@/lib/exports/export-format'

// Rows looked at to tell date columns from others: enough to meet the odd non-date value,
// few enough to come back at once.
const SAMPLE_ROWS = 200

type Column = ImportDto['columns'][number]
/** The date columns: null while the sample loads. */
type DateColumns = { columns: Column[] } | { failed: string } | null

const input =
  'rounded-md border border-slate-300 bg-white px-2 py-1 text-sm text-slate-900 focus-visible:outline-2 focus-visible:outline-offset-2 focus-visible:outline-sky-600 disabled:opacity-40 dark:border-slate-700 dark:bg-slate-950 dark:text-slate-100'
const hint = 'text-xs text-slate-500 dark:text-slate-400'

/** Samples the import's first rows (again while it has fewer than the sample) for its date columns. */
function useDateColumns(imp: ImportDto): DateColumns {
  const [found, setFound] = useState<DateColumns>(null)
  const sampled = Math.min(imp.rowsImported, SAMPLE_ROWS)
  useEffect(() => {
    const abort = new AbortController()
    fetch(`/api/imports/${imp.id}/rows?limit=${SAMPLE_ROWS}`, { signal: abort.signal, cache: 'no-store' })
      .then(async (res) => {
        if (!res.ok) throw new Error(`the server answered ${res.status}`)
        const page = (await res.json()) as RowsPage
        setFound({ columns: findDateColumns(page.columns, page.rows) })
      })
      .catch((error: unknown) => {
        if (!abort.signal.aborted) setFound({ failed: error instanceof Error ? error.message : String(error) })
      })
    return () => abort.abort()
  }, [imp.id, sampled, imp.columns.length])
  return found
}

// A range is counted once its typing pauses this long, not at every keystroke.
const PREVIEW_DELAY_MS = 250

type Range = { column?: string; from?: string; to?: string }
/** The preview of the range: null while it is counted. */
type Preview = ExportPreview | { failed: string } | null

/**
 * How many rows an export of the range writes, and the days its column spans. Counted again
 * when the import's status changes (it finishes), not at every tick of its row count: a count
 * over a large table is a scan.
 */
function useExportPreview(imp: ImportDto, range: Range | null): Preview {
  const [preview, setPreview] = useState<Preview>(null)
  const query = range ? new URLSearchParams(Object.entries(range).filter((e): e is [string, string] => e[1] !== undefined && e[1] !== '')).toString() : null
  useEffect(() => {
    if (query === null) return
    setPreview(null)
    const abort = new AbortController()
    const timer = setTimeout(() => {
      fetch(`/api/imports/${imp.id}/export-preview?${query}`, { signal: abort.signal, cache: 'no-store' })
        .then(async (res) => {
          const body = (await res.json().catch(() => null)) as ExportPreview | { error?: { message: string } } | null
          if (res.ok && body && 'rows' in body) setPreview(body)
          else setPreview({ failed: (body as { error?: { message: string } } | null)?.error?.message ?? `the server answered ${res.status}` })
        })
        .catch((error: unknown) => {
          if (!abort.signal.aborted) setPreview({ failed: error instanceof Error ? error.message : String(error) })
        })
    }, PREVIEW_DELAY_MS)
    return () => {
      clearTimeout(timer)
      abort.abort()
    }
  }, [imp.id, query, imp.status])
  return preview
}

const FORMAT_CHOICES: Array<{ format: ExportFormat; label: string; hint: string }> = [
  { format: 'standard', label: 'Standard CSV', hint: 'UTF-8, commas, dates as 2024-01-31 and numbers as 1234.56: what databases and scripts read.' },
  { format: 'as-written', label: 'As the file was written', hint: '' },
  { format: 'excel', label: 'For Excel', hint: 'UTF-8 with a byte-order mark and Windows line endings, so that Excel shows accents and symbols as they are.' },
]

const DELIMITER_NAMES: Record<string, string> = { ',': 'commas', ';': 'semicolons', '\t': 'tabs', '|': 'pipes' }

/** The file's own way of writing, in a line: "Windows-1252, semicolons, 1.234,56, 31.01.2024". */
function describeWritten(imp: ImportDto): string {
  if (!imp.dialect) return 'Not for a batch session: its records came without a file.'
  const conventions = imp.columns.flatMap((c) => (c.format ? [describeFormat(c.format).replace(/^written /, '')] : []))
  return `Its encoding (${imp.dialect.encoding}${imp.dialect.bom ? ' with a byte-order mark' : ''}), ${DELIMITER_NAMES[imp.dialect.delimiter]}, line endings${conventions.length ? `, ${[...new Set(conventions)].join(', ')}` : ''}: the file again.`
}

/** What to export: all rows or a date range on one date column, its format, and formula protection (on unless unticked). */
export function ExportForm({ id, imp, busy, onSubmit }: { id: string; imp: ImportDto; busy: boolean; onSubmit: (request: ExportRequest) => void }) {
  const dates = useDateColumns(imp)
  const dateColumns = dates && 'columns' in dates ? dates.columns : []
  const [scope, setScope] = useState<'all' | 'range'>('all')
  const [column, setColumn] = useState<string | null>(null)
  const [from, setFrom] = useState('')
  const [to, setTo] = useState('')
  const [protect, setProtect] = useState(true)
  const [format, setFormat] = useState<ExportFormat>('standard')
  const ids = { scope: useId(), why: useId(), column: useId(), from: useId(), to: useId(), rangeCheck: useId(), protectHint: useId(), format: useId(), preview: useId() }

  // The chosen column while it is still a date column; otherwise the first one.
  const chosen = dateColumns.find((c) => c.name === column) ?? dateColumns[0] ?? null
  const ranged = scope === 'range' && chosen !== null
  // Checked as it is typed: an end after the other is refused before anything is counted.
  const reversed = ranged && from !== '' && to !== '' && from > to
  const preview = useExportPreview(imp, reversed ? null : ranged ? { column: chosen.name, from, to } : {})
  const span = preview && 'column' in preview ? preview.column : undefined
  const outside =
    ranged && span?.first && span.last && ((from !== '' && from > span.last) || (to !== '' && to < span.first))
      ? `The range lies outside the column's dates, which run from ${span.first} to ${span.last}.`
      : null
  const rowsToWrite = preview && 'rows' in preview && !reversed ? preview.rows : null
  const nothing = rowsToWrite === 0
  const why =
    dates === null
      ? 'Looking for date columns in the first rows…'
      : 'failed' in dates
        ? `The rows could not be read to find date columns (${dates.failed}).`
        : dateColumns.length === 0
          ? `No column holds only dates in the first ${SAMPLE_ROWS} rows, so there is no range to choose.`
          : null

  return (
    <form
      id={id}
      aria-label="Export rows"
      className="mt-2 flex flex-col gap-3 text-sm"
      onSubmit={(e) => {
        e.preventDefault()
        onSubmit(
          ranged
            ? { column: chosen.name, ...(from && { from }), ...(to && { to }), protectFormulas: protect, format }
            : { protectFormulas: protect, format },
        )
      }}
    >
      {imp.status !== 'PROCESSED' && (
        <p className="text-amber-800 dark:text-amber-300" data-testid="export-partial-note">
          This import is {imp.status.toLowerCase()}: an export now holds only the rows imported so far, and its file name ends in
          _partial.
        </p>
      )}
      <fieldset className="flex flex-col gap-1.5">
        <legend className="mb-1 font-medium">Rows</legend>
        <label className="flex items-center gap-2">
          <input type="radio" name={ids.scope} value="all" checked={!ranged} onChange={() => setScope('all')} />
          All rows
        </label>
        <label className={`flex items-center gap-2 ${why ? 'text-slate-400 dark:text-slate-500' : ''}`}>
          <input
            type="radio"
            name={ids.scope}
            value="range"
            checked={ranged}
            disabled={chosen === null}
            aria-describedby={why ? ids.why : undefined}
            onChange={() => setScope('range')}
          />
          A date range
        </label>
        {why && (
          <p id={ids.why} className={hint} data-testid="export-range-unavailable">
            {why}
          </p>
        )}
        {ranged && (
          <div className="mt-1 flex flex-wrap items-start gap-3 pl-6">
            <div className="flex flex-col gap-1">
              <label htmlFor={ids.column}>Date column</label>
              <select id={ids.column} className={input} value={chosen.name} onChange={(e) => setColumn(e.target.value)}>
                {dateColumns.map((c) => (
                  <option key={c.name} value={c.name}>
                    {c.header}
                  </option>
                ))}
              </select>
            </div>
            <RangeEnd id={ids.from} label="From" value={from} onChange={setFrom} span={span} invalid={reversed} describedBy={ids.rangeCheck} />
            <RangeEnd id={ids.to} label="To" value={to} onChange={setTo} span={span} invalid={reversed} describedBy={ids.rangeCheck} />
            <p id={ids.rangeCheck} className={`${hint} basis-full`} data-testid="export-range-check" aria-live="polite">
              {reversed ? (
                <span className="text-red-700 dark:text-red-300">From is after To: swap them, or change one.</span>
              ) : outside ? (
                <span className="text-amber-800 dark:text-amber-300">{outside}</span>
              ) : (
                `Both days are included. Leave one empty for no limit on that side.${span?.first && span.last ? ` The column's dates run from ${span.first} to ${span.last}.` : ''}`
              )}
            </p>
          </div>
        )}
      </fieldset>

      <fieldset className="flex flex-col gap-1.5" data-testid="export-format">
        <legend className="mb-1 font-medium">Format</legend>
        {FORMAT_CHOICES.map((choice) => (
          <label key={choice.format} className={`flex items-start gap-2 ${choice.format === 'as-written' && !imp.dialect ? 'text-slate-400 dark:text-slate-500' : ''}`}>
            <input
              type="radio"
              className="mt-1"
              name={ids.format}
              value={choice.format}
              checked={format === choice.format}
              disabled={choice.format === 'as-written' && !imp.dialect}
              onChange={() => setFormat(choice.format)}
            />
            <span>
              {choice.label}
              <span className={`block ${hint}`}>{choice.format === 'as-written' ? describeWritten(imp) : choice.hint}</span>
            </span>
          </label>
        ))}
      </fieldset>

      <div className="flex flex-col gap-1">
        <label className="flex items-center gap-2">
          <input type="checkbox" checked={protect} onChange={(e) => setProtect(e.target.checked)} aria-describedby={ids.protectHint} />
          Protect against spreadsheet formulas
        </label>
        <p id={ids.protectHint} className={`${hint} pl-6`}>
          Values that start with = + - or @ get a &apos; in front, so a spreadsheet shows them instead of running them.
        </p>
      </div>

      <div className="flex flex-wrap items-center gap-3">
        <button
          type="submit"
          className={primaryButton}
          data-testid="export-button"
          disabled={busy || reversed || nothing}
          aria-describedby={ids.preview}
        >
          Export
        </button>
        <p id={ids.preview} className={nothing ? 'text-amber-800 dark:text-amber-300' : hint} data-testid="export-preview" aria-live="polite">
          {reversed
            ? ''
            : preview === null
              ? 'Counting the rows…'
              : 'failed' in preview
                ? `The rows could not be counted (${preview.failed}).`
                : nothing
                  ? ranged
                    ? 'No row falls in this range: there is nothing to export.'
                    : 'The import has no rows yet: there is nothing to export.'
                  : `Writes ${formatRows(preview.rows)}.`}
        </p>
      </div>
    </form>
  )
}

/** One end of the range: a day, offered inside the column's span. */
function RangeEnd(props: {
  id: string
  label: string
  value: string
  onChange: (day: string) => void
  span: ExportPreview['column']
  invalid: boolean
  describedBy: string
}) {
  return (
    <div className="flex flex-col gap-1">
      <label htmlFor={props.id}>{props.label}</label>
      <input
        id={props.id}
        type="date"
        className={input}
        value={props.value}
        min={props.span?.first ?? undefined}
        max={props.span?.last ?? undefined}
        aria-invalid={props.invalid || undefined}
        aria-describedby={props.describedBy}
        onChange={(e) => props.onChange(e.target.value)}
      />
    </div>
  )
}
