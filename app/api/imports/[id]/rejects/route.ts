import { handleSignedIn, ownedBy } from '@/lib/auth/principal'
import { listRejects } from '@/lib/imports/imports'
import { ImportParams, RowsQuery, type RejectsPage } from '@/lib/imports/schemas'

export const dynamic = 'force-dynamic'

export const GET = (req: Request, ctx: RouteContext<'/api/imports/[id]/rejects'>) =>
  handleSignedIn(req, async (who) => {
    const { id } = ImportParams.parse(await ctx.params)
    const page = RowsQuery.parse(Object.fromEntries(new URL(req.url).searchParams))
    return Response.json({ rejects: await listRejects(id, page, ownedBy(who)), ...page } satisfies RejectsPage)
  })
