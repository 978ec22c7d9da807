import { create as contentDisposition } from 'content-disposition'
import pg from 'pg'
import { handleSignedIn, ownedBy } from '@/lib/auth/principal'
import { copyOut } from '@/lib/db/copy-out'
import { getLoad } from '@/lib/loads/loads'
import { LoadParams } from '@/lib/loads/schemas'

export const dynamic = 'force-dynamic'

/** GET /api/loads/:id/left-out.csv: every row the load left out (line, column, value, reason), as CSV. */
export const GET = (req: Request, ctx: RouteContext<'/api/loads/[id]/left-out.csv'>) =>
  handleSignedIn(req, async (who) => {
    const { id } = LoadParams.parse(await ctx.params)
    const load = await getLoad(id, ownedBy(who))
    const body = await copyOut(`COPY (SELECT line, "column", value, reason FROM load_left_out WHERE load_id = ${pg.escapeLiteral(load.id)} ORDER BY n)
      TO STDOUT (FORMAT csv, HEADER)`)
    return new Response(body, {
      headers: {
        'Content-Type': 'text/csv; charset=utf-8',
        'Content-Disposition': contentDisposition(`${load.targetTable}-left-out.csv`),
        'Cache-Control': 'no-store',
      },
    })
  })
