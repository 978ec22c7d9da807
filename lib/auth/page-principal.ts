import { headers } from 'next/headers'
import { redirect } from 'next/navigation'
import type { Principal } from './owner-scope'
import { principalOfSession } from './principal'

/** Where sign-in sends a person back to: only a path of Sluice's own, never another site. */
export const safeNext = (next: string | undefined | null) => (next && /^\/(?![/\\])/.test(next) ? next : '/')

/** The signed-in person of a page; a visitor is sent to sign-in, and back to `path` after. */
export async function signedInOrRedirect(path: string): Promise<Principal> {
  const who = await principalOfSession(await headers())
  if (!who) redirect(`/sign-in?next=${encodeURIComponent(safeNext(path))}`)
  return who
}

/** The signed-in person of a page, or null (the sign-in and setup pages). */
export async function pagePrincipal(): Promise<Principal | null> {
  return principalOfSession(await headers())
}
