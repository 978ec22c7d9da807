import { formatBytes } from '../format'
import { z, ZodError } from 'zod'

/** HTTP status for each error code Sluice answers with; the one place codes become statuses. */
const STATUS = {
  BAD_REQUEST: 400,
  UNAUTHORIZED: 401,
  FORBIDDEN: 403,
  NOT_FOUND: 404,
  INVALID_TRANSITION: 409,
  GONE: 410,
  TOO_LARGE: 413,
  UNSUPPORTED_MEDIA_TYPE: 415,
  UNPROCESSABLE: 422,
  TOO_MANY_REQUESTS: 429,
  UNAVAILABLE: 503,
  INTERNAL: 500,
} as const

export type ErrorCode = keyof typeof STATUS

/** The status an error code is answered with. */
export const statusOf = (code: ErrorCode): number => STATUS[code]

/** The error envelope as the API answers it (what toErrorResponse writes). */
export const ErrorBodySchema = z.object({
  error: z.object({
    code: z.enum(Object.keys(STATUS) as [ErrorCode, ...ErrorCode[]]),
    message: z.string().describe('For a person: what went wrong and what to do about it'),
    details: z.record(z.string(), z.unknown()).optional().describe('Facts a client can act on without parsing the message'),
  }),
})
export type ErrorBody = z.infer<typeof ErrorBodySchema>

export class SluiceError extends Error {
  constructor(
    readonly code: ErrorCode,
    message: string,
    options?: { cause?: unknown; details?: Record<string, unknown> },
  ) {
    super(message, options)
    this.name = 'SluiceError'
    this.details = options?.details
  }
  /** Facts a client can act on without parsing the message (the numbers of a mismatch). */
  readonly details: Record<string, unknown> | undefined
}

/**
 * What a client sent, as a message may quote it: at most `max` characters, so that a 50 MB id
 * is not echoed back in a 404.
 */
export const cutInput = (text: string, max = 80) => (text.length > max ? `${text.slice(0, max)}…` : text)

/** A zod issue a handler marks as 422 (valid JSON of the right shape, refused by a rule of the data). */
export const UNPROCESSABLE_ISSUE = { status: 422 } as const

/** The `{"error": {"code", "message"}}` envelope for any thrown value; unknown errors are logged and hidden. */
export function toErrorResponse(error: unknown): Response {
  const err =
    error instanceof SluiceError
      ? error
      : error instanceof ZodError
        ? new SluiceError(
            error.issues.some((i) => i.code === 'custom' && i.params?.status === 422) ? 'UNPROCESSABLE' : 'BAD_REQUEST',
            error.issues.map((i) => `${i.path.join('.') || 'input'}: ${i.message}`).join('; '),
          )
        : new SluiceError('INTERNAL', 'Unexpected error', { cause: error })
  if (err.code === 'INTERNAL') console.error(err.cause ?? err)
  const details = err.details ? { details: err.details } : {}
  // RFC 9110 §10.2.3 and RFC 6585 §4: a 503 or a 429 may say when to come back.
  const retryAfter = (err.code === 'UNAVAILABLE' || err.code === 'TOO_MANY_REQUESTS') && typeof err.details?.retryAfterSeconds === 'number' ? { 'Retry-After': String(err.details.retryAfterSeconds) } : undefined
  return Response.json({ error: { code: err.code, message: err.message, ...details } } satisfies ErrorBody, {
    status: STATUS[err.code],
    ...(retryAfter && { headers: retryAfter }),
  })
}

/** Runs a route's work and turns whatever it throws into the error envelope. */
export async function handle(work: () => Promise<Response>): Promise<Response> {
  try {
    return await work()
  } catch (error) {
    return toErrorResponse(error)
  }
}

// A command's body (a session's name and up to 1,600 column names, an export's filter) fits
// well within this; five 50 MB bodies at once once took the server from 347 MB to 1.09 GB.
const MAX_COMMAND_BODY_BYTES = 1024 * 1024

