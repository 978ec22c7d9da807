import { describe, expect, it } from 'vitest'
import { readJson, SluiceError } from './errors'

const LIMIT = { bytes: 1024 }

/** A POST whose body is `sent` while its Content-Length says `declared`, as a client cut off mid-way would send it. */
function request(sent: string, declared: number, type = 'application/json'): Request {
  const body = new ReadableStream<Uint8Array>({
    start(controller) {
      controller.enqueue(new TextEncoder().encode(sent))
      controller.close()
    },
  })
  return new Request('http://sluice.test/api/x', { method: 'POST', body, headers: { 'content-type': type, 'content-length': String(declared) }, duplex: 'half' } as RequestInit)
}

async function refusal(req: Request): Promise<SluiceError> {
  const error = await readJson(req, LIMIT).then(
    () => null,
    (e: unknown) => e,
  )
  if (!(error instanceof SluiceError)) throw new Error(`expected a refusal, got ${String(error)}`)
  return error
}

describe('a JSON body', () => {
  it('is read whole when it is as long as it says', async () => {
    expect(await readJson(request('{"a": [1, 2]}', 13), LIMIT)).toEqual({ a: [1, 2] })
  })

  it('cut off short of its Content-Length is refused as cut off, even when what came is valid JSON', async () => {
    const error = await refusal(request('{"a": 1}', 40))
    expect(error.message).toBe('The body ended after 8 of the 40 bytes it declared: nothing was applied')
  })

  it('longer than the limit is refused before it is read', async () => {
    expect((await refusal(request('{}', 4096))).message).toBe('A request may carry at most 1 KiB')
  })

  it('sent as another type is refused for its type', async () => {
    expect((await refusal(request('{}', 2, 'text/plain'))).message).toBe('Send the body as JSON, with the header Content-Type: application/json')
    expect(await readJson(request('{}', 2, 'application/merge-patch+json; charset=utf-8'), LIMIT)).toEqual({})
  })
})
