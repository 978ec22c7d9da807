import { handleSignedIn, ownedBy } from '@/lib/auth/principal'
import { createExport, listExports, toExportDto } from '@/lib/exports/exports'
import { CreateExportBody, ExportListQuery, type ExportList } from '@/lib/exports/schemas'
import { readJson } from '@/lib/http/errors'

export const dynamic = 'force-dynamic'

export const GET = (req: Request) =>
  handleSignedIn(req, async (who) => {
    const query = ExportListQuery.parse(Object.fromEntries(new URL(req.url).searchParams))
    const exports = await listExports({ importId: query.import }, ownedBy(who))
    return Response.json({ exports: exports.map(toExportDto) } satisfies ExportList)
  })

export const POST = (req: Request) =>
  handleSignedIn(req, async (who) => {
    const { importId, ...filter } = CreateExportBody.parse(await readJson(req))
    const exp = await createExport(importId, filter, who)
    return Response.json(toExportDto(exp), { status: 201, headers: { Location: `/api/exports/${exp.id}` } })
  })
