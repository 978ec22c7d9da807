// `npm start`: settings → database (embedded unless DATABASE_URL) → migrations → build if
// stale → serve. One process, so a SIGINT or SIGTERM stops the web server and the database.
import fs from 'node:fs'
import http from 'node:http'
import path from 'node:path'
import next from 'next'
import { restoreContentLength } from '../lib/http/content-length'
import { ConfigError, parseConfig } from '../lib/config'
import { startEmbeddedPostgres, type EmbeddedDatabase } from '../lib/db/embedded-postgres'
import { migrate } from '../lib/db/migrate'
import { databaseUrlFile } from '../lib/db/database-url-file'
import { buildApp, buildIsStale } from '../lib/server/build'
import { claimPidFile, releasePidFile } from '../lib/server/pid-file'
import { CLIENT_ADDRESS_HEADER } from '../lib/auth/client-address'
import { prepareAccounts } from '../lib/auth/prepare'

const root = path.resolve(import.meta.dirname, '..')
process.env.NEXT_TELEMETRY_DISABLED = '1'

let db: EmbeddedDatabase | undefined
let pidFile: string | undefined

async function main() {
  const config = parseConfig(process.env)
  fs.mkdirSync(config.dataDir, { recursive: true })
  pidFile = path.join(config.dataDir, 'sluice.pid')
  claimPidFile(pidFile)

  let server: http.Server | undefined
  let stopping = false
  const stop = async (signal: string) => {
    if (stopping) return
    stopping = true
    console.log(`\n${signal}: stopping Sluice`)
    releasePidFile(pidFile!)
    server?.close()
    server?.closeIdleConnections()
    // Set by instrumentation.ts: hands running imports back to the queue at their checkpoint.
    await (globalThis as { sluiceBeforeExit?: () => Promise<void> }).sluiceBeforeExit?.().catch((e: unknown) => console.error(e))
    await db?.stop()
    process.exit(0)
  }
  process.on('SIGINT', () => void stop('SIGINT'))
  process.on('SIGTERM', () => void stop('SIGTERM'))

  let databaseUrl = config.databaseUrl
  if (!databaseUrl) {
    const dataDir = path.join(config.dataDir, 'postgres')
    db = await startEmbeddedPostgres({ dataDir, log: (line) => process.env.SLUICE_DEBUG && console.log(`[postgres] ${line}`) })
    databaseUrl = db.url
    fs.writeFileSync(databaseUrlFile(config.dataDir), `${db.url}\n`, { mode: 0o600 })
    console.log(`PostgreSQL is running with its data in ${dataDir}`)
  }
  const applied = await migrate(databaseUrl, path.join(root, 'prisma', 'migrations'))
  if (applied.length) console.log(`Applied migrations: ${applied.join(', ')}`)
  process.env.DATABASE_URL = databaseUrl
  const accounts = await prepareAccounts(config)

  if (buildIsStale(root)) {
    console.log('Building the app (first start, or the code changed)…')
    buildApp(root)
  }

  const app = next({ dev: false, dir: root, port: config.port })
  await app.prepare()
  const handleRequest = app.getRequestHandler()
  server = http.createServer((req, res) => {
    restoreContentLength(res)
    // Replaces whatever a client sent under this name: the sign-in limit counts per address.
    req.headers[CLIENT_ADDRESS_HEADER] = req.socket.remoteAddress ?? 'unknown'
    void handleRequest(req, res)
  })
  // Large uploads stream for minutes in one request; Node's default 5-minute request timeout would cut them.
  server.requestTimeout = 0
  await new Promise<void>((resolve, reject) => {
    server!.once('error', (e: NodeJS.ErrnoException) =>
      reject(e.code === 'EADDRINUSE' ? new Error(`Port ${config.port} is in use: set PORT to another port`) : e),
    )
    server!.listen(config.port, resolve)
  })
  console.log(`Sluice is ready on http://localhost:${config.port} (data in ${config.dataDir})`)
  if (accounts.setupToken) {
    console.log(`No account exists yet. Create the first one (an admin) at:\n\n  http://localhost:${config.port}/setup?token=${accounts.setupToken}\n`)
  }
  if (accounts.createdAdmin) console.log(`Created the first account, an admin: ${accounts.createdAdmin} (from ADMIN_EMAIL)`)
}

main().catch(async (error: unknown) => {
  console.error(error instanceof ConfigError || error instanceof Error ? error.message : error)
  if (process.env.SLUICE_DEBUG && error instanceof Error) console.error(error)
  await db?.stop()
  if (pidFile) releasePidFile(pidFile)
  process.exit(1)
})
