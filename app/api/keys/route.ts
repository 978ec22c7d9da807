import { createKey, listKeys } from '@/lib/auth/api-keys'
import { handleSignedIn } from '@/lib/auth/principal'
import { CreateKeyBody } from '@/lib/auth/schemas'
import { readJson } from '@/lib/http/errors'

export const dynamic = 'force-dynamic'

/** GET /api/keys: the signed-in person's API keys, without their secrets. */
export const GET = (req: Request) => handleSignedIn(req, async (who) => Response.json({ keys: await listKeys(who) }))

/** POST /api/keys: a new key, shown once in the answer. */
export const POST = (req: Request) =>
  handleSignedIn(req, async (who) => {
    const { name } = CreateKeyBody.parse(await readJson(req))
    const key = await createKey(who, name)
    return Response.json(key, { status: 201, headers: { 'Cache-Control': 'no-store' } })
  })
