import { create as contentDisposition } from 'content-disposition'
import { handle } from '@/lib/http/errors'
import { openRejectsCsv } from '@/lib/imports/rejects-csv'
import { ImportParams } from '@/lib/imports/schemas'

export const dynamic = 'force-dynamic'

export const GET = (_req: Request, ctx: RouteContext<'/api/imports/[id]/rejects.csv'>) =>
  handle(async () => {
    const { id } = ImportParams.parse(await ctx.params)
    const { fileName, body } = await openRejectsCsv(id)
    return new Response(body, {
      headers: {
        'Content-Type': 'text/csv; charset=utf-8',
        'Content-Disposition': contentDisposition(fileName),
        'Cache-Control': 'no-store',
      },
    })
  })
