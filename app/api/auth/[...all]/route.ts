import { auth } from '@/lib/auth/auth'

// better-auth's own routes: sign-in, sign-up, sign-out, sessions, and its admin and API-key
// plugins' (each checks its own credential). Wrapped rather than `toNextJsHandler(auth())`,
// so that the instance is made at the first request, not when the build collects routes.
const handle = (req: Request) => auth().handler(req)

export const GET = handle
export const POST = handle

export const dynamic = 'force-dynamic'
