import { downloadExport } from '@/lib/exports/download'
import { exportOfLink } from '@/lib/exports/exports'
import { handle } from '@/lib/http/errors'

export const dynamic = 'force-dynamic'

// GET|HEAD /api/links/:token: an export's file for whoever holds its link, without signing in
// (the token is the credential), with Range and ETag like the signed-in download.
const serve = (req: Request, ctx: RouteContext<'/api/links/[token]'>) =>
  handle(async () => {
    const { token } = await ctx.params
    const res = await downloadExport(await exportOfLink(token), req)
    // The link is a secret: no Referer carries it onward.
    res.headers.set('Referrer-Policy', 'no-referrer')
    return res
  })

export const GET = serve
export const HEAD = serve
