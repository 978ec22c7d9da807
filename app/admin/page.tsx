import type { Metadata } from 'next'
import { notFound } from 'next/navigation'
import { AccountBar } from '@/components/account-bar'
import { AdminPanel } from '@/components/admin-panel'
import { link } from '@/components/styles'
import { listAccounts } from '@/lib/auth/accounts'
import { isSignUpOpen } from '@/lib/auth/instance'
import { listOpenInvites } from '@/lib/auth/invites'
import { signedInOrRedirect } from '@/lib/auth/page-principal'

export const metadata: Metadata = { title: 'Admin · Sluice' }
export const dynamic = 'force-dynamic'

export default async function AdminPage() {
  const who = await signedInOrRedirect('/admin')
  // A person who is not an admin finds no such page.
  if (!who.isAdmin) notFound()
  const [accounts, invites, signUpOpen] = await Promise.all([listAccounts(), listOpenInvites(), isSignUpOpen()])
  return (
    <main className="mx-auto flex max-w-4xl flex-col gap-6 px-4 py-8 sm:py-12">
      <AccountBar name={who.name} email={who.email} isAdmin={who.isAdmin} />
      <header>
        <a href="/" className={link}>
          ← Uploads and imports
        </a>
        <h1 className="mt-2 text-3xl font-semibold tracking-tight">Admin</h1>
        <p className="mt-1 text-slate-600 dark:text-slate-400">As an admin you see everyone&apos;s uploads, imports and exports.</p>
      </header>
      <AdminPanel accounts={accounts} invites={invites} signUpOpen={signUpOpen} viewerId={who.userId} />
    </main>
  )
}
