'use client'

import { useState } from 'react'
import type { AccountDto, InviteDto } from '@/lib/auth/schemas'
import { formatDateTime } from '@/lib/format'
import { dangerButton, errorText, input, label, neutralButton, primaryButton } from './styles'

type Props = { accounts: AccountDto[]; invites: InviteDto[]; signUpOpen: boolean; viewerId: string }

async function send(method: string, url: string, body?: unknown): Promise<{ ok: true; body: unknown } | { ok: false; message: string }> {
  const res = await fetch(url, {
    method,
    headers: body === undefined ? {} : { 'Content-Type': 'application/json' },
    body: body === undefined ? undefined : JSON.stringify(body),
  }).catch(() => null)
  if (!res) return { ok: false, message: 'The server does not answer: try again in a moment.' }
  const json = res.status === 204 ? null : await res.json().catch(() => null)
  if (res.ok) return { ok: true, body: json }
  return { ok: false, message: (json as { error?: { message?: string } } | null)?.error?.message ?? `The server answered ${res.status}` }
}

/** The admin page: accounts (make, deactivate, promote), invite links and open sign-up. */
export function AdminPanel(props: Props) {
  const [accounts, setAccounts] = useState(props.accounts)
  const [invites, setInvites] = useState(props.invites)
  const [signUpOpen, setSignUpOpen] = useState(props.signUpOpen)
  const [inviteUrl, setInviteUrl] = useState<string | null>(null)
  const [error, setError] = useState<string | null>(null)

  const reload = async () => {
    const [a, i] = await Promise.all([send('GET', '/api/admin/accounts'), send('GET', '/api/admin/invites')])
    if (a.ok) setAccounts((a.body as { accounts: AccountDto[] }).accounts)
    if (i.ok) setInvites((i.body as { invites: InviteDto[] }).invites)
  }
  const run = async (work: Promise<{ ok: true; body: unknown } | { ok: false; message: string }>) => {
    const result = await work
    setError(result.ok ? null : result.message)
    await reload()
    return result
  }

  async function createAccount(event: React.FormEvent<HTMLFormElement>) {
    event.preventDefault()
    const form = event.currentTarget
    const data = new FormData(form)
    const result = await run(
      send('POST', '/api/admin/accounts', { name: data.get('name'), email: data.get('email'), password: data.get('password'), role: data.get('admin') ? 'admin' : 'user' }),
    )
    if (result.ok) form.reset()
  }

  async function createInvite() {
    const result = await run(send('POST', '/api/admin/invites', { role: 'user' }))
    if (result.ok) setInviteUrl((result.body as { url: string }).url)
  }

  return (
    <div className="flex flex-col gap-8">
      {error && (
        <p role="alert" className={errorText}>
          {error}
        </p>
      )}
      <section aria-labelledby="accounts-heading" className="flex flex-col gap-3">
        <h2 id="accounts-heading" className="text-xl font-semibold">
          Accounts
        </h2>
        <table className="w-full text-left text-sm">
          <thead>
            <tr className="border-b border-slate-200 dark:border-slate-800">
              <th className="py-2 font-medium">Name</th>
              <th className="py-2 font-medium">Email</th>
              <th className="py-2 font-medium">Role</th>
              <th className="py-2 font-medium">Since</th>
              <th className="py-2">
                <span className="sr-only">Actions</span>
              </th>
            </tr>
          </thead>
          <tbody>
            {accounts.map((a) => (
              <tr key={a.id} data-testid="account" data-email={a.email} className="border-b border-slate-100 dark:border-slate-900">
                <td className="py-2">
                  {a.name}
                  {!a.active && <span className="ml-2 text-red-700 dark:text-red-300">(deactivated)</span>}
                </td>
                <td className="py-2">{a.email}</td>
                <td className="py-2">{a.role}</td>
                <td className="py-2">{formatDateTime(a.createdAt)}</td>
                <td className="flex flex-wrap justify-end gap-2 py-2">
                  {a.id !== props.viewerId && (
                    <>
                      <button type="button" className={neutralButton} onClick={() => run(send('PATCH', `/api/admin/accounts/${a.id}`, { role: a.role === 'admin' ? 'user' : 'admin' }))}>
                        {a.role === 'admin' ? 'Make user' : 'Make admin'}
                      </button>
                      <button
                        type="button"
                        className={a.active ? dangerButton : neutralButton}
                        onClick={() => {
                          if (a.active && !window.confirm(`Deactivate ${a.email}? Their sessions and API keys stop working at once.`)) return
                          void run(send('PATCH', `/api/admin/accounts/${a.id}`, { active: !a.active }))
                        }}
                      >
                        {a.active ? 'Deactivate' : 'Reactivate'}
                      </button>
                    </>
                  )}
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      </section>

      <section aria-labelledby="invite-heading" className="flex flex-col gap-3">
        <h2 id="invite-heading" className="text-xl font-semibold">
          Invite someone
        </h2>
        <p className="text-sm text-slate-600 dark:text-slate-400">An invite link makes one account, within 7 days.</p>
        <div>
          <button type="button" className={primaryButton} onClick={createInvite}>
            Create an invite link
          </button>
        </div>
        {inviteUrl && (
          <div role="status" className="flex flex-col gap-2 rounded-md border border-emerald-300 p-3 dark:border-emerald-800">
            <p className="text-sm font-medium">Send this link to the person you invite (it is not shown again):</p>
            <code data-testid="invite-url" className="break-all rounded bg-slate-100 p-2 text-sm dark:bg-slate-900">
              {inviteUrl}
            </code>
            <div>
              <button type="button" className={neutralButton} onClick={() => navigator.clipboard?.writeText(inviteUrl).catch(() => {})}>
                Copy link
              </button>
            </div>
          </div>
        )}
        {invites.length > 0 && (
          <ul className="flex flex-col gap-1 text-sm">
            {invites.map((i) => (
              <li key={i.id} className="flex flex-wrap items-center gap-3">
                <span>
                  Open invite, made {formatDateTime(i.createdAt)}, valid until {formatDateTime(i.expiresAt)}
                </span>
                <button type="button" className={dangerButton} onClick={() => run(send('DELETE', `/api/admin/invites/${i.id}`))}>
                  Revoke
                </button>
              </li>
            ))}
          </ul>
        )}
      </section>

      <section aria-labelledby="create-heading" className="flex flex-col gap-3">
        <h2 id="create-heading" className="text-xl font-semibold">
          Create an account
        </h2>
        <form onSubmit={createAccount} className="grid gap-3 sm:grid-cols-2">
          <label className={label}>
            Name
            <input name="name" required maxLength={200} className={input} />
          </label>
          <label className={label}>
            Email
            <input name="email" type="email" required className={input} />
          </label>
          <label className={label}>
            Password
            <input name="password" type="password" autoComplete="new-password" required minLength={12} maxLength={256} className={input} />
          </label>
          <label className="flex items-center gap-2 self-end text-sm">
            <input name="admin" type="checkbox" /> Admin
          </label>
          <div>
            <button type="submit" className={primaryButton}>
              Create account
            </button>
          </div>
        </form>
      </section>

      <section aria-labelledby="signup-heading" className="flex flex-col gap-3">
        <h2 id="signup-heading" className="text-xl font-semibold">
          Sign-up
        </h2>
        <label className="flex items-center gap-2 text-sm">
          <input
            type="checkbox"
            checked={signUpOpen}
            onChange={async (event) => {
              const open = event.currentTarget.checked
              const result = await run(send('PUT', '/api/admin/settings', { signUpOpen: open }))
              if (result.ok) setSignUpOpen(open)
            }}
          />
          Anyone who can reach this Sluice may create an account (without an invite)
        </label>
      </section>
    </div>
  )
}
