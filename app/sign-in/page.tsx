import type { Metadata } from 'next'
import { redirect } from 'next/navigation'
import { SignInForm } from '@/components/sign-in-form'
import { link } from '@/components/styles'
import { isSignUpOpen } from '@/lib/auth/instance'
import { pagePrincipal, safeNext } from '@/lib/auth/page-principal'

export const metadata: Metadata = { title: 'Sign in · Sluice' }
export const dynamic = 'force-dynamic'

export default async function SignInPage({ searchParams }: PageProps<'/sign-in'>) {
  const next = safeNext([(await searchParams).next].flat()[0])
  if (await pagePrincipal()) redirect(next)
  return (
    <main className="mx-auto flex max-w-sm flex-col gap-6 px-4 py-12">
      <header>
        <h1 className="text-3xl font-semibold tracking-tight">Sluice</h1>
        <p className="mt-1 text-slate-600 dark:text-slate-400">Sign in to upload and import your files.</p>
      </header>
      <SignInForm next={next} />
      {(await isSignUpOpen()) ? (
        <a href="/sign-up" className={link}>
          No account? Create one
        </a>
      ) : (
        <p className="text-sm text-slate-600 dark:text-slate-400">No account? Ask an admin of this Sluice for an invite link.</p>
      )}
    </main>
  )
}
