import { isSignUpOpen, setSignUpOpen } from '@/lib/auth/instance'
import { handleSignedIn, requireAdmin } from '@/lib/auth/principal'
import { InstanceSettingsSchema } from '@/lib/auth/schemas'
import { readJson } from '@/lib/http/errors'

export const dynamic = 'force-dynamic'

/** GET /api/admin/settings: the instance's settings (admins only). */
export const GET = (req: Request) =>
  handleSignedIn(req, async (who) => {
    requireAdmin(who)
    return Response.json({ signUpOpen: await isSignUpOpen() })
  })

/** PUT /api/admin/settings: open or close sign-up without an invite (admins only). */
export const PUT = (req: Request) =>
  handleSignedIn(req, async (who) => {
    requireAdmin(who)
    const { signUpOpen } = InstanceSettingsSchema.parse(await readJson(req))
    await setSignUpOpen(signUpOpen)
    return Response.json({ signUpOpen })
  })
