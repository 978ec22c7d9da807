import { handleSignedIn, ownedBy } from '@/lib/auth/principal'
import { drainBatch, readBatch } from '@/lib/sessions/batch-request'
import { SessionParams } from '@/lib/sessions/schemas'
import { appendBatch } from '@/lib/sessions/sessions'

/** POST /api/sessions/:id/batches: appends one batch of records (JSON, NDJSON or CSV), all or nothing. */
export const POST = (req: Request, ctx: RouteContext<'/api/sessions/[id]/batches'>) =>
  handleSignedIn(req, async (who) => {
    const { id } = SessionParams.parse(await ctx.params)
    try {
      return Response.json(await appendBatch(id, await readBatch(req), ownedBy(who)))
    } finally {
      // So that a client still sending reads the answer, not a reset connection.
      await drainBatch(req)
    }
  })
