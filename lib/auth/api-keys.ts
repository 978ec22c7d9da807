import { prisma } from '../db/pool'
import { cutInput, SluiceError } from '../http/errors'
import { auth } from './auth'
import type { Principal } from './owner-scope'
import type { ApiKeyDto, CreatedKey } from './schemas'

// A person's API keys: made by better-auth's api-key plugin (it generates the key and keeps
// only its hash), listed and revoked here, always among the person's own.

/** A new key for `who`; the answer is the only time the key itself is seen. */
export async function createKey(who: Principal, name: string): Promise<CreatedKey> {
  // Called without request headers, the plugin makes the key for the user id given (server side).
  const created = await auth().api.createApiKey({ body: { userId: who.userId, name } })
  return { id: created.id, name: created.name ?? name, key: created.key, createdAt: new Date(created.createdAt).toISOString() }
}

export async function listKeys(who: Principal): Promise<ApiKeyDto[]> {
  const keys = await prisma().apiKey.findMany({ where: { referenceId: who.userId }, orderBy: { createdAt: 'desc' } })
  return keys.map((k) => ({
    id: k.id,
    name: k.name ?? '',
    start: k.start,
    createdAt: k.createdAt.toISOString(),
    lastUsedAt: k.lastRequest?.toISOString() ?? null,
    expiresAt: k.expiresAt?.toISOString() ?? null,
  }))
}

/** Deletes one of `who`'s keys: it stops working with the next request. */
export async function revokeKey(who: Principal, id: string): Promise<void> {
  const { count } = await prisma().apiKey.deleteMany({ where: { id, referenceId: who.userId } })
  if (!count) throw new SluiceError('NOT_FOUND', `No API key with id ${cutInput(id)}`)
}
