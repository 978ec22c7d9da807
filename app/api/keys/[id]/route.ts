import { revokeKey } from '@/lib/auth/api-keys'
import { handleSignedIn } from '@/lib/auth/principal'
import { KeyParams } from '@/lib/auth/schemas'

export const dynamic = 'force-dynamic'

/** DELETE /api/keys/:id: revokes one of the person's keys (404 for anyone else's). */
export const DELETE = (req: Request, ctx: RouteContext<'/api/keys/[id]'>) =>
  handleSignedIn(req, async (who) => {
    const { id } = KeyParams.parse(await ctx.params)
    await revokeKey(who, id)
    return new Response(null, { status: 204 })
  })
