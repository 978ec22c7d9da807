import { getExport, toExportDto } from '@/lib/exports/exports'
import { ExportParams } from '@/lib/exports/schemas'
import { handle } from '@/lib/http/errors'

export const dynamic = 'force-dynamic'

export const GET = (_req: Request, ctx: RouteContext<'/api/exports/[id]'>) =>
  handle(async () => {
    const { id } = ExportParams.parse(await ctx.params)
    return Response.json(toExportDto(await getExport(id)))
  })
