import { acceptInvite } from '@/lib/auth/invites'
import { SetupBody } from '@/lib/auth/schemas'
import { handle, readJson, SluiceError } from '@/lib/http/errors'

export const dynamic = 'force-dynamic'

/** POST /api/invites/accept: the invite link's token makes one account (then sign in). */
export const POST = (req: Request) =>
  handle(async () => {
    const body = await readJson(req)
    // The token is this route's credential: without one it answers as every route does.
    const token = (body as { token?: unknown } | null)?.token
    if (typeof token !== 'string' || !token) throw new SluiceError('UNAUTHORIZED', 'Open the invite link you were sent: it carries the token this needs')
    const account = await acceptInvite(token, SetupBody.parse(body))
    return Response.json(account, { status: 201 })
  })
