import http from 'node:http'
import type { AddressInfo } from 'node:net'

// An HTTP proxy between a command-line tool and the app that plays a bad network on demand: it
// holds an upload's bytes after a given count (a connection that stalls), and it can lose the
// app's answer to a request the app did carry out (a timeout after the fact). It counts what
// passes, so tests can say exactly what a client sent.

export type ProxiedRequest = { method: string; path: string; status: number; body: string }

export type FaultyProxy = {
  url: string
  requests: ProxiedRequest[]
  /** Bytes of PATCH bodies passed on to the app, over all requests. */
  patchBytes: number
  /** PATCH bytes pass until `patchBytes` reaches this; the rest waits until the client goes away. */
  stallPatchesAt: number
  /** Requests open now, and the most that were open at once. */
  open: number
  mostOpen: number
  /** Requests for which this returns true are carried out, but the client gets a 502 instead of the answer. */
  loseAnswer: (request: ProxiedRequest) => boolean
  close: () => Promise<void>
}

export async function startFaultyProxy(target: string): Promise<FaultyProxy> {
  const app = new URL(target)
  const server = http.createServer((req, res) => {
    const request: ProxiedRequest = { method: req.method!, path: req.url!, status: 0, body: '' }
    proxy.requests.push(request)
    proxy.mostOpen = Math.max(proxy.mostOpen, ++proxy.open)
    res.on('close', () => proxy.open--)
    // Answers uncompressed, so that the proxy can read them.
    const headers = { ...req.headers, 'accept-encoding': 'identity' }
    const out = http.request({ host: app.hostname, port: app.port, method: req.method, path: req.url, headers })
    out.on('error', () => res.destroy())
    out.on('response', (answer) => {
      if (proxy.loseAnswer(request)) {
        answer.resume()
        answer.on('end', () => {
          request.status = 502
          res.writeHead(502, { 'Content-Type': 'text/plain' }).end('the proxy lost the answer')
        })
        return
      }
      request.status = answer.statusCode!
      res.writeHead(answer.statusCode!, answer.headers)
      answer.on('data', (chunk: Buffer) => (request.body += chunk.toString()))
      answer.pipe(res)
    })
    // The client went away before its answer: the app's request ends too (as a dropped connection would).
    res.on('close', () => {
      if (!res.writableFinished) out.destroy()
    })
    if (req.method !== 'PATCH') {
      req.pipe(out)
      return
    }
    let stalled = false
    req.on('data', (chunk: Buffer) => {
      const room = proxy.stallPatchesAt - proxy.patchBytes
      if (chunk.length > room) {
        stalled = true
        req.pause()
        chunk = chunk.subarray(0, Math.max(0, room))
      }
      proxy.patchBytes += chunk.length
      if (!out.write(chunk) && !stalled) {
        req.pause()
        out.once('drain', () => !stalled && req.resume())
      }
    })
    req.on('end', () => out.end())
  })
  await new Promise<void>((resolve) => server.listen(0, 'localhost', resolve))
  const proxy: FaultyProxy = {
    url: `http://localhost:${(server.address() as AddressInfo).port}`,
    requests: [],
    patchBytes: 0,
    stallPatchesAt: Infinity,
    open: 0,
    mostOpen: 0,
    loseAnswer: () => false,
    close: () =>
      new Promise((resolve) => {
        server.closeAllConnections()
        server.close(() => resolve())
      }),
  }
  return proxy
}
