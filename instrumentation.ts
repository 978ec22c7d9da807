// Runs once when the Next.js server starts (not at build), before it serves requests.
export async function register() {
  if (process.env.NEXT_RUNTIME !== 'nodejs') return
  const { startUploadMaintenance } = await import('./lib/uploads/maintenance')
  const { config } = await import('./lib/config')
  const { installJobQueue, startImportWorker } = await import('./lib/imports/import-worker')
  startUploadMaintenance()
  await installJobQueue()
  const workers = config().importWorkers
  if (workers === 0) return
  const worker = await startImportWorker({ concurrency: workers })
  // scripts/start.ts calls this before it exits, so running imports go back to the queue.
  ;(globalThis as { sluiceBeforeExit?: () => Promise<void> }).sluiceBeforeExit = () => worker.stop()
}
