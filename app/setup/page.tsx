import type { Metadata } from 'next'
import { NewAccountForm } from '@/components/new-account-form'
import { link } from '@/components/styles'
import { hasAnyAccount, isSetupToken } from '@/lib/auth/instance'

export const metadata: Metadata = { title: 'Set up · Sluice' }
export const dynamic = 'force-dynamic'

export default async function SetupPage({ searchParams }: PageProps<'/setup'>) {
  const token = [(await searchParams).token].flat()[0] ?? ''
  const valid = token !== '' && (await isSetupToken(token))
  const setUp = !valid && (await hasAnyAccount())
  return (
    <main className="mx-auto flex max-w-sm flex-col gap-6 px-4 py-12">
      <header>
        <h1 className="text-3xl font-semibold tracking-tight">Set up Sluice</h1>
        <p className="mt-1 text-slate-600 dark:text-slate-400">
          {valid ? 'Create the first account. It is an admin: it can invite others and sees every import.' : setUp ? 'Sluice is set up already.' : 'This setup link is not valid.'}
        </p>
      </header>
      {valid ? (
        <NewAccountForm endpoint="/api/setup" token={token} submitLabel="Create the admin account" />
      ) : setUp ? (
        <a href="/sign-in" className={link}>
          Sign in
        </a>
      ) : (
        <p className="text-sm text-slate-600 dark:text-slate-400">
          Use the link <code>npm start</code> printed most recently: each start replaces it.
        </p>
      )}
    </main>
  )
}
