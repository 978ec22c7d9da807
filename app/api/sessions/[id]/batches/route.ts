import { handleSignedIn, ownedBy } from '@/lib/auth/principal'
import { config } from '@/lib/config'
import { readJson } from '@/lib/http/errors'
import { BatchBody, SessionParams } from '@/lib/sessions/schemas'
import { appendBatch } from '@/lib/sessions/sessions'

/** POST /api/sessions/:id/batches: appends one batch of records, all or nothing. */
export const POST = (req: Request, ctx: RouteContext<'/api/sessions/[id]/batches'>) =>
  handleSignedIn(req, async (who) => {
    const { id } = SessionParams.parse(await ctx.params)
    const body = BatchBody.parse(await readJson(req, { bytes: config().maxBatchBytes, setting: 'MAX_BATCH_BYTES', advice: 'send the records in smaller batches' }))
    return Response.json(await appendBatch(id, body, ownedBy(who)))
  })
