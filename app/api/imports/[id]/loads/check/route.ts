import { handleSignedIn } from '@/lib/auth/principal'
import { readJson } from '@/lib/http/errors'
import { ImportParams } from '@/lib/imports/schemas'
import { checkLoad } from '@/lib/loads/loads'
import { LoadRequestSchema } from '@/lib/loads/schemas'

export const dynamic = 'force-dynamic'

/** POST /api/imports/:id/loads/check: what the load would do and what stands in its way; writes nothing. */
export const POST = (req: Request, ctx: RouteContext<'/api/imports/[id]/loads/check'>) =>
  handleSignedIn(req, async (who) => {
    const { id } = ImportParams.parse(await ctx.params)
    return Response.json(await checkLoad(id, LoadRequestSchema.parse(await readJson(req)), who))
  })
