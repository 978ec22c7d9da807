'use client'

import { useId, useState } from 'react'
import { COLUMN_TYPE_LABELS, COLUMN_TYPES, type ColumnType } from '@/lib/csv/column-types'
import { datePattern, type DateFormat } from '@/lib/csv/conventions'
import { formatRows } from '@/lib/format'
import type { ImportDto } from '@/lib/imports/schemas'
import { neutralButton, primaryButton } from './styles'

type Column = ImportDto['columns'][number]
type Thousands = '' | '.' | ',' | ' ' | "'"

const THOUSANDS_CHOICES: Array<{ value: Thousands; label: string }> = [
  { value: '', label: 'none' },
  { value: '.', label: 'dot (1.234)' },
  { value: ',', label: 'comma (1,234)' },
  { value: ' ', label: 'space (1 234)' },
  { value: "'", label: "apostrophe (1'234)" },
]

// Dates as files write them, for a text column of dates the sniffer did not type; ISO needs no format.
const DATE_WRITINGS: Array<{ label: string; date: DateFormat | null }> = [
  { label: 'YYYY-MM-DD (ISO)', date: null },
  ...(['DMY', 'MDY'] as const).flatMap((order) =>
    (['.', '/', '-'] as const).flatMap((separator) =>
      ([4, 2] as const).map((yearDigits) => {
        const date = { order, separator, yearDigits, padded: true, time: '' as const }
        return { label: datePattern(date), date }
      }),
    ),
  ),
]

const input =
  'rounded-md border border-slate-300 bg-white px-2 py-1 text-sm text-slate-900 focus-visible:outline-2 focus-visible:outline-offset-2 focus-visible:outline-sky-600 dark:border-slate-700 dark:bg-slate-950 dark:text-slate-100'

type RetypeAnswer = { import: ImportDto; converted: number; rejected: number } | { error: string }

/** PATCH /api/imports/:id/columns/:column, answered as the change's result or the message to show. */
export async function retypeColumn(importId: string, column: string, body: { type: ColumnType; format?: object }): Promise<RetypeAnswer> {
  const res = await fetch(`/api/imports/${importId}/columns/${encodeURIComponent(column)}`, {
    method: 'PATCH',
    headers: { 'Content-Type': 'application/json' },
    body: JSON.stringify(body),
  }).catch(() => null)
  const answer = res ? ((await res.json().catch(() => null)) as { import?: ImportDto; converted?: number; rejected?: number; error?: { message: string } } | null) : null
  if (!res?.ok || !answer?.import) return { error: answer?.error?.message ?? 'The server could not be reached: nothing was changed. Try again.' }
  return { import: answer.import, converted: answer.converted ?? 0, rejected: answer.rejected ?? 0 }
}

/**
 * Changes a column's type from the import's page: the type, how numbers are written (decimal
 * and thousands separators) or dates (day or month first, their separator and year), and a
 * marker for missing values. Values that do not fit become
 * rejects with their line; the answer says how many.
 */
