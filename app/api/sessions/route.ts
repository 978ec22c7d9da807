import { handleSignedIn } from '@/lib/auth/principal'
import { readJson } from '@/lib/http/errors'
import { CreateSessionBody } from '@/lib/sessions/schemas'
import { createSession, toSessionDto } from '@/lib/sessions/sessions'

/** POST /api/sessions: opens a batch session and its import. */
export const POST = (req: Request) =>
  handleSignedIn(req, async (who) => {
    const session = await createSession(CreateSessionBody.parse(await readJson(req)), who.userId)
    return Response.json(toSessionDto(session), { status: 201, headers: { Location: `/api/sessions/${session.id}` } })
  })
