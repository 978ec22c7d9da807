import { createAccount, listAccounts } from '@/lib/auth/accounts'
import { handleSignedIn, requireAdmin } from '@/lib/auth/principal'
import { CreateAccountBody } from '@/lib/auth/schemas'
import { readJson } from '@/lib/http/errors'

export const dynamic = 'force-dynamic'

/** GET /api/admin/accounts: every account (admins only). */
export const GET = (req: Request) =>
  handleSignedIn(req, async (who) => {
    requireAdmin(who)
    return Response.json({ accounts: await listAccounts() })
  })

/** POST /api/admin/accounts: a new account (admins only). */
export const POST = (req: Request) =>
  handleSignedIn(req, async (who) => {
    requireAdmin(who)
    const account = await createAccount(CreateAccountBody.parse(await readJson(req)))
    return Response.json(account, { status: 201 })
  })
