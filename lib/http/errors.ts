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
    options?: { cause?: unknown },
  ) {
    super(message, options)
    this.name = 'SluiceError'
  }
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
  return Response.json({ error: { code: err.code, message: err.message } }, { status: STATUS[err.code] })
}

/** Runs a route's work and turns whatever it throws into the error envelope. */
export async function handle(work: () => Promise<Response>): Promise<Response> {
  try {
    return await work()
  } catch (error) {
    return toErrorResponse(error)
  }
}

/** A request's JSON body: 415 when it is not sent as JSON, 400 when it does not parse. */
export async function readJson(req: Request): Promise<unknown> {
  const type = req.headers.get('content-type') ?? ''
  if (!/^application\/([\w.-]+\+)?json\b/i.test(type)) {
    throw new SluiceError('UNSUPPORTED_MEDIA_TYPE', 'Send the body as JSON, with the header Content-Type: application/json')
  }
  try {
    return await req.json()
  } catch {
    throw new SluiceError('BAD_REQUEST', 'The body is not valid JSON')
  }
}
