import type { Metadata } from 'next'
import { ApiReference } from '@/components/api-reference'
import { link } from '@/components/styles'
import { signedInOrRedirect } from '@/lib/auth/page-principal'

export const metadata: Metadata = {
  title: 'API reference · Sluice',
  description: 'Every endpoint of Sluice: uploads (tus), imports, batch sessions, exports.',
}

export const dynamic = 'force-dynamic'

export default async function DocsPage() {
  await signedInOrRedirect('/docs')
  return (
    <>
      <header className="flex flex-wrap items-baseline gap-x-4 gap-y-1 border-b border-slate-200 bg-white px-4 py-3 text-slate-900 dark:border-slate-800 dark:bg-slate-950 dark:text-slate-100">
        {/* A full page load: Scalar's stylesheet (rules on body and :root) must not stay behind. */}
        <a href="/" className={link}>
          ← Sluice
        </a>
        <span className="text-sm text-slate-600 dark:text-slate-400">
          API reference, generated from the handlers&apos; schemas:{' '}
          <a href="/api/openapi.json" className={link}>
            /api/openapi.json
          </a>
        </span>
      </header>
      <ApiReference />
    </>
  )
}
