import { handleSignedIn } from '@/lib/auth/principal'
import type { Me } from '@/lib/auth/schemas'

export const dynamic = 'force-dynamic'

/** GET /api/me: who the credential belongs to (a script checks its key with it). */
export const GET = (req: Request) =>
  handleSignedIn(req, async (who) => Response.json({ id: who.userId, name: who.name, email: who.email, isAdmin: who.isAdmin, via: who.via } satisfies Me))
