import { prisma } from '../db/pool'
import { cutInput, SluiceError } from '../http/errors'
import { auth } from './auth'
import { checkPassword, type NewAccount } from './first-admin'
import type { Principal } from './owner-scope'
import { isAdminRole } from './principal'
import type { AccountDto } from './schemas'

// What an admin does to accounts. Each is checked here (requireAdmin in the route), not left
// to better-auth's admin routes: those take only a session cookie, and Sluice's admin API
// takes a key too.

const toAccountDto = (u: { id: string; name: string; email: string; role: string | null; banned: boolean | null; createdAt: Date }): AccountDto => ({
  id: u.id,
  name: u.name,
  email: u.email,
  role: isAdminRole(u.role) ? 'admin' : 'user',
  active: !u.banned,
  createdAt: u.createdAt.toISOString(),
})

export async function listAccounts(): Promise<AccountDto[]> {
  return (await prisma().user.findMany({ orderBy: { createdAt: 'asc' } })).map(toAccountDto)
}

/** A new account; 409 when the email has one already. */
export async function createAccount(account: NewAccount & { role: 'user' | 'admin' }): Promise<AccountDto> {
  checkPassword(account.password)
  const email = account.email.trim().toLowerCase()
  const exists = () => new SluiceError('INVALID_TRANSITION', `An account with the email ${cutInput(email)} exists already`)
  if (await prisma().user.findUnique({ where: { email } })) throw exists()
  try {
    const { user } = await auth().api.createUser({ body: { email, password: account.password, name: account.name.trim() || email, role: account.role } })
    return toAccountDto(await prisma().user.findUniqueOrThrow({ where: { id: user.id } }))
  } catch (error) {
    // Two requests for the same email at once both pass the check above; the database's unique
    // email lets one through, and the other is the same refusal, not a 500.
    if (await prisma().user.findUnique({ where: { email } })) throw exists()
    throw error
  }
}

async function accountOf(id: string) {
  const user = await prisma().user.findUnique({ where: { id } })
  if (!user) throw new SluiceError('NOT_FOUND', `No account with id ${cutInput(id)}`)
  return user
}

/**
 * Deactivates an account: its sessions end now (they are deleted), and its keys stop with
 * their next request (the principal of a key is refused when its account is banned).
 * Reactivating lets it sign in again; its keys work again too.
 */
export async function setAccountActive(who: Principal, id: string, active: boolean): Promise<AccountDto> {
  await accountOf(id)
  if (id === who.userId && !active) throw new SluiceError('INVALID_TRANSITION', 'You cannot deactivate your own account: ask another admin')
  const user = await prisma().$transaction(async (tx) => {
    const updated = await tx.user.update({ where: { id }, data: { banned: !active, banReason: active ? null : 'Deactivated by an admin', banExpires: null } })
    if (!active) await tx.session.deleteMany({ where: { userId: id } })
    return updated
  })
  return toAccountDto(user)
}

export async function setAccountRole(who: Principal, id: string, role: 'user' | 'admin'): Promise<AccountDto> {
  await accountOf(id)
  if (id === who.userId && role !== 'admin') throw new SluiceError('INVALID_TRANSITION', 'You cannot take away your own admin role: ask another admin')
  return toAccountDto(await prisma().user.update({ where: { id }, data: { role } }))
}
