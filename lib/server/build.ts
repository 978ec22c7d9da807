import { spawnSync } from 'node:child_process'
import fs from 'node:fs'
import path from 'node:path'

// What goes into the production build; a change to any of these makes the build stale.
const SOURCES = ['app', 'components', 'lib', 'public', 'instrumentation.ts', 'next.config.ts', 'postcss.config.mjs', 'tsconfig.json', 'package.json']

// Tests sit beside the code but are not part of the build.
function newestMtime(p: string): number {
  const stat = fs.statSync(p, { throwIfNoEntry: false })
  if (!stat) return 0
  if (!stat.isDirectory()) return p.endsWith('.test.ts') ? 0 : stat.mtimeMs
  return fs.readdirSync(p).reduce((newest, name) => Math.max(newest, newestMtime(path.join(p, name))), stat.mtimeMs)
}

/** True when there is no production build, or a source file changed after it was made. */
export function buildIsStale(root: string): boolean {
  const built = fs.statSync(path.join(root, '.next', 'BUILD_ID'), { throwIfNoEntry: false })
  if (!built) return true
  return SOURCES.some((s) => newestMtime(path.join(root, s)) > built.mtimeMs)
}

/** Runs `next build` in `root`, showing its output; throws if it fails. */
export function buildApp(root: string) {
  const nextBin = path.join(root, 'node_modules', 'next', 'dist', 'bin', 'next')
  const result = spawnSync(process.execPath, [nextBin, 'build'], {
    cwd: root,
    stdio: 'inherit',
    env: { ...process.env, NEXT_TELEMETRY_DISABLED: '1' },
  })
  if (result.status !== 0) throw new Error('next build failed; its output is above')
}
