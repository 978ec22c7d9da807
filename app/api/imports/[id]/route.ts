import { handle } from '@/lib/http/errors'
import { getImport, toImportDto } from '@/lib/imports/imports'
import { ImportParams } from '@/lib/imports/schemas'

export const dynamic = 'force-dynamic'

export const GET = (_req: Request, ctx: RouteContext<'/api/imports/[id]'>) =>
  handle(async () => {
    const { id } = ImportParams.parse(await ctx.params)
    return Response.json(toImportDto(await getImport(id)))
  })