export type BodyLimit = { bytes: number; setting?: string; advice?: string }
const COMMAND_BODY: BodyLimit = { bytes: MAX_COMMAND_BODY_BYTES }

/** application/json, or a JSON type with a suffix (application/merge-patch+json), parameters allowed. */
export const isJsonType = (type: string | null) => /^application\/([\w.-]+\+)?json\b/i.test(type ?? '')

/**
 * A request's JSON body: 415 when it is not sent as JSON, 400 when it does not parse, 413 when
 * it is longer than `limit.bytes` (read no further than that, whatever Content-Length says).
 */
export async function readJson(req: Request, limit: BodyLimit = COMMAND_BODY): Promise<unknown> {
  if (!isJsonType(req.headers.get('content-type'))) {
    throw new SluiceError('UNSUPPORTED_MEDIA_TYPE', 'Send the body as JSON, with the header Content-Type: application/json')
  }
  const text = (await readBodyUpTo(req, limit)).toString('utf8')
  try {
    return JSON.parse(text)
  } catch {
    throw new SluiceError('BAD_REQUEST', 'The body is not valid JSON')
  }
}

const tooLargeFor = (limit: BodyLimit) =>
  new SluiceError('TOO_LARGE', `A request may carry at most ${formatBytes(limit.bytes)}${limit.setting ? ` (${limit.setting})` : ''}${limit.advice ? `: ${limit.advice}` : ''}`, {
    details: { maxBytes: limit.bytes },
  })

/**
 * A request's body as it arrives, never held whole: 413 as soon as it passes `limit.bytes`, and
 * an error when it ends short of its Content-Length (the client was cut off), so that a reader
 * never takes a body cut off mid-way for a whole one.
 */
export async function* streamBody(req: Request, limit: BodyLimit): AsyncGenerator<Uint8Array> {
  const declared = req.headers.get('content-length')
  if (Number(declared ?? 0) > limit.bytes) throw tooLargeFor(limit)
  let length = 0
  const reader = req.body?.getReader()
  if (!reader) return
  let overLimit = false
  try {
    for (let read = await reader.read(); !read.done; read = await reader.read()) {
      length += read.value.byteLength
      if (length > limit.bytes) {
        overLimit = true
        throw tooLargeFor(limit)
      }
      yield read.value
    }
  } finally {
    // Past the limit the connection is given up. Within it, a reader that stopped early (a
    // batch refused half-way) leaves the rest for drainBody.
    if (overLimit) await reader.cancel().catch(() => {})
    else reader.releaseLock()
  }
  if (declared !== null && length !== Number(declared)) {
    throw new SluiceError('BAD_REQUEST', `The body ended after ${length} of the ${declared} bytes it declared: nothing was applied`)
  }
}

/**
 * Reads and drops what is left of a body that a handler stopped reading early, at most
 * `limit.bytes` more: a client still sending its body would otherwise get a reset connection
 * instead of the answer (found with a batch refused for its record count half-way through).
 * A body declared too large was never started: the server drops it as it answers.
 */
export async function drainBody(req: Request, limit: BodyLimit): Promise<void> {
  if (!req.body || req.body.locked || Number(req.headers.get('content-length') ?? 0) > limit.bytes) return
  const reader = req.body.getReader()
  let length = 0
  try {
    for (let read = await reader.read(); !read.done && length <= limit.bytes; read = await reader.read()) length += read.value.byteLength
  } catch {
    // The client went away: nothing is left to drain.
  } finally {
    await reader.cancel().catch(() => {})
  }
}

/** A request's body whole, through streamBody: 413 past `limit.bytes`, 400 when it was cut off short of its Content-Length. */
export async function readBodyUpTo(req: Request, limit: BodyLimit): Promise<Buffer> {
  const chunks: Uint8Array[] = []
  for await (const chunk of streamBody(req, limit)) chunks.push(chunk)
  return Buffer.concat(chunks)
}
