import { handleSignedIn, ownedBy } from '@/lib/auth/principal'
import { SessionParams } from '@/lib/sessions/schemas'
import { getSession, toSessionDto } from '@/lib/sessions/sessions'

export const dynamic = 'force-dynamic'

/** GET /api/sessions/:id: the session, with the records and batches that arrived so far. */
export const GET = (req: Request, ctx: RouteContext<'/api/sessions/[id]'>) =>
  handleSignedIn(req, async (who) => {
    const { id } = SessionParams.parse(await ctx.params)
    return Response.json(toSessionDto(await getSession(id, ownedBy(who))))
  })
