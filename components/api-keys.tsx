'use client'

import { useEffect, useState } from 'react'
import type { ApiKeyDto, CreatedKey } from '@/lib/auth/schemas'
import { formatDateTime } from '@/lib/format'
import { dangerButton, errorText, input, label, neutralButton, primaryButton } from './styles'

async function errorOf(res: Response): Promise<string> {
  const body = (await res.json().catch(() => null)) as { error?: { message?: string } } | null
  return body?.error?.message ?? `The server answered ${res.status}`
}

/** The settings page's keys: make one (shown once), see when each was last used, revoke. */
export function ApiKeys({ initial }: { initial: ApiKeyDto[] }) {
  const [keys, setKeys] = useState(initial)
  const [created, setCreated] = useState<CreatedKey | null>(null)
  const [copied, setCopied] = useState(false)
  const [error, setError] = useState<string | null>(null)

  const reload = async () => {
    const res = await fetch('/api/keys')
    if (res.ok) setKeys(((await res.json()) as { keys: ApiKeyDto[] }).keys)
  }
  useEffect(() => setCopied(false), [created])

  async function create(event: React.FormEvent<HTMLFormElement>) {
    event.preventDefault()
    const form = event.currentTarget
    const name = String(new FormData(form).get('name'))
    setError(null)
    const res = await fetch('/api/keys', { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify({ name }) })
    if (!res.ok) return setError(await errorOf(res))
    setCreated((await res.json()) as CreatedKey)
    form.reset()
    await reload()
  }

  async function revoke(key: ApiKeyDto) {
    if (!window.confirm(`Revoke "${key.name}"? Scripts that use it stop working at once.`)) return
    const res = await fetch(`/api/keys/${encodeURIComponent(key.id)}`, { method: 'DELETE' })
    if (!res.ok && res.status !== 404) return setError(await errorOf(res))
    if (created?.id === key.id) setCreated(null)
    await reload()
  }

  return (
    <section aria-labelledby="keys-heading" className="flex flex-col gap-4">
      <h2 id="keys-heading" className="text-xl font-semibold">
        API keys
      </h2>
      <p className="text-sm text-slate-600 dark:text-slate-400">
        For scripts and <code>npm run upload</code>: send a key as <code>Authorization: Bearer &lt;key&gt;</code>, or put it in{' '}
        <code>SLUICE_API_KEY</code>. A key acts as you until you revoke it.
      </p>
      <form onSubmit={create} className="flex flex-wrap items-end gap-2">
        <label className={`${label} min-w-48 flex-1`}>
          Name
          <input name="name" required maxLength={100} placeholder="nightly export, laptop…" className={input} />
        </label>
        <button type="submit" className={primaryButton}>
          Create key
        </button>
      </form>
      {error && (
        <p role="alert" className={errorText}>
          {error}
        </p>
      )}
      {created && (
        <div role="status" className="flex flex-col gap-2 rounded-md border border-emerald-300 p-3 dark:border-emerald-800">
          <p className="text-sm font-medium">Copy the key “{created.name}” now: it is not shown again.</p>
          <code data-testid="new-key" className="break-all rounded bg-slate-100 p-2 text-sm dark:bg-slate-900">
            {created.key}
          </code>
          <div className="flex gap-2">
            <button
              type="button"
              className={neutralButton}
              onClick={async () => {
                await navigator.clipboard?.writeText(created.key).catch(() => {})
                setCopied(true)
              }}
            >
              {copied ? 'Copied' : 'Copy'}
            </button>
            <button type="button" className={neutralButton} onClick={() => setCreated(null)}>
              Done
            </button>
          </div>
        </div>
      )}
      {keys.length === 0 ? (
        <p className="text-sm text-slate-600 dark:text-slate-400">No keys yet.</p>
      ) : (
        <table className="w-full text-left text-sm">
          <thead>
            <tr className="border-b border-slate-200 dark:border-slate-800">
              <th className="py-2 font-medium">Name</th>
              <th className="py-2 font-medium">Key</th>
              <th className="py-2 font-medium">Created</th>
              <th className="py-2 font-medium">Last used</th>
              <th className="py-2">
                <span className="sr-only">Actions</span>
              </th>
            </tr>
          </thead>
          <tbody>
            {keys.map((k) => (
              <tr key={k.id} className="border-b border-slate-100 dark:border-slate-900">
                <td className="py-2">{k.name}</td>
                <td className="py-2 font-mono">{k.start}…</td>
                <td className="py-2">{formatDateTime(k.createdAt)}</td>
                <td className="py-2">{k.lastUsedAt ? formatDateTime(k.lastUsedAt) : 'never'}</td>
                <td className="py-2 text-right">
                  <button type="button" className={dangerButton} onClick={() => revoke(k)} aria-label={`Revoke ${k.name}`}>
                    Revoke
                  </button>
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
    </section>
  )
}
