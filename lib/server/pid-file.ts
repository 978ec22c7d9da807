import fs from 'node:fs'

/**
 * One Sluice per DATA_DIR: the pid file says who runs there. A stale file (its process is
 * gone, say after a SIGKILL) is taken over.
 */
export function claimPidFile(file: string) {
  const other = Number(fs.readFileSync(file, { encoding: 'utf8', flag: 'a+' }).trim())
  if (Number.isInteger(other) && other > 0 && other !== process.pid && isAlive(other)) {
    throw new Error(`Another Sluice (pid ${other}) is running with this DATA_DIR (${file}). Stop it, or set DATA_DIR elsewhere.`)
  }
  fs.writeFileSync(file, `${process.pid}\n`)
}

export function releasePidFile(file: string) {
  try {
    if (Number(fs.readFileSync(file, 'utf8').trim()) === process.pid) fs.unlinkSync(file)
  } catch {
    // already gone
  }
}

/** True while a process with this pid exists (EPERM: it exists, but belongs to another user). */
export function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0)
    return true
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM'
  }
}
