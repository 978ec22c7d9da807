import { downloadExport } from '@/lib/exports/download'
import { ExportParams } from '@/lib/exports/schemas'
import { handle } from '@/lib/http/errors'

export const dynamic = 'force-dynamic'

const serve = (req: Request, ctx: RouteContext<'/api/exports/[id]/download'>) =>
  handle(async () => {
    const { id } = ExportParams.parse(await ctx.params)
    return downloadExport(id, req)
  })

export const GET = serve
export const HEAD = serve
