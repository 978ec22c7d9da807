import { handleSignedIn, ownedBy } from '@/lib/auth/principal'
import { listImports, toImportDto } from '@/lib/imports/imports'
import { ImportListQuery, type ImportList } from '@/lib/imports/schemas'

export const dynamic = 'force-dynamic'

export const GET = (req: Request) =>
  handleSignedIn(req, async (who) => {
    const { upload } = ImportListQuery.parse(Object.fromEntries(new URL(req.url).searchParams))
    const imports = await listImports({ uploadId: upload }, ownedBy(who))
    return Response.json({ imports: imports.map(toImportDto) } satisfies ImportList)
  })
