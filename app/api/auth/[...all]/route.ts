import { auth } from '@/lib/auth/auth'

// better-auth's own routes: sign-in, sign-up, sign-out, sessions, and its admin and API-key
// plugins' (each checks its own credential). Wrapped rather than `toNextJsHandler(auth())`,
// so that the instance is made at the first request, not when the build collects routes.
const handle = (req: Request) => auth().handler(fromScriptsAsScripts(req))

/**
 * better-auth demands an Origin from any POST that carries a Sec-Fetch-* header, and Node's
 * fetch sends `Sec-Fetch-Mode: cors` on every request without an Origin, so a script's
 * `POST /api/auth/sign-in/email` would be refused. A browser always sends Sec-Fetch-Site and
 * Origin with such a request; one with neither (and no cookie to ride on) is not a browser,
 * and is passed on without the lone Sec-Fetch headers, as curl's would be.
 */
function fromScriptsAsScripts(req: Request): Request {
  const h = req.headers
  if (h.has('cookie') || h.has('origin') || h.has('referer') || h.has('sec-fetch-site') || !(h.has('sec-fetch-mode') || h.has('sec-fetch-dest'))) return req
  const headers = new Headers(h)
  headers.delete('sec-fetch-mode')
  headers.delete('sec-fetch-dest')
  return new Request(req.url, { method: req.method, headers, body: req.body, duplex: 'half', signal: req.signal } as RequestInit)
}

export const GET = handle
export const POST = handle

export const dynamic = 'force-dynamic'
