import { config } from '../config'
import { prisma } from '../db/pool'

// Sign-in attempts are counted per account and per address in PostgreSQL, so the limit holds
// however many processes serve Sluice. Each attempt is counted before it is tried, in one
// atomic upsert, so a burst of parallel guesses cannot all slip under the limit; a sign-in that
// succeeds takes its count back, so only failures add up. An address gets more tries than an
// account: behind a proxy or a shared network many people come from one address.
const ADDRESS_FACTOR = 4

const keysOf = (email: string, address: string) => [`email:${email.trim().toLowerCase()}`, `address:${address}`] as const

/**
 * Counts one attempt for the account and the address; the refusal when either has had more
 * than its share in the window (the attempt is then not tried), or null.
 */
export async function countSignInAttempt(email: string, address: string): Promise<{ message: string; retryAfterSeconds: number } | null> {
  const { signInMaxFailures: max, signInWindowSeconds: window } = config()
  const [emailKey, addressKey] = keysOf(email, address)
  let refusal: { message: string; retryAfterSeconds: number } | null = null
  for (const [key, limit] of [[emailKey, max], [addressKey, max * ADDRESS_FACTOR]] as const) {
    const [row] = await prisma().$queryRaw<{ count: number; window_start: Date }[]>`
      INSERT INTO sign_in_failures (key, count, window_start) VALUES (${key}, 1, now())
      ON CONFLICT (key) DO UPDATE SET
        count = CASE WHEN sign_in_failures.window_start <= now() - make_interval(secs => ${window}) THEN 1 ELSE sign_in_failures.count + 1 END,
        window_start = CASE WHEN sign_in_failures.window_start <= now() - make_interval(secs => ${window}) THEN now() ELSE sign_in_failures.window_start END
      RETURNING count, window_start`
    if (row && row.count > limit && !refusal) {
      const retryAfterSeconds = Math.max(1, Math.ceil((row.window_start.getTime() + window * 1000 - Date.now()) / 1000))
      refusal = { message: `Too many failed sign-ins: try again in ${retryAfterSeconds} s`, retryAfterSeconds }
    }
  }
  return refusal
}

/** A sign-in succeeded: its attempt does not count against the account or the address. */
export async function forgetSignInAttempt(email: string, address: string): Promise<void> {
  await prisma().signInFailure.updateMany({ where: { key: { in: [...keysOf(email, address)] }, count: { gt: 0 } }, data: { count: { decrement: 1 } } })
}
