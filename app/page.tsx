import { AccountBar } from '@/components/account-bar'
import { link } from '@/components/styles'
import { UploadPanel } from '@/components/upload-panel'
import { signedInOrRedirect } from '@/lib/auth/page-principal'
import { config } from '@/lib/config'

export const dynamic = 'force-dynamic'

export default async function HomePage() {
  const who = await signedInOrRedirect('/')
  return (
    <main className="mx-auto flex max-w-3xl flex-col gap-6 px-4 py-8 sm:py-12">
      <header>
        <h1 className="text-3xl font-semibold tracking-tight">Sluice</h1>
        <p className="mt-1 text-slate-600 dark:text-slate-400">
          Drop CSV files of any size. They stream to the server in resumable pieces (a dropped connection or a
          reloaded tab costs nothing), then land in PostgreSQL tables while you watch, pause or stop them.
        </p>
      </header>
      <UploadPanel viewerEmail={who.email} maxUploadBytes={config().maxUploadBytes} />
      {/* After the panel, so that the first Tab still reaches "Choose files…". */}
      <footer className="flex flex-wrap items-center justify-between gap-4 border-t border-slate-200 pt-4 text-sm text-slate-600 dark:border-slate-800 dark:text-slate-400">
        <p>
          From a script or another service: the{' '}
          {/* A plain link, not next/link: prefetching /docs would load its 280 kB stylesheet here. */}
          <a href="/docs" className={link}>
            API reference
          </a>
          .
        </p>
        <AccountBar name={who.name} email={who.email} isAdmin={who.isAdmin} />
      </footer>
    </main>
  )
}
