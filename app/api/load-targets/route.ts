import { handleSignedIn } from '@/lib/auth/principal'
import { TargetListQuery } from '@/lib/loads/schemas'
import { listTargets } from '@/lib/loads/targets'

export const dynamic = 'force-dynamic'

/** GET /api/load-targets?search=: the tables this person may load into. */
export const GET = (req: Request) =>
  handleSignedIn(req, async (who) => {
    const { search } = TargetListQuery.parse(Object.fromEntries(new URL(req.url).searchParams))
    return Response.json({ tables: await listTargets(who, search) })
  })
