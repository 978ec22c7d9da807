import { handleSignedIn, ownedBy } from '@/lib/auth/principal'
import { getExport, revokeExportLink, shareExport, toExportDto } from '@/lib/exports/exports'
import { ExportParams } from '@/lib/exports/schemas'

export const dynamic = 'force-dynamic'

/** POST /api/exports/:id/link: the export's send-able download link (made at the first call). */
export const POST = (req: Request, ctx: RouteContext<'/api/exports/[id]/link'>) =>
  handleSignedIn(req, async (who) => {
    const { id } = ExportParams.parse(await ctx.params)
    return Response.json(toExportDto(await shareExport(await getExport(id, ownedBy(who)))))
  })

/** DELETE /api/exports/:id/link: revokes it; the link answers 404 from then on. */
export const DELETE = (req: Request, ctx: RouteContext<'/api/exports/[id]/link'>) =>
  handleSignedIn(req, async (who) => {
    const { id } = ExportParams.parse(await ctx.params)
    return Response.json(toExportDto(await revokeExportLink(await getExport(id, ownedBy(who)))))
  })
