'use client'

import { useEffect, useId, useState } from 'react'
import { formatCount, formatDuration } from '@/lib/format'
import type { ImportDto } from '@/lib/imports/schemas'
import type { z } from 'zod'
import type { CheckResult, LeftOutSchema, LoadDto, LoadMode, MappingSuggestion, TargetListSchema } from '@/lib/loads/schemas'
import { dangerButton, errorText, input, label, neutralButton, primaryButton } from './styles'

const card = 'rounded-xl border border-slate-200 bg-white p-4 shadow-sm dark:border-slate-800 dark:bg-slate-900'
const th = 'border-b border-slate-200 px-2 py-1.5 text-left font-medium whitespace-nowrap dark:border-slate-800'
const td = 'border-b border-slate-100 px-2 py-1.5 align-top dark:border-slate-800/60'

type Table = z.infer<typeof TargetListSchema>['tables'][number]
type LeftOut = z.infer<typeof LeftOutSchema>['leftOut'][number]

async function api<T>(url: string, init?: RequestInit): Promise<T> {
  const res = await fetch(url, { cache: 'no-store', ...init })
  const body = (await res.json().catch(() => null)) as (T & { error?: { message?: string } }) | null
  if (!res.ok) throw new Error(body?.error?.message ?? `The server answered ${res.status}`)
  return body as T
}
const post = (body: unknown): RequestInit => ({ method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify(body) })

const MODE_LABELS: Record<LoadMode, string> = {
  append: 'Append: insert every row',
  upsert: 'Upsert: update the rows whose key is in the table, insert the rest',
  replace: "Replace: empty the table, then insert every row (one step)",
}

/**
 * "Load into a table…" on a processed import's page: pick a table you may write, map its
 * columns to the file's, choose how, check what it would do, then load it in one transaction
 * with progress and Stop.
 */
