import { SignOutButton } from './sign-out-button'
import { link } from './styles'

/** Who is signed in, with the account's pages and sign-out; at the top of every signed-in page. */
export function AccountBar({ name, email, isAdmin }: { name: string; email: string; isAdmin: boolean }) {
  return (
    <nav aria-label="Account" className="flex flex-wrap items-center justify-end gap-x-4 gap-y-2 text-sm">
      <span className="text-slate-600 dark:text-slate-400" title={email}>
        {name}
        {isAdmin && ' (admin)'}
      </span>
      <a href="/settings" className={link}>
        API keys
      </a>
      {isAdmin && (
        <a href="/admin" className={link}>
          Admin
        </a>
      )}
      <SignOutButton />
    </nav>
  )
}
