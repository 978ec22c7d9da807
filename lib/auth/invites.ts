import { randomBytes } from 'node:crypto'
import { prisma } from '../db/pool'
import { SluiceError } from '../http/errors'
import { createAccount } from './accounts'
import type { NewAccount } from './first-admin'
import { sha256 } from './instance'
import type { Principal } from './owner-scope'
import type { AccountDto, InviteDto } from './schemas'

/** An invite link is valid this long, and for one account. */
export const INVITE_LIFETIME_MS = 7 * 24 * 3600 * 1000

export const invitePath = (token: string) => `/invite?token=${token}`

const toInviteDto = (i: { id: string; role: string; createdAt: Date; expiresAt: Date; usedAt: Date | null }): InviteDto => ({
  id: i.id,
  role: i.role === 'admin' ? 'admin' : 'user',
  createdAt: i.createdAt.toISOString(),
  expiresAt: i.expiresAt.toISOString(),
  usedAt: i.usedAt?.toISOString() ?? null,
})

/** A new invite; its token (in the link) is answered this once, only its hash is kept. */
export async function createInvite(who: Principal, role: 'user' | 'admin'): Promise<InviteDto & { path: string }> {
  const token = randomBytes(24).toString('base64url')
  const invite = await prisma().invite.create({
    data: { tokenHash: sha256(token), role, createdBy: who.userId, expiresAt: new Date(Date.now() + INVITE_LIFETIME_MS) },
  })
  return { ...toInviteDto(invite), path: invitePath(token) }
}

/** Invites not used yet and not expired, newest first. */
export async function listOpenInvites(): Promise<InviteDto[]> {
  const invites = await prisma().invite.findMany({ where: { usedAt: null, expiresAt: { gt: new Date() } }, orderBy: { createdAt: 'desc' } })
  return invites.map(toInviteDto)
}

export async function revokeInvite(id: string): Promise<void> {
  const { count } = await prisma().invite.deleteMany({ where: { id, usedAt: null } })
  if (!count) throw new SluiceError('NOT_FOUND', 'No open invite with this id')
}

const invalid = () => new SluiceError('UNAUTHORIZED', 'This invite link is not valid: it was used, it expired (after 7 days), or it was revoked. Ask for a new one.')

/** Whether `token` is an open invite's (for the invite page). */
export async function isOpenInvite(token: string): Promise<boolean> {
  const invite = await prisma().invite.findUnique({ where: { tokenHash: sha256(token) } })
  return Boolean(invite && !invite.usedAt && invite.expiresAt > new Date())
}

/**
 * Makes the account an invite is for, once: the invite is claimed in one guarded UPDATE (two
 * people with the same link cannot both get an account), and given back if the account
 * cannot be made (an email in use, a short password).
 */
export async function acceptInvite(token: string, account: NewAccount): Promise<AccountDto> {
  const [claimed] = await prisma().invite.updateManyAndReturn({
    where: { tokenHash: sha256(token), usedAt: null, expiresAt: { gt: new Date() } },
    data: { usedAt: new Date() },
  })
  if (!claimed) throw invalid()
  try {
    const made = await createAccount({ ...account, role: claimed.role === 'admin' ? 'admin' : 'user' })
    await prisma().invite.update({ where: { id: claimed.id }, data: { usedBy: made.id } })
    return made
  } catch (error) {
    await prisma().invite.update({ where: { id: claimed.id }, data: { usedAt: null } })
    throw error
  }
}
