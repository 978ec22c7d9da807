import { handleSignedIn, ownedBy } from '@/lib/auth/principal'
import { getLoad, stopLoad, toLoadDto } from '@/lib/loads/loads'
import { LoadParams } from '@/lib/loads/schemas'

export const dynamic = 'force-dynamic'

/** POST /api/loads/:id/stop: the load's transaction rolls back; the table is as it was. */
export const POST = (req: Request, ctx: RouteContext<'/api/loads/[id]/stop'>) =>
  handleSignedIn(req, async (who) => {
    const { id } = LoadParams.parse(await ctx.params)
    await getLoad(id, ownedBy(who))
    return Response.json(toLoadDto(await stopLoad(id)))
  })
