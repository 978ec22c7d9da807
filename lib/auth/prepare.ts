import type { Config } from '../config'
import { SluiceError } from '../http/errors'
import { createFirstAdmin } from './first-admin'
import { authSecret, hasAnyAccount, newSetupToken } from './instance'

/**
 * At start, before serving: the settings better-auth reads from the environment, then either
 * the first admin from ADMIN_EMAIL/ADMIN_PASSWORD or a one-time setup link, while no account
 * exists (both ignored once one does).
 */
export async function prepareAccounts(config: Config): Promise<{ setupToken?: string; createdAdmin?: string }> {
  process.env.BETTER_AUTH_SECRET ||= await authSecret()
  process.env.BETTER_AUTH_URL ||= `http://localhost:${config.port}`
  if (await hasAnyAccount()) return {}
  if (config.admin) {
    try {
      const admin = await createFirstAdmin({ ...config.admin, name: 'Admin' })
      return { createdAdmin: admin.email }
    } catch (error) {
      // Another process started at the same moment made it.
      if (error instanceof SluiceError && error.code === 'INVALID_TRANSITION') return {}
      throw error
    }
  }
  return { setupToken: await newSetupToken() }
}
