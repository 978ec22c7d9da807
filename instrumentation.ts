// Runs once when the Next.js server starts (not at build), before it serves requests.
export async function register() {
  if (process.env.NEXT_RUNTIME !== 'nodejs') return
  const { startUploadMaintenance } = await import('./lib/uploads/maintenance')
  startUploadMaintenance()
}
