import { createKey } from '../lib/auth/api-keys'
import { auth } from '../lib/auth/auth'
import { prisma } from '../lib/db/pool'

// For tests that call route handlers in their own process (against the global test database):
// an account and an API key of it, made once per test file.

let made: Promise<{ key: string; userId: string }> | undefined

/** The Authorization header value of a test account's key, and that account's id. */
export function inProcessKey(email = 'in-process@sluice.test'): Promise<{ key: string; userId: string }> {
  made ??= (async () => {
    const existing = await prisma().user.findUnique({ where: { email } })
    const user = existing ?? (await auth().api.createUser({ body: { email, password: 'in-process-password', name: 'In-process tests', role: 'user' } })).user
    const created = await createKey({ userId: user.id, name: user.name, email, isAdmin: false, via: 'session' }, 'in-process tests')
    return { key: `Bearer ${created.key}`, userId: user.id }
  })()
  return made
}
