// `npm run worker`: more import workers, as a separate process against the same database.
// With no DATABASE_URL it joins the `npm start` running on this machine (same DATA_DIR).
import fs from 'node:fs'
import { config } from '../lib/config'
import { databaseUrlFile } from '../lib/db/database-url-file'
import { startImportWorker } from '../lib/imports/import-worker'

async function main() {
  const { databaseUrl, importWorkers, dataDir } = config()
  const url = databaseUrl ?? readRunningAppUrl(dataDir)
  process.env.DATABASE_URL = url
  const concurrency = Math.max(importWorkers, 1)
  const worker = await startImportWorker({ concurrency })
  console.log(`Sluice worker is running ${concurrency} import(s) at a time (Ctrl+C to stop)`)
  let stopping = false
  const stop = async () => {
    if (stopping) return
    stopping = true
    console.log('\nStopping: running imports go back to the queue')
    await worker.stop()
    process.exit(0)
  }
  process.on('SIGINT', () => void stop())
  process.on('SIGTERM', () => void stop())
}

function readRunningAppUrl(dataDir: string): string {
  try {
    return fs.readFileSync(databaseUrlFile(dataDir), 'utf8').trim()
  } catch {
    throw new Error(`Set DATABASE_URL, or start Sluice first with \`npm start\` (no running app found in ${dataDir})`)
  }
}

main().catch((error: unknown) => {
  console.error(error instanceof Error ? error.message : error)
  process.exit(1)
})
