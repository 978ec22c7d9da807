'use client'

import { useState } from 'react'
import { MAX_PASSWORD_LENGTH, MIN_PASSWORD_LENGTH } from '@/lib/auth/passwords'
import { errorText, input, label, primaryButton } from './styles'

/**
 * Name, email and password for a new account, sent to `endpoint` with `token` (a setup link's
 * or an invite's); the person is then signed in and taken to the home page.
 */
export function NewAccountForm({ endpoint, token, submitLabel }: { endpoint: string; token?: string; submitLabel: string }) {
  const [error, setError] = useState<string | null>(null)
  const [busy, setBusy] = useState(false)
  async function submit(event: React.FormEvent<HTMLFormElement>) {
    event.preventDefault()
    const form = new FormData(event.currentTarget)
    const account = { name: String(form.get('name')), email: String(form.get('email')), password: String(form.get('password')) }
    setBusy(true)
    setError(null)
    const post = (url: string, body: unknown) =>
      fetch(url, { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify(body) }).catch(() => null)
    const created = await post(endpoint, token === undefined ? account : { token, ...account })
    if (!created?.ok) {
      setBusy(false)
      // Sluice's envelope, or better-auth's {message} (sign-up).
      const body = (await created?.json().catch(() => null)) as { error?: { message?: string }; message?: string } | null
      return setError(body?.error?.message ?? body?.message ?? 'The server does not answer: try again in a moment.')
    }
    await post('/api/auth/sign-in/email', { email: account.email, password: account.password })
    window.location.assign('/')
  }
  return (
    <form onSubmit={submit} className="flex flex-col gap-4">
      <label className={label}>
        Name
        <input name="name" autoComplete="name" required maxLength={200} className={input} />
      </label>
      <label className={label}>
        Email
        <input name="email" type="email" autoComplete="username" required className={input} />
      </label>
      <label className={label}>
        Password
        <input name="password" type="password" autoComplete="new-password" required minLength={MIN_PASSWORD_LENGTH} maxLength={MAX_PASSWORD_LENGTH} className={input} aria-describedby="password-rule" />
        <span id="password-rule" className="text-xs font-normal text-slate-600 dark:text-slate-400">
          At least {MIN_PASSWORD_LENGTH} characters.
        </span>
      </label>
      {error && (
        <p role="alert" className={errorText}>
          {error}
        </p>
      )}
      <button type="submit" className={primaryButton} disabled={busy}>
        {busy ? 'Creating…' : submitLabel}
      </button>
    </form>
  )
}
