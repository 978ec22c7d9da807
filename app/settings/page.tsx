import type { Metadata } from 'next'
import { AccountBar } from '@/components/account-bar'
import { ApiKeys } from '@/components/api-keys'
import { link } from '@/components/styles'
import { listKeys } from '@/lib/auth/api-keys'
import { signedInOrRedirect } from '@/lib/auth/page-principal'

export const metadata: Metadata = { title: 'API keys · Sluice' }
export const dynamic = 'force-dynamic'

export default async function SettingsPage() {
  const who = await signedInOrRedirect('/settings')
  return (
    <main className="mx-auto flex max-w-3xl flex-col gap-6 px-4 py-8 sm:py-12">
      <AccountBar name={who.name} email={who.email} isAdmin={who.isAdmin} />
      <header>
        <a href="/" className={link}>
          ← Uploads and imports
        </a>
        <h1 className="mt-2 text-3xl font-semibold tracking-tight">Settings</h1>
        <p className="mt-1 text-slate-600 dark:text-slate-400">
          Signed in as {who.name} ({who.email}).
        </p>
      </header>
      <ApiKeys initial={await listKeys(who)} />
    </main>
  )
}
