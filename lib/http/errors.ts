import { formatBytes } from '../format'
import { ZodError } from 'zod'

/** HTTP status for each error code Sluice answers with; the one place codes become statuses. */
const STATUS = {
  BAD_REQUEST: 400,
  NOT_FOUND: 404,
  INVALID_TRANSITION: 409,
  GONE: 410,
  TOO_LARGE: 413,
  UNSUPPORTED_MEDIA_TYPE: 415,
  UNPROCESSABLE: 422,
  UNAVAILABLE: 503,
  INTERNAL: 500,
} as const

export type ErrorCode = keyof typeof STATUS

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

/** The `{"error": {"code", "message"}}` envelope for any thrown value; unknown errors are logged and hidden. */
export function toErrorResponse(error: unknown): Response {
  const err =
    error instanceof SluiceError
      ? error
      : error instanceof ZodError
        ? new SluiceError('BAD_REQUEST', error.issues.map((i) => `${i.path.join('.') || 'input'}: ${i.message}`).join('; '))
        : new SluiceError('INTERNAL', 'Unexpected error', { cause: error })
  if (err.code === 'INTERNAL') console.error(err.cause ?? err)
  const details = err.details ? { details: err.details } : {}
  return Response.json({ error: { code: err.code, message: err.message, ...details } }, { status: STATUS[err.code] })
}

/** Runs a route's work and turns whatever it throws into the error envelope. */
export async function handle(work: () => Promise<Response>): Promise<Response> {
  try {
    return await work()
  } catch (error) {
    return toErrorResponse(error)
  }
}

/**
 * A request's JSON body: 415 when it is not sent as JSON, 400 when it does not parse, 413 when
 * it is longer than `limit.bytes` (read no further than that, whatever Content-Length says).
 */
export async function readJson(req: Request, limit?: { bytes: number; setting: string }): Promise<unknown> {
  const type = req.headers.get('content-type') ?? ''
  if (!/^application\/([\w.-]+\+)?json\b/i.test(type)) {
    throw new SluiceError('UNSUPPORTED_MEDIA_TYPE', 'Send the body as JSON, with the header Content-Type: application/json')
  }
  const text = limit ? await readTextUpTo(req, limit) : await req.text()
  try {
    return JSON.parse(text)
  } catch {
    throw new SluiceError('BAD_REQUEST', 'The body is not valid JSON')
  }
}

async function readTextUpTo(req: Request, limit: { bytes: number; setting: string }): Promise<string> {
  const tooLarge = () =>
    new SluiceError('TOO_LARGE', `A request may carry at most ${formatBytes(limit.bytes)} (${limit.setting}): send the records in smaller batches`, {
      details: { maxBytes: limit.bytes },
    })
  const declared = req.headers.get('content-length')
  if (Number(declared ?? 0) > limit.bytes) throw tooLarge()
  // A declared length within the limit holds: the HTTP parser never delivers more bytes.
  if (declared !== null) return req.text()
  const chunks: Uint8Array[] = []
  let length = 0
  const reader = req.body?.getReader()
  for (let read = await reader?.read(); read && !read.done; read = await reader!.read()) {
    length += read.value.byteLength
    if (length > limit.bytes) {
      await reader!.cancel()
      throw tooLarge()
    }
    chunks.push(read.value)
  }
  return Buffer.concat(chunks).toString('utf8')
}