export function ColumnTypeForm({ importId, column, onRetyped }: { importId: string; column: Column; onRetyped: (imp: ImportDto) => Promise<void> }) {
  const [open, setOpen] = useState(false)
  const [type, setType] = useState<ColumnType>(column.type === 'text' ? 'numeric' : 'text')
  const [decimal, setDecimal] = useState<'.' | ','>(column.format?.number?.decimal ?? '.')
  const [thousands, setThousands] = useState<Thousands>((column.format?.number?.thousands as Thousands | undefined) ?? '')
  const [missing, setMissing] = useState(column.format?.missing ?? '')
  const [dateWriting, setDateWriting] = useState(0) // in DATE_WRITINGS
  const [time, setTime] = useState<'HH:MM' | 'HH:MM:SS'>('HH:MM:SS')
  const [busy, setBusy] = useState(false)
  const [message, setMessage] = useState<{ text: string; error: boolean } | null>(null)
  const ids = { type: useId(), decimal: useId(), thousands: useId(), missing: useId(), date: useId(), time: useId(), form: useId() }
  const numbers = type === 'numeric' || type === 'bigint'
  const dates = type === 'date' || type === 'timestamptz'
  const date = dates ? DATE_WRITINGS[dateWriting]!.date : null

  const submit = async () => {
    setBusy(true)
    setMessage(null)
    const format = {
      ...(numbers && (decimal !== '.' || thousands !== '') ? { number: { decimal, thousands, plus: false } } : {}),
      ...(date ? { date: { ...date, time: type === 'timestamptz' ? time : '' } } : {}),
      ...(missing ? { missing } : {}),
    }
    const answer = await retypeColumn(importId, column.name, { type, ...(Object.keys(format).length ? { format } : {}) })
    setBusy(false)
    if ('error' in answer) {
      setMessage({ text: answer.error, error: true })
      return
    }
    const { rejected } = answer
    setMessage({ text: `Now ${COLUMN_TYPE_LABELS[type]}: ${rejected ? `${formatRows(rejected)} did not fit, set aside with ${rejected === 1 ? 'its line' : 'their lines'} among the rejects` : 'every value fit'}.`, error: false })
    setOpen(false)
    await onRetyped(answer.import)
  }

  return (
    <span className="mt-1 block">
      <button type="button" className={`${neutralButton} text-xs`} aria-expanded={open} aria-controls={ids.form} onClick={() => setOpen((o) => !o)}>
        Change type of {column.header}
      </button>
      {message && (
        <span role={message.error ? 'alert' : 'status'} className={`mt-1 block text-xs ${message.error ? 'text-red-700 dark:text-red-300' : 'text-emerald-800 dark:text-emerald-300'}`}>
          {message.text}
        </span>
      )}
      {open && (
        <span id={ids.form} className="mt-2 flex flex-wrap items-end gap-3" data-testid="column-type-form">
          <span className="flex flex-col gap-1">
            <label htmlFor={ids.type}>Type</label>
            <select id={ids.type} className={input} value={type} onChange={(e) => setType(e.target.value as ColumnType)}>
              {COLUMN_TYPES.map((t) => (
                <option key={t} value={t}>
                  {COLUMN_TYPE_LABELS[t]}
                </option>
              ))}
            </select>
          </span>
          {numbers && (
            <>
              <span className="flex flex-col gap-1">
                <label htmlFor={ids.decimal}>Decimal separator</label>
                <select id={ids.decimal} className={input} value={decimal} onChange={(e) => setDecimal(e.target.value as '.' | ',')}>
                  <option value=".">point (1.5)</option>
                  <option value=",">comma (1,5)</option>
                </select>
              </span>
              <span className="flex flex-col gap-1">
                <label htmlFor={ids.thousands}>Thousands separator</label>
                <select id={ids.thousands} className={input} value={thousands} onChange={(e) => setThousands(e.target.value as Thousands)}>
                  {THOUSANDS_CHOICES.filter((c) => c.value !== decimal).map((c) => (
                    <option key={c.label} value={c.value}>
                      {c.label}
                    </option>
                  ))}
                </select>
              </span>
            </>
          )}
          {dates && (
            <span className="flex flex-col gap-1">
              <label htmlFor={ids.date}>Dates written</label>
              <select id={ids.date} className={input} value={dateWriting} onChange={(e) => setDateWriting(Number(e.target.value))}>
                {DATE_WRITINGS.map((w, i) => (
                  <option key={w.label} value={i}>
                    {w.label}
                  </option>
                ))}
              </select>
            </span>
          )}
          {date && type === 'timestamptz' && (
            <span className="flex flex-col gap-1">
              <label htmlFor={ids.time}>Time written</label>
              <select id={ids.time} className={input} value={time} onChange={(e) => setTime(e.target.value as 'HH:MM' | 'HH:MM:SS')}>
                <option value="HH:MM:SS">HH:MM:SS</option>
                <option value="HH:MM">HH:MM</option>
              </select>
            </span>
          )}
          <span className="flex flex-col gap-1">
            <label htmlFor={ids.missing}>Missing values written as</label>
            <input id={ids.missing} className={`${input} w-24`} value={missing} placeholder="N/A" onChange={(e) => setMissing(e.target.value)} />
          </span>
          <button type="button" className={primaryButton} disabled={busy} onClick={() => void submit()}>
            Change
          </button>
        </span>
      )}
    </span>
  )
}
