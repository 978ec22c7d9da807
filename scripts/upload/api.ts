// Sluice's JSON API as `npm run upload` calls it: every failure becomes an error whose message
// a person can act on.

/** The server answered with an error (`{"error": {"code", "message"}}`), or a status without one. */
export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    /** The error's `details`, e.g. `{maxRecords}` or `{maxBytes}` on a 413. */
    readonly details: Record<string, unknown> = {},
  ) {
    super(message)
    this.name = 'ApiError'
  }
}

export const KEY_REFUSED = 'The server refused the API key (revoked, expired or mistyped): run `npm run login` again, or set SLUICE_API_KEY to a key from the settings page'

/** No answer: the server is down, the address is wrong, or the network dropped. */
export class UnreachableError extends Error {
  name = 'UnreachableError'
}

/** Ctrl-C (or SIGTERM) while waiting for the server. */
export class InterruptedError extends Error {
  name = 'InterruptedError'
}

// A batch of 16 MiB takes a second or two here; a minute of silence is a hung connection.
const REQUEST_TIMEOUT_MS = 60_000

/** A request body as it goes on the wire, with its Content-Type. */
export type RawBody = { type: string; text: string }

export type Api = {
  base: string
  key: string
  /** A JSON request (`body` is sent as JSON), or one whose body is given as it goes (NDJSON, CSV). */
  call<T>(method: 'GET' | 'POST', route: string, body?: unknown): Promise<T>
  send<T>(route: string, body: RawBody): Promise<T>
}

/** `key` goes in the Authorization header of every request. */
export function createApi(base: string, signal: AbortSignal, key: string): Api {
  const request = async <T>(method: 'GET' | 'POST', route: string, body?: RawBody): Promise<T> => {
    let res: Response
    try {
      res = await fetch(`${base}${route}`, {
        method,
        headers: { Authorization: `Bearer ${key}`, ...(body && { 'Content-Type': body.type }) },
        body: body?.text,
        signal: AbortSignal.any([signal, AbortSignal.timeout(REQUEST_TIMEOUT_MS)]),
      })
    } catch (error) {
      if (signal.aborted) throw new InterruptedError('Interrupted')
      throw new UnreachableError(`Cannot reach Sluice at ${base} (${describeNetworkError(error)})`)
    }
    const text = await res.text()
    const json = parseJson(text)
    if (!res.ok) {
      const error = (json as { error?: { code?: string; message?: string; details?: Record<string, unknown> } } | undefined)?.error
      if (res.status === 401) throw new ApiError(401, 'UNAUTHORIZED', KEY_REFUSED)
      throw new ApiError(res.status, error?.code ?? `HTTP_${res.status}`, error?.message ?? (text.trim() || res.statusText), error?.details)
    }
    return json as T
  }
  return {
    base,
    key,
    call: <T>(method: 'GET' | 'POST', route: string, body?: unknown) =>
      request<T>(method, route, body === undefined ? undefined : { type: 'application/json', text: JSON.stringify(body) }),
    send: <T>(route: string, body: RawBody) => request<T>('POST', route, body),
  }
}

/** Fails with a clear message unless Sluice answers at `api.base` and its database is up. */
export async function checkServer(api: Api): Promise<void> {
  try {
    await api.call('GET', '/api/health')
    // The key too, before a gigabyte starts on its way.
    await api.call('GET', '/api/me')
  } catch (error) {
    if (error instanceof ApiError && error.status === 401) throw error
    if (error instanceof UnreachableError) {
      throw new UnreachableError(`${error.message}: is it running? Start it with \`npm start\`, or give its address with --url`)
    }
    if (error instanceof ApiError) throw new ApiError(error.status, error.code, `Sluice at ${api.base} is not ready: ${error.message}`, error.details)
    throw error
  }
}

/** ECONNREFUSED, ENOTFOUND, "no answer within 60 s"…: what went wrong under fetch's "fetch failed". */
export function describeNetworkError(error: unknown): string {
  if (error instanceof Error && error.name === 'TimeoutError') return `no answer within ${REQUEST_TIMEOUT_MS / 1000} s`
  const cause = (error as { cause?: { code?: string; message?: string } }).cause
  return cause?.code ?? cause?.message ?? (error as Error).message
}

function parseJson(text: string): unknown {
  try {
    return JSON.parse(text)
  } catch {
    return undefined
  }
}

export const sleep = (ms: number, signal: AbortSignal) =>
  new Promise<void>((resolve, reject) => {
    if (signal.aborted) return reject(new InterruptedError('Interrupted'))
    const timer = setTimeout(() => {
      signal.removeEventListener('abort', onAbort)
      resolve()
    }, ms)
    const onAbort = () => {
      clearTimeout(timer)
      reject(new InterruptedError('Interrupted'))
    }
    signal.addEventListener('abort', onAbort, { once: true })
  })
