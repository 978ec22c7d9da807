import { handleSignedIn, ownedBy } from '@/lib/auth/principal'
import { listRows } from '@/lib/imports/imports'
import { ImportParams, RowsQuery } from '@/lib/imports/schemas'

export const dynamic = 'force-dynamic'

export const GET = (req: Request, ctx: RouteContext<'/api/imports/[id]/rows'>) =>
  handleSignedIn(req, async (who) => {
    const { id } = ImportParams.parse(await ctx.params)
    const page = RowsQuery.parse(Object.fromEntries(new URL(req.url).searchParams))
    return Response.json(await listRows(id, page, ownedBy(who)))
  })
