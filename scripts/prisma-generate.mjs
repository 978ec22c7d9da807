// `prisma generate` without a network: Prisma 7's CLI wants to download its schema engine
// before any command, but generating the client never uses it. Pointing the variable at any
// existing file (this Node binary) stops the download.
import { spawnSync } from 'node:child_process'

const result = spawnSync('npx', ['prisma', 'generate'], {
  stdio: 'inherit',
  env: { PRISMA_SCHEMA_ENGINE_BINARY: process.execPath, ...process.env, PRISMA_HIDE_UPDATE_MESSAGE: '1' },
})
process.exit(result.status ?? 1)
