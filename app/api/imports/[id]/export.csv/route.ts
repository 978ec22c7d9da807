import { handleSignedIn, ownedBy } from '@/lib/auth/principal'
import { create as contentDisposition } from 'content-disposition'
import { openExportStream } from '@/lib/exports/export-stream'
import { ExportQuery } from '@/lib/exports/schemas'
import { ImportParams } from '@/lib/imports/schemas'

export const dynamic = 'force-dynamic'

export const GET = (req: Request, ctx: RouteContext<'/api/imports/[id]/export.csv'>) =>
  handleSignedIn(req, async (who) => {
    const { id } = ImportParams.parse(await ctx.params)
    const filter = ExportQuery.parse(Object.fromEntries(new URL(req.url).searchParams))
    const { fileName, body, contentType } = await openExportStream(id, filter, ownedBy(who), req.signal)
    return new Response(body, {
      headers: {
        'Content-Type': contentType,
        'Content-Disposition': contentDisposition(fileName),
        // no-transform keeps Next.js from gzipping it: compressing costs more CPU than the COPY itself.
        'Cache-Control': 'no-store, no-transform',
      },
    })
  })
