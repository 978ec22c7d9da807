import { pool } from '../db/pool'
import { SluiceError } from '../http/errors'
import { auth } from './auth'
import { MIN_PASSWORD_LENGTH } from './passwords'

export type NewAccount = { email: string; password: string; name: string }

export function checkPassword(password: string): void {
  if (password.length < MIN_PASSWORD_LENGTH) throw new SluiceError('BAD_REQUEST', `The password must have at least ${MIN_PASSWORD_LENGTH} characters`)
}

/**
 * Creates the first account, an admin, unless an account exists already (then CONFLICT-like
 * INVALID_TRANSITION). Two at once make exactly one: the second waits on the settings row's
 * lock and then sees the first's account. The admin also becomes the owner of every row made
 * before accounts existed, and the setup token is used up.
 */
export async function createFirstAdmin(account: NewAccount): Promise<{ id: string; email: string }> {
  checkPassword(account.password)
  const client = await pool().connect()
  try {
    await client.query('BEGIN')
    await client.query('SELECT 1 FROM instance_settings WHERE id = 1 FOR UPDATE')
    const { rows } = await client.query<{ n: number }>('SELECT count(*)::int AS n FROM users')
    if (rows[0]!.n > 0) throw new SluiceError('INVALID_TRANSITION', 'Sluice is set up already: sign in instead')
    const { user } = await auth().api.createUser({ body: { email: account.email.trim(), password: account.password, name: account.name.trim() || account.email.trim(), role: 'admin' } })
    for (const table of ['uploads', 'imports', 'exports', 'batch_sessions']) {
      await client.query(`UPDATE ${table} SET owner_id = $1 WHERE owner_id IS NULL`, [user.id])
    }
    await client.query('UPDATE instance_settings SET setup_token_hash = NULL WHERE id = 1')
    await client.query('COMMIT')
    return { id: user.id, email: user.email }
  } catch (error) {
    await client.query('ROLLBACK').catch(() => {})
    throw error
  } finally {
    client.release()
  }
}
