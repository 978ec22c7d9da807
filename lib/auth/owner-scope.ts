/**
 * The owner filter of a query: `{ ownerId }` for a person, empty for an admin or for Sluice's
 * own work (the worker, the maintenance jobs). Built from a principal by `ownedBy`; spelled
 * ANY_OWNER where no person is asking, so that every unfiltered read is visible as such.
 */
export type OwnerScope = { ownerId?: string }

export const ANY_OWNER: OwnerScope = Object.freeze({})

/** Who a request acts for: a person signed in (session cookie) or holding one of their API keys. */
export type Principal = {
  userId: string
  name: string
  email: string
  isAdmin: boolean
  via: 'session' | 'key'
}

/**
 * The owner filter of a person's things: their own, or everyone's for an admin. Every query of
 * uploads, imports, exports and sessions on behalf of a request goes through it.
 */
export const ownedBy = (who: Principal): OwnerScope => (who.isAdmin ? ANY_OWNER : { ownerId: who.userId })

/** Whether a user's role (better-auth's admin plugin: roles joined with commas) makes them an admin. */
export const isAdminRole = (role: string | null | undefined) => (role ?? '').split(',').includes('admin')
