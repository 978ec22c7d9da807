import { handleSignedIn, ownedBy } from '@/lib/auth/principal'
import { create as contentDisposition } from 'content-disposition'
import { openRejectsCsv } from '@/lib/imports/rejects-csv'
import { ImportParams } from '@/lib/imports/schemas'

export const dynamic = 'force-dynamic'

export const GET = (req: Request, ctx: RouteContext<'/api/imports/[id]/rejects.csv'>) =>
  handleSignedIn(req, async (who) => {
    const { id } = ImportParams.parse(await ctx.params)
    const { fileName, body } = await openRejectsCsv(id, ownedBy(who))
    return new Response(body, {
      headers: {
        'Content-Type': 'text/csv; charset=utf-8',
        'Content-Disposition': contentDisposition(fileName),
        'Cache-Control': 'no-store',
      },
    })
  })
