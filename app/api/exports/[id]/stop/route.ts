import { stopExport, toExportDto } from '@/lib/exports/exports'
import { ExportParams } from '@/lib/exports/schemas'
import { handle } from '@/lib/http/errors'

export const dynamic = 'force-dynamic'

export const POST = (_req: Request, ctx: RouteContext<'/api/exports/[id]/stop'>) =>
  handle(async () => {
    const { id } = ExportParams.parse(await ctx.params)
    return Response.json(toExportDto(await stopExport(id)))
  })
