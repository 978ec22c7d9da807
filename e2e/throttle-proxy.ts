import net from 'node:net'
import { Transform } from 'node:stream'

// Timers fire a little late; letting the link make up to this much of that lateness back keeps
// the average at the set rate (without it, 20 MB/s came out as 17 MB/s here).
const MAX_CATCH_UP_MS = 50

/** A TCP proxy in front of the app whose client → server direction runs at a set rate. */
export type ThrottleProxy = {
  url: string
  /** Breaks every open connection and refuses new ones for `ms`: the network drops, then returns. */
  cut: (ms: number) => void
  close: () => Promise<void>
}

/**
 * Listens on a free port of 127.0.0.1 and forwards each connection to `target`, letting the bytes
 * that the browser sends through at `bytesPerSecond` (shared by all connections, like one slow
 * link). On localhost an upload runs at hundreds of MB/s, far too fast to pause or reload
 * mid-way; behind this proxy it takes seconds. Answers from the server pass at full speed.
 *
 * When the browser drops a connection (an aborted upload, a reloaded page) the proxy drops its
 * side to the server at once and discards what it still held, as a broken network would: the
 * server's offset is then exactly what reached it, which is what a tus client must resume from.
 */
export async function startThrottleProxy({ target, bytesPerSecond }: { target: URL; bytesPerSecond: number }): Promise<ThrottleProxy> {
  const sockets = new Set<net.Socket>()
  let downUntil = 0
  // When the link is free again; each chunk occupies it for chunk.length / bytesPerSecond.
  let linkFreeAt = performance.now()

  const throttle = () =>
    new Transform({
      transform(chunk: Buffer, _encoding, done) {
        const now = performance.now()
        linkFreeAt = Math.max(linkFreeAt, now - MAX_CATCH_UP_MS) + (chunk.length / bytesPerSecond) * 1000
        // Holding `done` back until the chunk has "crossed the link" is the backpressure: the
        // stream reads no more from the browser's socket meanwhile, so TCP slows the browser down.
        setTimeout(() => done(null, chunk), Math.max(0, linkFreeAt - now))
      },
    })

  const server = net.createServer((client) => {
    if (performance.now() < downUntil) return void client.destroy()
    const upstream = net.connect(Number(target.port), target.hostname)
    const slow = throttle()
    sockets.add(client).add(upstream)
    const drop = () => {
      slow.destroy()
      client.destroy()
      upstream.destroy()
      sockets.delete(client)
      sockets.delete(upstream)
    }
    // Browsers never half-close an HTTP connection, so the end of the client's stream means it is gone.
    client.once('end', drop).once('close', drop).on('error', drop)
    // The server closing its side is ordinary (`Connection: close`): the pipe below ends the
    // client's side after the last byte of the answer, and the client's close then tidies up.
    upstream.on('error', drop)
    slow.on('error', drop)
    client.pipe(slow).pipe(upstream)
    upstream.pipe(client)
  })

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject)
    server.listen(0, '127.0.0.1', resolve)
  })
  const { port } = server.address() as net.AddressInfo
  return {
    // By the server's host name: the signed-in session cookie is for "localhost" (any port).
    url: `http://localhost:${port}`,
    cut: (ms) => {
      downUntil = performance.now() + ms
      for (const socket of sockets) socket.destroy()
    },
    close: () =>
      new Promise<void>((resolve) => {
        for (const socket of sockets) socket.destroy()
        server.close(() => resolve())
      }),
  }
}