export function LoadPanel({ imp }: { imp: ImportDto }) {
  const [open, setOpen] = useState(false)
  const [search, setSearch] = useState('')
  const [tables, setTables] = useState<Table[] | null>(null)
  const [table, setTable] = useState('')
  const [suggestion, setSuggestion] = useState<MappingSuggestion | null>(null)
  const [mapping, setMapping] = useState<Record<string, string>>({})
  const [mode, setMode] = useState<LoadMode>('append')
  const [key, setKey] = useState('')
  const [duplicates, setDuplicates] = useState<'first' | 'last'>('last')
  const [misfits, setMisfits] = useState<'leave-out' | 'block'>('leave-out')
  const [check, setCheck] = useState<CheckResult | null>(null)
  const [load, setLoad] = useState<LoadDto | null>(null)
  const [leftOut, setLeftOut] = useState<LeftOut[]>([])
  const [busy, setBusy] = useState(false)
  const [error, setError] = useState<string | null>(null)
  const ids = useId()

  useEffect(() => {
    if (!open) return
    const timer = setTimeout(() => {
      api<{ tables: Table[] }>(`/api/load-targets?search=${encodeURIComponent(search)}`).then((r) => setTables(r.tables), (e: Error) => setError(e.message))
    }, 200)
    return () => clearTimeout(timer)
  }, [open, search])

  useEffect(() => {
    setSuggestion(null)
    setCheck(null)
    if (!table) return
    api<MappingSuggestion>(`/api/imports/${imp.id}/loads/mapping?table=${encodeURIComponent(table)}`).then(
      (s) => {
        setSuggestion(s)
        setMapping(Object.fromEntries(s.mapping.map((m) => [m.column, m.source ?? ''])))
        setKey(s.target.keys.find((k) => k.primary)?.name ?? s.target.keys[0]?.name ?? '')
      },
      (e: Error) => setError(e.message),
    )
  }, [imp.id, table])

  // A running load is followed until it ends; then its left-out rows are read.
  useEffect(() => {
    if (!load || !['QUEUED', 'PROCESSING'].includes(load.status)) return
    const timer = setTimeout(() => {
      api<LoadDto>(`/api/loads/${load.id}`).then(async (next) => {
        setLoad(next)
        if (next.status === 'PROCESSED' && next.rowsLeftOut > 0) setLeftOut((await api<{ leftOut: LeftOut[] }>(`/api/loads/${next.id}/left-out?limit=100`)).leftOut)
      }, (e: Error) => setError(e.message))
    }, 300)
    return () => clearTimeout(timer)
  }, [load])

  if (imp.status !== 'PROCESSED') return null

  const request = () => {
    const [schema, ...rest] = table.split('.')
    const chosenKey = suggestion?.target.keys.find((k) => k.name === key)
    return {
      table: { schema, name: rest.join('.') },
      mapping: Object.fromEntries(Object.entries(mapping).map(([column, source]) => [column, source || null])),
      mode,
      ...(mode === 'upsert' && chosenKey && { key: chosenKey.columns }),
      duplicates,
      misfits,
    }
  }
  async function run(action: () => Promise<void>) {
    setBusy(true)
    setError(null)
    try {
      await action()
    } catch (e) {
      setError(e instanceof Error ? e.message : String(e))
    } finally {
      setBusy(false)
    }
  }
  const onCheck = () => run(async () => setCheck(await api<CheckResult>(`/api/imports/${imp.id}/loads/check`, post(request()))))
  const onLoad = () =>
    run(async () => {
      setLeftOut([])
      setLoad(await api<LoadDto>(`/api/imports/${imp.id}/loads`, post(request())))
    })
  const onStop = () => load && run(async () => setLoad(await api<LoadDto>(`/api/loads/${load.id}/stop`, { method: 'POST' })))
  const changed = (f: () => void) => {
    f()
    setCheck(null)
  }

  const used = new Set(Object.values(mapping).filter(Boolean))
  const skipped = imp.columns.filter((c) => !used.has(c.name))
  const running = load !== null && ['QUEUED', 'PROCESSING'].includes(load.status)

  return (
    <section aria-labelledby={`${ids}-heading`} className={card} data-testid="load-panel">
      <h2 id={`${ids}-heading`} className="font-semibold">
        Load into a table
      </h2>
      {!open ? (
        <>
          <p className="mt-1 text-sm text-slate-600 dark:text-slate-300">Put these rows into a table you already have: mapped, checked first, all or nothing.</p>
          <button type="button" className={`${primaryButton} mt-3`} onClick={() => setOpen(true)}>
            Load into a table…
          </button>
        </>
      ) : (
        <div className="mt-3 flex flex-col gap-4">
          <div className="grid gap-3 sm:grid-cols-2">
            <label className={label}>
              Find a table
              <input className={input} type="search" value={search} onChange={(e) => setSearch(e.target.value)} placeholder="name or schema" />
            </label>
            <label className={label}>
              Table
              <select className={input} value={table} onChange={(e) => changed(() => setTable(e.target.value))} data-testid="load-table">
                <option value="">{tables === null ? 'Loading…' : tables.length ? 'Choose a table' : 'No table you may load into'}</option>
                {tables?.map((t) => (
                  <option key={`${t.schema}.${t.name}`} value={`${t.schema}.${t.name}`}>
                    {t.schema}.{t.name} (about {formatCount(t.rowsEstimate)} rows)
                  </option>
                ))}
              </select>
            </label>
          </div>

          {suggestion && (
            <>
              <div className="overflow-x-auto">
                <table className="w-full text-sm" data-testid="load-mapping">
                  <thead>
                    <tr>
                      <th scope="col" className={th}>Column of {table}</th>
                      <th scope="col" className={th}>Type</th>
                      <th scope="col" className={th}>Rules</th>
                      <th scope="col" className={th}>From the file</th>
                    </tr>
                  </thead>
                  <tbody>
                    {suggestion.target.columns.map((c) => {
                      const how = suggestion.mapping.find((m) => m.column === c.name)
                      const rules = [c.key === 'primary' ? 'primary key' : c.key === 'unique' ? 'unique' : null, c.notNull ? 'NOT NULL' : null, c.default ? `default ${c.default}` : null]
                      return (
                        <tr key={c.name} data-testid="load-mapping-row" data-column={c.name}>
                          <td className={`${td} font-mono`}>{c.name}</td>
                          <td className={`${td} font-mono text-xs`}>{c.type}</td>
                          <td className={`${td} text-xs text-slate-600 dark:text-slate-300`}>{rules.filter(Boolean).join(' · ') || '—'}</td>
                          <td className={td}>
                            {c.generated ? (
                              <span className="text-xs text-slate-500">written by the database</span>
                            ) : (
                              <span className="flex items-center gap-2">
                                <select
                                  className={`${input} py-1`}
                                  aria-label={`File column for ${c.name}`}
                                  value={mapping[c.name] ?? ''}
                                  onChange={(e) => changed(() => setMapping({ ...mapping, [c.name]: e.target.value }))}
                                >
                                  <option value="">— not loaded{c.default ? ' (default)' : ''} —</option>
                                  {imp.columns.map((s) => (
                                    <option key={s.name} value={s.name}>
                                      {s.header}
                                    </option>
                                  ))}
                                </select>
                                {how?.how && how.how !== 'name' && mapping[c.name] === how.source && (
                                  <span className="rounded bg-amber-100 px-1.5 py-0.5 text-xs text-amber-900 dark:bg-amber-900/40 dark:text-amber-200">{how.how === 'guess' ? 'guess' : 'as last time'}</span>
                                )}
                              </span>
                            )}
                          </td>
                        </tr>
                      )
                    })}
                  </tbody>
                </table>
              </div>
              <p className="text-sm text-slate-600 dark:text-slate-300" data-testid="load-skipped">
                {skipped.length ? `Not loaded from the file: ${skipped.map((s) => s.header).join(', ')}` : 'Every column of the file is loaded.'}
              </p>

              <fieldset className="flex flex-col gap-1 text-sm">
                <legend className="font-medium">How</legend>
                {(Object.keys(MODE_LABELS) as LoadMode[]).map((m) => (
                  <label key={m} className="flex items-center gap-2">
                    <input type="radio" name={`${ids}-mode`} value={m} checked={mode === m} onChange={() => changed(() => setMode(m))} disabled={m === 'upsert' && suggestion.target.keys.length === 0} />
                    {MODE_LABELS[m]}
                  </label>
                ))}
              </fieldset>
              <div className="grid gap-3 sm:grid-cols-3">
                {mode === 'upsert' && (
                  <>
                    <label className={label}>
                      Match rows on
                      <select className={input} value={key} onChange={(e) => changed(() => setKey(e.target.value))}>
                        {suggestion.target.keys.map((k) => (
                          <option key={k.name} value={k.name}>
                            {k.primary ? 'primary key' : k.name} ({k.columns.join(', ')})
                          </option>
                        ))}
                      </select>
                    </label>
                    <label className={label}>
                      When a key is on several lines
                      <select className={input} value={duplicates} onChange={(e) => changed(() => setDuplicates(e.target.value as 'first' | 'last'))}>
                        <option value="last">the last line wins</option>
                        <option value="first">the first line wins</option>
                      </select>
                    </label>
                  </>
                )}
                <label className={label}>
                  Rows that cannot go in
                  <select className={input} value={misfits} onChange={(e) => changed(() => setMisfits(e.target.value as 'leave-out' | 'block'))}>
                    <option value="leave-out">leave them out, list them</option>
                    <option value="block">load nothing while there is one</option>
                  </select>
                </label>
              </div>

              <div className="flex flex-wrap gap-2">
                <button type="button" className={neutralButton} disabled={busy || running} onClick={() => void onCheck()}>
                  Check
                </button>
                <button type="button" className={primaryButton} disabled={busy || running || !check || check.blocked} onClick={() => void onLoad()}>
                  Load
                </button>
              </div>
              {!check && <p className="text-xs text-slate-500 dark:text-slate-400">Check first: it tells what the load would do, and writes nothing.</p>}
              {check && <CheckAnswer check={check} />}
            </>
          )}

          {load && <LoadProgress load={load} leftOut={leftOut} stopping={busy} onStop={() => void onStop()} />}
          {error && (
            <p className={errorText} role="alert">
              {error}
            </p>
          )}
        </div>
      )}
    </section>
  )
}

