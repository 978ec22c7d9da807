import { config } from '../config'
import { prisma } from '../db/pool'

// Failed sign-ins are counted per account and per address in PostgreSQL, so the limit holds
// however many processes serve Sluice. An address gets more tries than an account: behind a
// proxy or a shared network many people come from one address.
const ADDRESS_FACTOR = 4

const keysOf = (email: string, address: string) => [`email:${email.trim().toLowerCase()}`, `address:${address}`]

/** Why a sign-in may not even be tried now (too many failures in the window), or null. */
export async function signInRefusal(email: string, address: string): Promise<{ message: string; retryAfterSeconds: number } | null> {
  const { signInMaxFailures: max, signInWindowSeconds: window } = config()
  const since = new Date(Date.now() - window * 1000)
  const [emailKey, addressKey] = keysOf(email, address)
  const rows = await prisma().signInFailure.findMany({ where: { key: { in: [emailKey!, addressKey!] }, windowStart: { gt: since } } })
  const over = rows.find((r) => r.count >= (r.key === emailKey ? max : max * ADDRESS_FACTOR))
  if (!over) return null
  const retryAfterSeconds = Math.max(1, Math.ceil((over.windowStart.getTime() + window * 1000 - Date.now()) / 1000))
  return { message: `Too many failed sign-ins: try again in ${retryAfterSeconds} s`, retryAfterSeconds }
}

/** Counts one failed sign-in for the account and the address; a window older than the setting starts again. */
export async function recordSignInFailure(email: string, address: string): Promise<void> {
  const window = config().signInWindowSeconds
  for (const key of keysOf(email, address)) {
    await prisma().$executeRaw`
      INSERT INTO sign_in_failures (key, count, window_start) VALUES (${key}, 1, now())
      ON CONFLICT (key) DO UPDATE SET
        count = CASE WHEN sign_in_failures.window_start <= now() - make_interval(secs => ${window}) THEN 1 ELSE sign_in_failures.count + 1 END,
        window_start = CASE WHEN sign_in_failures.window_start <= now() - make_interval(secs => ${window}) THEN now() ELSE sign_in_failures.window_start END`
  }
}
