import { revokeInvite } from '@/lib/auth/invites'
import { handleSignedIn, requireAdmin } from '@/lib/auth/principal'
import { InviteParams } from '@/lib/auth/schemas'

export const dynamic = 'force-dynamic'

/** DELETE /api/admin/invites/:id: revokes an open invite (admins only). */
export const DELETE = (req: Request, ctx: RouteContext<'/api/admin/invites/[id]'>) =>
  handleSignedIn(req, async (who) => {
    requireAdmin(who)
    const { id } = InviteParams.parse(await ctx.params)
    await revokeInvite(id)
    return new Response(null, { status: 204 })
  })
