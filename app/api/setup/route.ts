import { createFirstAdmin } from '@/lib/auth/first-admin'
import { isSetupToken } from '@/lib/auth/instance'
import { SetupBody } from '@/lib/auth/schemas'
import { handle, readJson, SluiceError } from '@/lib/http/errors'

export const dynamic = 'force-dynamic'

/** POST /api/setup: the one-time setup link's token makes the first account, an admin. */
export const POST = (req: Request) =>
  handle(async () => {
    const body = await readJson(req)
    // The token is this route's credential: checked before anything else in the body.
    const token = (body as { token?: unknown } | null)?.token
    if (typeof token !== 'string' || !(await isSetupToken(token))) {
      throw new SluiceError('UNAUTHORIZED', 'This setup link is not valid: it was used, or a restart replaced it (npm start prints the current one)')
    }
    const admin = await createFirstAdmin(SetupBody.parse(body))
    return Response.json(admin, { status: 201 })
  })
