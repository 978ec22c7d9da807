'use client'

import { useState } from 'react'
import { errorText, input, label, primaryButton } from './styles'

/** Why sign-in was refused, as a person reads it (one message for a wrong email or password). */
async function refusal(res: Response): Promise<string> {
  if (res.status === 401) return 'Wrong email or password.'
  const body = (await res.json().catch(() => null)) as { message?: string; code?: string } | null
  if (body?.code === 'BANNED_USER') return 'This account is deactivated: ask an admin.'
  return body?.message ?? `Sign-in failed (${res.status}).`
}

export function SignInForm({ next }: { next: string }) {
  const [error, setError] = useState<string | null>(null)
  const [busy, setBusy] = useState(false)
  async function submit(event: React.FormEvent<HTMLFormElement>) {
    event.preventDefault()
    const form = new FormData(event.currentTarget)
    setBusy(true)
    setError(null)
    const res = await fetch('/api/auth/sign-in/email', {
      method: 'POST',
      headers: { 'Content-Type': 'application/json' },
      body: JSON.stringify({ email: form.get('email'), password: form.get('password') }),
    }).catch(() => null)
    if (res?.ok) return window.location.assign(next)
    setBusy(false)
    setError(res ? await refusal(res) : 'The server does not answer: try again in a moment.')
  }
  return (
    <form onSubmit={submit} className="flex flex-col gap-4" aria-describedby={error ? 'sign-in-error' : undefined}>
      <label className={label}>
        Email
        <input name="email" type="email" autoComplete="username" required className={input} />
      </label>
      <label className={label}>
        Password
        <input name="password" type="password" autoComplete="current-password" required className={input} />
      </label>
      {error && (
        <p id="sign-in-error" role="alert" className={errorText}>
          {error}
        </p>
      )}
      <button type="submit" className={primaryButton} disabled={busy}>
        {busy ? 'Signing in…' : 'Sign in'}
      </button>
    </form>
  )
}
