import { handleSignedIn, ownedBy } from '@/lib/auth/principal'
import { getExport, toExportDto } from '@/lib/exports/exports'
import { ExportParams } from '@/lib/exports/schemas'

export const dynamic = 'force-dynamic'

export const GET = (req: Request, ctx: RouteContext<'/api/exports/[id]'>) =>
  handleSignedIn(req, async (who) => {
    const { id } = ExportParams.parse(await ctx.params)
    return Response.json(toExportDto(await getExport(id, ownedBy(who))))
  })
