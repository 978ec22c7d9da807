import type http from 'node:http'

/**
 * Next.js drops `Content-Length` from every route handler's response (FORBIDDEN_HEADERS in
 * next/dist/server/send-response.js) and sends the body chunked, so a download would have no
 * size: no progress bar in the browser, nothing for a download manager to check a resumed
 * file against. A handler that knows its body's exact length puts it in this header instead,
 * and the server (scripts/start.ts) turns it back into `Content-Length`.
 */
export const DECLARED_LENGTH_HEADER = 'x-sluice-content-length'

export function restoreContentLength(res: http.ServerResponse): void {
  const setHeader = res.setHeader.bind(res)
  res.setHeader = (name: string, value: number | string | readonly string[]) =>
    name.toLowerCase() === DECLARED_LENGTH_HEADER ? setHeader('content-length', value) : setHeader(name, value)
}
