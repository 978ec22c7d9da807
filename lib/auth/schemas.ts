import { z } from 'zod'

/** The body of `POST /api/keys`. */
export const CreateKeyBody = z.object({
  name: z.string().trim().min(1, 'must not be empty').max(100).describe('What the key is for, like "nightly export" or "laptop"'),
})

/** A key as listed: never its secret, only its first characters. */
export const ApiKeyDtoSchema = z.object({
  id: z.string(),
  name: z.string(),
  start: z.string().nullable().describe('The first characters of the key, to tell keys apart'),
  createdAt: z.iso.datetime(),
  lastUsedAt: z.iso.datetime().nullable().describe('To the minute'),
  expiresAt: z.iso.datetime().nullable(),
})
export type ApiKeyDto = z.infer<typeof ApiKeyDtoSchema>

/** The answer of `POST /api/keys`: the key itself, shown this once. */
export const CreatedKeySchema = z.object({
  id: z.string(),
  name: z.string(),
  key: z.string().describe('Send it as Authorization: Bearer <key>; it is not shown again'),
  createdAt: z.iso.datetime(),
})
export type CreatedKey = z.infer<typeof CreatedKeySchema>

export const KeyListSchema = z.object({ keys: z.array(ApiKeyDtoSchema) })
export const KeyParams = z.object({ id: z.string().max(200) })

/** The answer of `GET /api/me`. */
export const MeSchema = z.object({
  id: z.string(),
  name: z.string(),
  email: z.string(),
  isAdmin: z.boolean(),
  via: z.enum(['session', 'key']).describe('How this request was signed in: a session cookie or an API key'),
})
export type Me = z.infer<typeof MeSchema>

/** The body of `POST /api/setup` (and of accepting an invite). */
export const SetupBody = z.object({
  token: z.string().max(200).describe('The token of the setup link (or of the invite)'),
  name: z.string().trim().max(200),
  email: z.email().max(320),
  password: z.string().min(12, 'must have at least 12 characters').max(256),
})

const Role = z.enum(['user', 'admin'])

/** An account as the admin API lists it. */
export const AccountDtoSchema = z.object({
  id: z.string(),
  name: z.string(),
  email: z.string(),
  role: Role,
  active: z.boolean().describe('False once an admin deactivated it: its sessions and keys no longer work'),
  createdAt: z.iso.datetime(),
})
export type AccountDto = z.infer<typeof AccountDtoSchema>
export const AccountListSchema = z.object({ accounts: z.array(AccountDtoSchema) })

/** The body of `POST /api/admin/accounts`. */
export const CreateAccountBody = z.object({
  name: z.string().trim().max(200),
  email: z.email().max(320),
  password: z.string().min(12, 'must have at least 12 characters').max(256),
  role: Role.default('user'),
})

export const AccountParams = z.object({ id: z.string().max(200) })
/** The body of `PATCH /api/admin/accounts/:id`: what to change. */
export const UpdateAccountBody = z
  .object({ active: z.boolean().optional(), role: Role.optional() })
  .refine((b) => b.active !== undefined || b.role !== undefined, 'give active or role')

export const InviteDtoSchema = z.object({
  id: z.uuid(),
  role: Role,
  createdAt: z.iso.datetime(),
  expiresAt: z.iso.datetime().describe('7 days after it was made'),
  usedAt: z.iso.datetime().nullable(),
})
export type InviteDto = z.infer<typeof InviteDtoSchema>
export const CreatedInviteSchema = InviteDtoSchema.extend({ url: z.string().describe('The link to send: it makes one account, within 7 days') })
export const InviteListSchema = z.object({ invites: z.array(InviteDtoSchema) })
export const CreateInviteBody = z.object({ role: Role.default('user') })
export const InviteParams = z.object({ id: z.string().max(200) })

/** The body of `PUT /api/admin/settings`. */
export const InstanceSettingsSchema = z.object({ signUpOpen: z.boolean().describe('Whether anyone may create an account without an invite') })
