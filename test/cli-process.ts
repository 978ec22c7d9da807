import { spawn, type ChildProcess } from 'node:child_process'
import path from 'node:path'

// Runs the command-line tools as a user does: `npm run <script> -- <args>` in the checkout.

const root = path.resolve(import.meta.dirname, '..')

export type CliRun = {
  child: ChildProcess
  /** Resolves when the command ends: its exit code (null when a signal ended it) and its output. */
  done: Promise<{ code: number | null; stdout: string; stderr: string }>
  stdout: () => string
  /** Ends the command and every process under it (npm, its shell, tsx, node) at once. */
  kill: (signal?: NodeJS.Signals) => void
}

/** `input`, when given, is written to the command's standard input (which is then closed). */
export function startNpm(script: string, args: string[], env: Record<string, string> = {}, input?: string): CliRun {
  // Its own process group, so that a kill reaches the node process at the bottom of npm's tree.
  const child = spawn('npm', ['run', script, '--', ...args], { cwd: root, env: { ...process.env, ...env }, stdio: [input === undefined ? 'ignore' : 'pipe', 'pipe', 'pipe'], detached: true })
  if (input !== undefined) child.stdin!.end(input)
  let stdout = ''
  let stderr = ''
  child.stdout!.setEncoding('utf8').on('data', (d: string) => (stdout += d))
  child.stderr!.setEncoding('utf8').on('data', (d: string) => (stderr += d))
  const done = new Promise<{ code: number | null; stdout: string; stderr: string }>((resolve, reject) => {
    child.on('error', reject)
    child.on('close', (code) => resolve({ code, stdout, stderr }))
  })
  return {
    child,
    done,
    stdout: () => stdout,
    kill: (signal = 'SIGKILL') => process.kill(-child.pid!, signal),
  }
}

/** Runs `npm run <script> -- <args>` to its end. */
export const runNpm = (script: string, args: string[], env?: Record<string, string>, input?: string) => startNpm(script, args, env, input).done
