import { handleSignedIn } from '@/lib/auth/principal'
import { ImportParams } from '@/lib/imports/schemas'
import { suggestLoad } from '@/lib/loads/loads'
import { MappingQuery } from '@/lib/loads/schemas'

export const dynamic = 'force-dynamic'

/** GET /api/imports/:id/loads/mapping?table=schema.name: the table's columns and the file's column suggested for each. */
export const GET = (req: Request, ctx: RouteContext<'/api/imports/[id]/loads/mapping'>) =>
  handleSignedIn(req, async (who) => {
    const { id } = ImportParams.parse(await ctx.params)
    const { table } = MappingQuery.parse(Object.fromEntries(new URL(req.url).searchParams))
    return Response.json(await suggestLoad(id, table, who))
  })
