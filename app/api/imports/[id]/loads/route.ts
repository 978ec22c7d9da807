import { handleSignedIn, ownedBy } from '@/lib/auth/principal'
import { readJson } from '@/lib/http/errors'
import { getImport } from '@/lib/imports/imports'
import { ImportParams } from '@/lib/imports/schemas'
import { createLoad, listLoads, toLoadDto } from '@/lib/loads/loads'
import { LoadRequestSchema } from '@/lib/loads/schemas'

export const dynamic = 'force-dynamic'

/** GET /api/imports/:id/loads: the import's loads, newest first. */
export const GET = (req: Request, ctx: RouteContext<'/api/imports/[id]/loads'>) =>
  handleSignedIn(req, async (who) => {
    const { id } = ImportParams.parse(await ctx.params)
    await getImport(id, ownedBy(who))
    return Response.json({ loads: (await listLoads(id, ownedBy(who))).map(toLoadDto) })
  })

/** POST /api/imports/:id/loads: starts a load job (202). */
export const POST = (req: Request, ctx: RouteContext<'/api/imports/[id]/loads'>) =>
  handleSignedIn(req, async (who) => {
    const { id } = ImportParams.parse(await ctx.params)
    const load = await createLoad(id, LoadRequestSchema.parse(await readJson(req)), who)
    return Response.json(toLoadDto(load), { status: 202, headers: { Location: `/api/loads/${load.id}` } })
  })
