import { removeExpiredUploads } from './tus-server'

// Expired uploads only disappear when someone asks @tus/server to remove them; an hour
// between sweeps keeps a forgotten 10 GB upload from sitting on disk much past its 24 h.
const SWEEP_INTERVAL_MS = 60 * 60 * 1000

/** Removes expired uploads now and then every hour, for the life of the process. */
export function startUploadMaintenance() {
  const sweep = () => removeExpiredUploads().catch((e) => console.error('expired-upload sweep failed:', e))
  void sweep()
  setInterval(sweep, SWEEP_INTERVAL_MS).unref()
}
