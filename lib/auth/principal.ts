import { defaultKeyHasher } from '@better-auth/api-key'
import { prisma } from '../db/pool'
import { SluiceError, toErrorResponse } from '../http/errors'
import { auth, ownOrigin } from './auth'
import { isAdminRole, type Principal } from './owner-scope'

export { isAdminRole, ownedBy, type Principal } from './owner-scope'

/** Whether `who` may see a thing owned by `ownerId`. */
export const mayAccess = (who: Principal, ownerId: string | null) => who.isAdmin || ownerId === who.userId

const unauthorized = (message = 'Sign in, or send an API key as Authorization: Bearer <key>') => new SluiceError('UNAUTHORIZED', message)

// A key's last use is written at most this often: a 1 GiB upload is 64 PATCHes in seconds.
const LAST_USE_PRECISION_MS = 60_000

async function principalOfKey(key: string): Promise<Principal | null> {
  // One indexed read per request, checking the owner's account too. (The plugin's verifyApiKey
  // makes three queries, two of them writes, and does not look at whether the owner is banned.)
  const found = await prisma().apiKey.findFirst({ where: { key: await defaultKeyHasher(key), enabled: true }, include: { user: true } })
  if (!found || found.user.banned || (found.expiresAt && found.expiresAt.getTime() <= Date.now())) return null
  if (!found.lastRequest || Date.now() - found.lastRequest.getTime() > LAST_USE_PRECISION_MS) {
    prisma()
      .apiKey.update({ where: { id: found.id }, data: { lastRequest: new Date() } })
      .catch((e: unknown) => console.error('could not record an API key use:', e))
  }
  const { user } = found
  return { userId: user.id, name: user.name, email: user.email, isAdmin: isAdminRole(user.role), via: 'key' }
}

/** The principal of a session cookie among `headers` (pages have no Request, only headers). */
export async function principalOfSession(headers: Headers): Promise<Principal | null> {
  const session = await auth().api.getSession({ headers })
  const user = session?.user as { id: string; name: string; email: string; role?: string | null; banned?: boolean | null } | undefined
  if (!user || user.banned) return null
  return { userId: user.id, name: user.name, email: user.email, isAdmin: isAdminRole(user.role), via: 'session' }
}

/** The principal of a request, or null when it carries no valid credential. */
export async function findPrincipal(req: Request): Promise<Principal | null> {
  const authorization = req.headers.get('authorization')
  // An empty "Bearer " (an API client whose key field is blank) is no credential at all: the
  // session cookie beside it, if any, decides.
  if (authorization !== null && !/^Bearer\s*$/i.test(authorization)) {
    const key = /^Bearer\s+(\S+)\s*$/i.exec(authorization)?.[1]
    return key ? principalOfKey(key) : null
  }
  return principalOfSession(req.headers)
}

const SAFE_METHODS = new Set(['GET', 'HEAD', 'OPTIONS'])

/**
 * A request a browser sends with the session cookie on its own may come from any site (a form
 * posting text/plain, an image tag); one that changes anything must come from Sluice's own
 * pages. Bearer keys are never sent by a browser on its own, so they are exempt.
 */
export function isCrossSite(req: Request): boolean {
  if (SAFE_METHODS.has(req.method)) return false
  const site = req.headers.get('sec-fetch-site')
  if (site !== null) return site !== 'same-origin'
  const origin = req.headers.get('origin')
  // Neither header: not a browser (every current one sends Origin on such requests).
  return origin !== null && origin !== ownOrigin(req)
}

/** The request's principal; throws 401 without a valid credential and 403 for a cross-site cookie request. */
export async function requirePrincipal(req: Request): Promise<Principal> {
  const who = await findPrincipal(req)
  if (!who) throw /^Bearer\s+\S/i.test(req.headers.get('authorization') ?? '') ? unauthorized('The API key is not valid: it was revoked, has expired, or is mistyped') : unauthorized()
  if (who.via === 'session' && isCrossSite(req)) throw new SluiceError('FORBIDDEN', 'This request came from another site: Sluice accepts changes only from its own pages')
  return who
}

/** 403 unless `who` is an admin. */
export function requireAdmin(who: Principal): void {
  if (!who.isAdmin) throw new SluiceError('FORBIDDEN', 'Only an admin may do this')
}

/**
 * Runs a route's work for the request's principal, and turns whatever it throws (a missing
 * credential included) into the error envelope.
 */
export async function handleSignedIn(req: Request, work: (who: Principal) => Promise<Response>): Promise<Response> {
  try {
    return await work(await requirePrincipal(req))
  } catch (error) {
    return toErrorResponse(error)
  }
}
