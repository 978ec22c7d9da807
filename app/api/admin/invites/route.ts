import { ownOrigin } from '@/lib/auth/auth'
import { createInvite, listOpenInvites } from '@/lib/auth/invites'
import { handleSignedIn, requireAdmin } from '@/lib/auth/principal'
import { CreateInviteBody } from '@/lib/auth/schemas'
import { readJson } from '@/lib/http/errors'

export const dynamic = 'force-dynamic'

/** GET /api/admin/invites: invites not used yet and not expired (admins only). */
export const GET = (req: Request) =>
  handleSignedIn(req, async (who) => {
    requireAdmin(who)
    return Response.json({ invites: await listOpenInvites() })
  })

/** POST /api/admin/invites: a new invite link, valid 7 days for one account (admins only). */
export const POST = (req: Request) =>
  handleSignedIn(req, async (who) => {
    requireAdmin(who)
    const { role } = CreateInviteBody.parse(await readJson(req))
    const { path, ...invite } = await createInvite(who, role)
    return Response.json({ ...invite, url: `${ownOrigin(req)}${path}` }, { status: 201, headers: { 'Cache-Control': 'no-store' } })
  })
