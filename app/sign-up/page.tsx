import type { Metadata } from 'next'
import { NewAccountForm } from '@/components/new-account-form'
import { link } from '@/components/styles'
import { isSignUpOpen } from '@/lib/auth/instance'

export const metadata: Metadata = { title: 'Sign up · Sluice' }
export const dynamic = 'force-dynamic'

export default async function SignUpPage() {
  const open = await isSignUpOpen()
  return (
    <main className="mx-auto flex max-w-sm flex-col gap-6 px-4 py-12">
      <header>
        <h1 className="text-3xl font-semibold tracking-tight">Create an account</h1>
        {!open && <p className="mt-1 text-slate-600 dark:text-slate-400">Sign-up is by invite here: ask an admin of this Sluice for an invite link.</p>}
      </header>
      {open && <NewAccountForm endpoint="/api/auth/sign-up/email" submitLabel="Create my account" />}
      <a href="/sign-in" className={link}>
        I have an account: sign in
      </a>
    </main>
  )
}
