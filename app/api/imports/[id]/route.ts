import { handleSignedIn, ownedBy } from '@/lib/auth/principal'
import { getImport, toImportDto } from '@/lib/imports/imports'
import { ImportParams } from '@/lib/imports/schemas'

export const dynamic = 'force-dynamic'

export const GET = (req: Request, ctx: RouteContext<'/api/imports/[id]'>) =>
  handleSignedIn(req, async (who) => {
    const { id } = ImportParams.parse(await ctx.params)
    return Response.json(toImportDto(await getImport(id, ownedBy(who))))
  })