function CheckAnswer({ check }: { check: CheckResult }) {
  const { effect } = check
  const parts = [
    `${formatCount(effect.insert)} to insert`,
    effect.update || effect.unchanged ? `${formatCount(effect.update)} to update, ${formatCount(effect.unchanged)} unchanged` : null,
    effect.delete ? `${formatCount(effect.delete)} removed first` : null,
    check.rowsLeftOut ? `${formatCount(check.rowsLeftOut)} cannot go in` : null,
    check.rowsSuperseded ? `${formatCount(check.rowsSuperseded)} superseded by a later line with their key` : null,
  ]
  return (
    <div className="rounded-lg border border-slate-200 p-3 text-sm dark:border-slate-800" data-testid="load-check">
      <p className="font-medium" data-testid="load-check-effect">
        Of {formatCount(check.rows)} rows: {parts.filter(Boolean).join(' · ')}
      </p>
      {check.blocked && <p className={`${errorText} mt-1`}>The load is set to load nothing while a row cannot go in.</p>}
      {check.problems.length > 0 && (
        <ul className="mt-2 flex flex-col gap-2">
          {check.problems.map((p) => (
            <li key={`${p.kind}:${p.column}`} data-testid="load-problem" data-kind={p.kind}>
              <span className="font-medium">
                {formatCount(p.rows)} × {p.kind.replace('-', ' ')}
              </span>{' '}
              in <code className="font-mono text-xs">{p.column}</code>
              <ul className="ml-4 list-disc text-xs text-slate-600 dark:text-slate-300">
                {p.examples.map((e, i) => (
                  <li key={i} data-testid="load-problem-example">
                    line {e.line ?? (e.lines ? `${e.lines[0]}–${e.lines[1]}` : '?')}: {e.value === null ? 'no value' : <code className="font-mono">{e.value}</code>} · {e.reason}
                  </li>
                ))}
              </ul>
            </li>
          ))}
        </ul>
      )}
    </div>
  )
}

