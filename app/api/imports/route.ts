import { handle } from '@/lib/http/errors'
import { listImports, toImportDto } from '@/lib/imports/imports'
import { ImportListQuery, type ImportList } from '@/lib/imports/schemas'

export const dynamic = 'force-dynamic'

export const GET = (req: Request) =>
  handle(async () => {
    const { upload } = ImportListQuery.parse(Object.fromEntries(new URL(req.url).searchParams))
    const imports = await listImports({ uploadId: upload })
    return Response.json({ imports: imports.map(toImportDto) } satisfies ImportList)
  })
