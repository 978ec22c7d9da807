// Runs once when the Next.js server starts (not at build), before it serves requests.
export async function register() {
  if (process.env.NEXT_RUNTIME !== 'nodejs') return
  const { startUploadMaintenance } = await import('./lib/uploads/maintenance')
  const { config } = await import('./lib/config')
  const { pool } = await import('./lib/db/pool')
  const { installJobQueue, startImportWorker } = await import('./lib/imports/import-worker')
  startUploadMaintenance()
  await installJobQueue()
  const workers = config().importWorkers
  const worker = workers > 0 ? await startImportWorker({ concurrency: workers }) : null
  // scripts/start.ts calls this before it stops the database: running imports go back to the
  // queue at their checkpoint, and the pool closes its connections before the server goes.
  ;(globalThis as { sluiceBeforeExit?: () => Promise<void> }).sluiceBeforeExit = async () => {
    await worker?.stop()
    await pool().end()
  }
}
