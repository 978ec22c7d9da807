import { setAccountActive, setAccountRole } from '@/lib/auth/accounts'
import { handleSignedIn, requireAdmin } from '@/lib/auth/principal'
import { AccountParams, UpdateAccountBody } from '@/lib/auth/schemas'
import { readJson } from '@/lib/http/errors'

export const dynamic = 'force-dynamic'

/** PATCH /api/admin/accounts/:id: deactivate or reactivate it, or change its role (admins only). */
export const PATCH = (req: Request, ctx: RouteContext<'/api/admin/accounts/[id]'>) =>
  handleSignedIn(req, async (who) => {
    requireAdmin(who)
    const { id } = AccountParams.parse(await ctx.params)
    const change = UpdateAccountBody.parse(await readJson(req))
    let account = change.active !== undefined ? await setAccountActive(who, id, change.active) : undefined
    if (change.role !== undefined) account = await setAccountRole(who, id, change.role)
    return Response.json(account)
  })
