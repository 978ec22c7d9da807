import { handleSignedIn, ownedBy } from '@/lib/auth/principal'
import { getExport, stopExport, toExportDto } from '@/lib/exports/exports'
import { ExportParams } from '@/lib/exports/schemas'

export const dynamic = 'force-dynamic'

export const POST = (req: Request, ctx: RouteContext<'/api/exports/[id]/stop'>) =>
  handleSignedIn(req, async (who) => {
    const { id } = ExportParams.parse(await ctx.params)
    await getExport(id, ownedBy(who))
    return Response.json(toExportDto(await stopExport(id)))
  })
