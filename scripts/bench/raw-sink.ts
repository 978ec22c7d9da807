// The baseline for `npm run bench:upload`: the least a Node server can do with an upload.
// `PUT /<name>` streams the request body into <dir>/<name> and answers 201 with the byte
// count once the file is written, as a tus PATCH answers 204 once FileStore has written.
// Started by the bench with child_process.fork(), so it has a process and an event loop of
// its own, as the app has; it reports its port over the IPC channel.
import fs from 'node:fs'
import http from 'node:http'
import path from 'node:path'
import { pipeline } from 'node:stream/promises'

const dir = process.argv[2]
if (!dir || !process.send) {
  console.error('usage: forked by scripts/bench-upload.ts with the target folder as its argument')
  process.exit(2)
}

const server = http.createServer(async (req, res) => {
  // Only a plain file name (the bench names the file): nothing may escape `dir`.
  const name = (req.url ?? '').slice(1)
  if (req.method !== 'PUT' || !/^\w[\w.-]*$/.test(name)) {
    res.writeHead(400).end('PUT /<file name>\n')
    return
  }
  const file = fs.createWriteStream(path.join(dir, name))
  try {
    await pipeline(req, file)
    res.writeHead(201, { 'content-type': 'text/plain' }).end(`${file.bytesWritten}\n`)
  } catch (error) {
    res.writeHead(500).end(`${error instanceof Error ? error.message : String(error)}\n`)
  }
})
// A 1 GiB body streams for seconds to minutes; Node's default 5-minute request timeout must not cut it.
server.requestTimeout = 0
server.listen(0, () => {
  const { port } = server.address() as { port: number }
  process.send!({ port })
})
// The bench disconnects (or dies): nothing else would stop this process.
process.on('disconnect', () => process.exit(0))
