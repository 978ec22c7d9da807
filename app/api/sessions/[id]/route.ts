import { handle } from '@/lib/http/errors'
import { SessionParams } from '@/lib/sessions/schemas'
import { getSession, toSessionDto } from '@/lib/sessions/sessions'

export const dynamic = 'force-dynamic'

/** GET /api/sessions/:id: the session, with the records and batches that arrived so far. */
export const GET = (_req: Request, ctx: RouteContext<'/api/sessions/[id]'>) =>
  handle(async () => {
    const { id } = SessionParams.parse(await ctx.params)
    return Response.json(toSessionDto(await getSession(id)))
  })
