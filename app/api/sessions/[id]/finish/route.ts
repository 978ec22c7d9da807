import { handleSignedIn, ownedBy } from '@/lib/auth/principal'
import { readJson } from '@/lib/http/errors'
import { FinishSessionBody, SessionParams } from '@/lib/sessions/schemas'
import { finishSession, toSessionDto } from '@/lib/sessions/sessions'

/** POST /api/sessions/:id/finish: checks the client's total; when it matches, the import is PROCESSED. */
export const POST = (req: Request, ctx: RouteContext<'/api/sessions/[id]/finish'>) =>
  handleSignedIn(req, async (who) => {
    const { id } = SessionParams.parse(await ctx.params)
    const { totalRecords } = FinishSessionBody.parse(await readJson(req))
    return Response.json(toSessionDto(await finishSession(id, totalRecords, ownedBy(who))))
  })
