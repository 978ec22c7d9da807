import { handleSignedIn, ownedBy } from '@/lib/auth/principal'
import { getLoad, toLoadDto } from '@/lib/loads/loads'
import { LoadParams } from '@/lib/loads/schemas'

export const dynamic = 'force-dynamic'

export const GET = (req: Request, ctx: RouteContext<'/api/loads/[id]'>) =>
  handleSignedIn(req, async (who) => {
    const { id } = LoadParams.parse(await ctx.params)
    return Response.json(toLoadDto(await getLoad(id, ownedBy(who))))
  })
