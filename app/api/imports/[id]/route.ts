import { handleSignedIn, ownedBy } from '@/lib/auth/principal'
import { endExportsOfImport } from '@/lib/exports/exports'
import { deleteImport, getImport, storageOf, toImportDto } from '@/lib/imports/imports'
import { ImportParams } from '@/lib/imports/schemas'
import { stopLoadsOfImport } from '@/lib/loads/loads'

export const dynamic = 'force-dynamic'

export const GET = (req: Request, ctx: RouteContext<'/api/imports/[id]'>) =>
  handleSignedIn(req, async (who) => {
    const { id } = ImportParams.parse(await ctx.params)
    const imp = await getImport(id, ownedBy(who))
    return Response.json({ ...toImportDto(imp), storage: await storageOf(imp) })
  })

/** DELETE /api/imports/:id: the import, its table, its uploaded file, its exports and its loads are gone (204); a running load rolls back. */
export const DELETE = (req: Request, ctx: RouteContext<'/api/imports/[id]'>) =>
  handleSignedIn(req, async (who) => {
    const { id } = ImportParams.parse(await ctx.params)
    await getImport(id, ownedBy(who))
    await endExportsOfImport(id)
    await stopLoadsOfImport(id)
    await deleteImport(id)
    return new Response(null, { status: 204 })
  })
