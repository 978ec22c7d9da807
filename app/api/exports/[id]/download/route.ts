import { handleSignedIn, ownedBy } from '@/lib/auth/principal'
import { downloadExport } from '@/lib/exports/download'
import { ExportParams } from '@/lib/exports/schemas'
import { getExport } from '@/lib/exports/exports'

export const dynamic = 'force-dynamic'

const serve = (req: Request, ctx: RouteContext<'/api/exports/[id]/download'>) =>
  handleSignedIn(req, async (who) => {
    const { id } = ExportParams.parse(await ctx.params)
    return downloadExport(await getExport(id, ownedBy(who)), req)
  })

export const GET = serve
export const HEAD = serve
