import { handleSignedIn, ownedBy } from '@/lib/auth/principal'
import { previewExport } from '@/lib/exports/export-preview'
import { ExportPreviewQuery } from '@/lib/exports/schemas'
import { ImportParams } from '@/lib/imports/schemas'

export const dynamic = 'force-dynamic'

export const GET = (req: Request, ctx: RouteContext<'/api/imports/[id]/export-preview'>) =>
  handleSignedIn(req, async (who) => {
    const { id } = ImportParams.parse(await ctx.params)
    const query = ExportPreviewQuery.parse(Object.fromEntries(new URL(req.url).searchParams))
    return Response.json(await previewExport(id, query, ownedBy(who)))
  })
