import { handle } from '@/lib/http/errors'
import { listRejects } from '@/lib/imports/imports'
import { ImportParams, RowsQuery, type RejectsPage } from '@/lib/imports/schemas'

export const dynamic = 'force-dynamic'

export const GET = (req: Request, ctx: RouteContext<'/api/imports/[id]/rejects'>) =>
  handle(async () => {
    const { id } = ImportParams.parse(await ctx.params)
    const page = RowsQuery.parse(Object.fromEntries(new URL(req.url).searchParams))
    return Response.json({ rejects: await listRejects(id, page), ...page } satisfies RejectsPage)
  })
