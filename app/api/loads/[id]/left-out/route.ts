import { handleSignedIn, ownedBy } from '@/lib/auth/principal'
import { RowsQuery } from '@/lib/imports/schemas'
import { getLoad, leftOutOf } from '@/lib/loads/loads'
import { LoadParams } from '@/lib/loads/schemas'

export const dynamic = 'force-dynamic'

/** GET /api/loads/:id/left-out: the rows a finished load left out, with line, column and reason. */
export const GET = (req: Request, ctx: RouteContext<'/api/loads/[id]/left-out'>) =>
  handleSignedIn(req, async (who) => {
    const { id } = LoadParams.parse(await ctx.params)
    const page = RowsQuery.parse(Object.fromEntries(new URL(req.url).searchParams))
    const load = await getLoad(id, ownedBy(who))
    return Response.json({ leftOut: await leftOutOf(load, page.limit, page.offset), ...page })
  })