function LoadProgress({ load, leftOut, stopping, onStop }: { load: LoadDto; leftOut: LeftOut[]; stopping: boolean; onStop: () => void }) {
  const running = ['QUEUED', 'PROCESSING'].includes(load.status)
  const percent = load.status === 'PROCESSED' ? 100 : load.rowsTotal ? Math.min(100, Math.floor((load.rowsDone / load.rowsTotal) * 100)) : 0
  const seconds = load.startedAt && load.finishedAt ? (Date.parse(load.finishedAt) - Date.parse(load.startedAt)) / 1000 : null
  const summary: Record<LoadDto['status'], string> = {
    QUEUED: 'Waiting for a worker…',
    PROCESSING: load.rowsTotal === null ? 'Checking…' : `Writing: ${formatCount(load.rowsDone)} of ${formatCount(load.rowsTotal)} rows`,
    PROCESSED: `Loaded: ${formatCount(load.rowsInserted)} inserted, ${formatCount(load.rowsUpdated)} updated${load.rowsUnchanged ? `, ${formatCount(load.rowsUnchanged)} unchanged` : ''}${load.rowsDeleted ? `, ${formatCount(load.rowsDeleted)} removed first` : ''}, ${formatCount(load.rowsLeftOut)} left out${seconds !== null ? `, in ${formatDuration(seconds)}` : ''}`,
    STOPPED: 'Stopped: the table is as it was.',
    FAILED: `Failed, and the table is as it was: ${load.error ?? ''}`,
  }
  return (
    <div className="text-sm" data-testid="load-progress" data-status={load.status}>
      <p aria-live="polite" data-testid="load-summary">{summary[load.status]}</p>
      <div
        role="progressbar"
        aria-label={`Load into ${load.table.schema}.${load.table.name}`}
        aria-valuemin={0}
        aria-valuemax={100}
        aria-valuenow={percent}
        className="mt-2 h-2 overflow-hidden rounded-full bg-slate-200 dark:bg-slate-800"
      >
        <div className={`h-full rounded-full ${load.status === 'FAILED' || load.status === 'STOPPED' ? 'bg-slate-500 dark:bg-slate-400' : 'bg-sky-600 dark:bg-sky-500'}`} style={{ width: `${percent}%` }} />
      </div>
      {running && (
        <button type="button" className={`${dangerButton} mt-2`} disabled={stopping} onClick={onStop} aria-label={`Stop the load into ${load.table.schema}.${load.table.name}`}>
          Stop
        </button>
      )}
      {leftOut.length > 0 && (
        <div className="mt-3 overflow-x-auto">
          <table className="w-full text-xs" data-testid="load-left-out">
            <caption className="text-left text-sm font-medium">Left out{load.rowsLeftOut > leftOut.length ? ` (the first ${leftOut.length})` : ''}</caption>
            <thead>
              <tr>
                <th scope="col" className={`${th} text-right`}>Line</th>
                <th scope="col" className={th}>Column</th>
                <th scope="col" className={th}>Value</th>
                <th scope="col" className={th}>Reason</th>
              </tr>
            </thead>
            <tbody>
              {leftOut.map((r, i) => (
                <tr key={i} data-testid="load-left-out-row">
                  <td className={`${td} text-right tabular-nums`}>{r.line ?? '?'}</td>
                  <td className={`${td} font-mono`}>{r.column}</td>
                  <td className={`${td} font-mono`}>{r.value ?? ''}</td>
                  <td className={td}>{r.reason}</td>
                </tr>
              ))}
            </tbody>
          </table>
          <p className="mt-1 text-xs">
            <a href={`/api/loads/${load.id}/left-out.csv`} download className="font-medium text-sky-700 underline-offset-2 hover:underline dark:text-sky-400" data-testid="load-left-out-download">
              Download all {formatCount(load.rowsLeftOut)} as CSV (line, column, value, reason)
            </a>
          </p>
        </div>
      )}
    </div>
  )
}
