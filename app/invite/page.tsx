import type { Metadata } from 'next'
import { NewAccountForm } from '@/components/new-account-form'
import { isOpenInvite } from '@/lib/auth/invites'

export const metadata: Metadata = { title: 'Join · Sluice' }
export const dynamic = 'force-dynamic'

export default async function InvitePage({ searchParams }: PageProps<'/invite'>) {
  const token = [(await searchParams).token].flat()[0] ?? ''
  const valid = token !== '' && (await isOpenInvite(token))
  return (
    <main className="mx-auto flex max-w-sm flex-col gap-6 px-4 py-12">
      <header>
        <h1 className="text-3xl font-semibold tracking-tight">Join Sluice</h1>
        <p className="mt-1 text-slate-600 dark:text-slate-400">
          {valid ? 'You were invited: create your account.' : 'This invite link is not valid: it was used, it expired (after 7 days), or it was revoked. Ask for a new one.'}
        </p>
      </header>
      {valid && <NewAccountForm endpoint="/api/invites/accept" token={token} submitLabel="Create my account" />}
    </main>
  )
}
