import fs from 'node:fs'
import path from 'node:path'

/**
 * The node arguments of package.json's start script (`node <args>`), so that tests and
 * benchmarks run the server exactly as `npm start` does, in one process whose pid is the server's.
 */
export function startScriptNodeArgs(root: string): string[] {
  const pkg = JSON.parse(fs.readFileSync(path.join(root, 'package.json'), 'utf8')) as { scripts: { start: string } }
  const [command, ...args] = pkg.scripts.start.trim().split(/\s+/)
  if (command !== 'node') throw new Error(`package.json's start script must run node directly, not ${command}`)
  return args
}
