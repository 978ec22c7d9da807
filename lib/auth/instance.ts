import { createHash, randomBytes } from 'node:crypto'
import { prisma } from '../db/pool'

// The instance's one settings row (made by the accounts migration).

const sha256 = (text: string) => createHash('sha256').update(text).digest('hex')

/** The secret that signs session cookies: BETTER_AUTH_SECRET, or the one made with the database. */
export async function authSecret(): Promise<string> {
  return process.env.BETTER_AUTH_SECRET || (await prisma().instanceSettings.findUniqueOrThrow({ where: { id: 1 } })).authSecret
}

export async function isSignUpOpen(): Promise<boolean> {
  return (await prisma().instanceSettings.findUniqueOrThrow({ where: { id: 1 } })).signUpOpen
}

export async function setSignUpOpen(open: boolean): Promise<void> {
  await prisma().instanceSettings.update({ where: { id: 1 }, data: { signUpOpen: open } })
}

export const hasAnyAccount = async () => (await prisma().user.count()) > 0

/** A new one-time setup token (replacing any earlier one); only its hash is kept. */
export async function newSetupToken(): Promise<string> {
  const token = randomBytes(24).toString('base64url')
  await prisma().instanceSettings.update({ where: { id: 1 }, data: { setupTokenHash: sha256(token) } })
  return token
}

/** Whether `token` is the current setup token (and no account exists yet). */
export async function isSetupToken(token: string): Promise<boolean> {
  const settings = await prisma().instanceSettings.findUniqueOrThrow({ where: { id: 1 } })
  return settings.setupTokenHash !== null && settings.setupTokenHash === sha256(token) && !(await hasAnyAccount())
}

export { sha256 }
