import { handleSignedIn, ownedBy } from '@/lib/auth/principal'
import { readJson } from '@/lib/http/errors'
import { getImport, toImportDto } from '@/lib/imports/imports'
import { retypeColumn } from '@/lib/imports/retype'
import { ColumnParams, RetypeColumnBody } from '@/lib/imports/schemas'

/** PATCH /api/imports/:id/columns/:column: changes the column's type; values that do not fit become rejects. */
export const PATCH = (req: Request, ctx: RouteContext<'/api/imports/[id]/columns/[column]'>) =>
  handleSignedIn(req, async (who) => {
    const { id, column } = ColumnParams.parse(await ctx.params)
    const body = RetypeColumnBody.parse(await readJson(req))
    const result = await retypeColumn(id, column, body, ownedBy(who))
    return Response.json({ import: toImportDto(await getImport(id, ownedBy(who))), ...result })
  })
