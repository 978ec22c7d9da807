import { betterAuth } from 'better-auth'
import { APIError, createAuthMiddleware } from 'better-auth/api'
import { admin } from 'better-auth/plugins'
import { nextCookies } from 'better-auth/next-js'
import { apiKey } from '@better-auth/api-key'
import { pool } from '../db/pool'
import { clientAddress } from './client-address'
import { MAX_PASSWORD_LENGTH, MIN_PASSWORD_LENGTH } from './passwords'
import { isSignUpOpen } from './instance'
import { countSignInAttempt, forgetSignInAttempt } from './sign-in-limit'

/** Prefix of every API key, so a leaked one is recognised (and found by secret scanners). */
export const API_KEY_PREFIX = 'sluice_'

const ts = { createdAt: 'created_at', updatedAt: 'updated_at' }

function createAuth() {
  return betterAuth({
    // The same pool as Prisma's: better-auth's own Kysely dialect, with transactions on. Its
    // tables are created by prisma/migrations (20261202000000_accounts), not by its CLI.
    database: pool(),
    // scripts/start.ts sets both: the secret from the database (or BETTER_AUTH_SECRET), the URL
    // from PORT (or BETTER_AUTH_URL); https there makes the session cookie Secure.
    secret: process.env.BETTER_AUTH_SECRET,
    baseURL: process.env.BETTER_AUTH_URL,
    // Sluice is reached as localhost, 127.0.0.1 or whatever host a proxy forwards: the origin a
    // request came to is the one its browser must come from.
    trustedOrigins: (request) => (request ? [ownOrigin(request)] : []),
    telemetry: { enabled: false },
    emailAndPassword: { enabled: true, minPasswordLength: MIN_PASSWORD_LENGTH, maxPasswordLength: MAX_PASSWORD_LENGTH },
    // cookieCache stays off (the default): a revoked session or a deactivated account must stop
    // at once, not when a signed cookie runs out.
    session: { modelName: 'sessions', fields: { expiresAt: 'expires_at', ipAddress: 'ip_address', userAgent: 'user_agent', userId: 'user_id', ...ts } },
    user: { modelName: 'users', fields: { emailVerified: 'email_verified', ...ts } },
    account: {
      modelName: 'accounts',
      fields: {
        accountId: 'account_id',
        providerId: 'provider_id',
        userId: 'user_id',
        accessToken: 'access_token',
        refreshToken: 'refresh_token',
        idToken: 'id_token',
        accessTokenExpiresAt: 'access_token_expires_at',
        refreshTokenExpiresAt: 'refresh_token_expires_at',
        ...ts,
      },
    },
    verification: { modelName: 'verifications', fields: { expiresAt: 'expires_at', ...ts } },
    // Its limiter counts per process or per (spoofable) X-Forwarded-For; sign-in is limited in
    // the database instead (sign-in-limit.ts), per address and per account.
    rateLimit: { enabled: false },
    advanced: {
      ipAddress: { ipAddressHeaders: ['x-sluice-client-address'] },
      // Said outright: better-auth turns both off by itself when NODE_ENV is "test" or TEST is
      // set, and Sluice must never run without them (its own tests included).
      disableOriginCheck: false,
      disableCSRFCheck: false,
      // Its check of the schema reads every column of every table in the database (each
      // import's too) before the first request after a start is answered: a sign-in failed with
      // a 500 when a recovering import dropped a batch table during that read. Sluice's
      // migrations make the auth tables, and its tests sign in through them.
      database: { validateSchema: false },
    },
    hooks: {
      before: createAuthMiddleware(async (ctx) => {
        if (ctx.path === '/sign-in/email') {
          const refusal = await countSignInAttempt(String(ctx.body?.email ?? ''), clientAddress(ctx.headers))
          if (refusal) throw new APIError('TOO_MANY_REQUESTS', { message: refusal.message, code: 'TOO_MANY_ATTEMPTS' }, { 'Retry-After': String(refusal.retryAfterSeconds) })
        }
        if (ctx.path === '/sign-up/email' && !(await isSignUpOpen())) {
          throw new APIError('FORBIDDEN', { message: 'Sign-up is by invite: ask an admin for an invite link', code: 'SIGN_UP_BY_INVITE' })
        }
        // Deleting an account would orphan (or take with it) the imports it owns: deactivate it.
        if (ctx.path === '/admin/remove-user') {
          throw new APIError('FORBIDDEN', { message: 'Accounts are deactivated, not removed: their imports and exports stay', code: 'DEACTIVATE_INSTEAD' })
        }
        // The admin plugin's create-user does not check the minimum length (better-auth PR #5569).
        if (ctx.path === '/admin/create-user' && String(ctx.body?.password ?? '').length < MIN_PASSWORD_LENGTH) {
          throw new APIError('BAD_REQUEST', { message: `The password must have at least ${MIN_PASSWORD_LENGTH} characters`, code: 'PASSWORD_TOO_SHORT' })
        }
      }),
      after: createAuthMiddleware(async (ctx) => {
        if (ctx.path !== '/sign-in/email' || ctx.context.returned instanceof APIError) return
        await forgetSignInAttempt(String(ctx.body?.email ?? ''), clientAddress(ctx.headers))
      }),
    },
    plugins: [
      admin({ schema: { user: { fields: { banReason: 'ban_reason', banExpires: 'ban_expires' } }, session: { fields: { impersonatedBy: 'impersonated_by' } } } }),
      apiKey({
        defaultPrefix: API_KEY_PREFIX,
        requireName: true,
        // The prefix and a few characters of the key itself, so that a list can tell keys apart.
        startingCharactersConfig: { shouldStore: true, charactersLength: API_KEY_PREFIX.length + 6 },
        maximumNameLength: 100,
        // Its default is 10 requests a day per key; a 1 GiB upload alone is dozens of PATCHes.
        rateLimit: { enabled: false },
        schema: {
          apikey: {
            modelName: 'api_keys',
            fields: {
              configId: 'config_id',
              referenceId: 'reference_id',
              refillInterval: 'refill_interval',
              refillAmount: 'refill_amount',
              lastRefillAt: 'last_refill_at',
              rateLimitEnabled: 'rate_limit_enabled',
              rateLimitTimeWindow: 'rate_limit_time_window',
              rateLimitMax: 'rate_limit_max',
              requestCount: 'request_count',
              lastRequest: 'last_request',
              expiresAt: 'expires_at',
              ...ts,
            },
          },
        },
      }),
      nextCookies(), // last, as better-auth asks: sets the cookies of auth.api calls in server actions
    ],
  })
}

/** The origin a request was made to (behind a proxy: the one it forwards). */
export function ownOrigin(req: Request): string {
  const url = new URL(req.url)
  const host = req.headers.get('x-forwarded-host') ?? req.headers.get('host') ?? url.host
  const proto = req.headers.get('x-forwarded-proto') ?? url.protocol.replace(/:$/, '')
  return `${proto}://${host}`
}

type Auth = ReturnType<typeof createAuth>
const globals = globalThis as unknown as { sluiceAuth?: Auth }

/** better-auth, configured for Sluice; one per process. */
export const auth = (): Auth => (globals.sluiceAuth ??= createAuth())
