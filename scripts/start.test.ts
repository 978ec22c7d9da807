import type { ChildProcess } from 'node:child_process'
import fs from 'node:fs/promises'
import { existsSync } from 'node:fs'
import path from 'node:path'
import { afterEach, describe, expect, it } from 'vitest'
import { freePort } from '../lib/server/free-port'
import { health as appHealth, startApp, tempDir } from '../test/app-process'

// Drives `npm start` the way a person does: a process, its environment, its signals.
// As package.json's start script runs it: one node process (tsx's CLI would add a wrapper process).
const children: ChildProcess[] = []
const dirs: string[] = []

afterEach(async () => {
  for (const c of children.splice(0)) if (c.exitCode === null) c.kill('SIGKILL')
  for (const d of dirs.splice(0)) await fs.rm(d, { recursive: true, force: true })
})

async function tempDataDir() {
  const dir = await tempDir('sluice-start-')
  dirs.push(dir)
  return dir
}

function start(env: Record<string, string>) {
  const app = startApp(env)
  children.push(app.child)
  return app
}

const health = (port: number) => appHealth(`http://localhost:${port}`)

const postmasterPid = async (dataDir: string) =>
  Number((await fs.readFile(path.join(dataDir, 'postgres', 'postmaster.pid'), 'utf8')).split('\n')[0])

const alive = (pid: number) => {
  try {
    process.kill(pid, 0)
    return true
  } catch {
    return false
  }
}

describe('npm start', () => {
  it('refuses bad settings with a message that names them, before starting anything', async () => {
    const dataDir = await tempDataDir()
    const app = start({ PORT: 'eighty', MAX_UPLOAD_BYTES: '10GB', DATA_DIR: dataDir })
    expect(await app.exited).toBe(1)
    expect(app.output()).toContain('PORT="eighty": PORT must be a whole number')
    expect(app.output()).toContain('MAX_UPLOAD_BYTES="10GB": MAX_UPLOAD_BYTES must be a whole number')
    expect(existsSync(path.join(dataDir, 'postgres'))).toBe(false)
  })

  it('runs an embedded PostgreSQL in DATA_DIR and stops it cleanly on SIGTERM', async () => {
    const dataDir = await tempDataDir()
    const port = await freePort()
    const app = start({ PORT: String(port), DATA_DIR: dataDir })
    expect(await health(port)).toEqual({ ok: true })
    const pgPid = await postmasterPid(dataDir)
    expect(alive(pgPid)).toBe(true)

    app.child.kill('SIGTERM')
    expect(await app.exited).toBe(0)
    expect(alive(pgPid)).toBe(false)
    expect(existsSync(path.join(dataDir, 'postgres', 'postmaster.pid'))).toBe(false)
    expect(existsSync(path.join(dataDir, 'sluice.pid'))).toBe(false)
  })

  it('after a SIGKILL, the next start stops the orphaned PostgreSQL and serves again', async () => {
    const dataDir = await tempDataDir()
    const port = await freePort()
    const first = start({ PORT: String(port), DATA_DIR: dataDir })
    expect(await health(port)).toEqual({ ok: true })
    const orphan = await postmasterPid(dataDir)
    first.child.kill('SIGKILL')
    await first.exited
    expect(alive(orphan)).toBe(true) // what a SIGKILL leaves behind

    const second = start({ PORT: String(port), DATA_DIR: dataDir })
    expect(await health(port)).toEqual({ ok: true })
    expect(alive(orphan)).toBe(false)
    expect(await postmasterPid(dataDir)).not.toBe(orphan)
    second.child.kill('SIGINT')
    expect(await second.exited).toBe(0)
  })

  it('refuses a second Sluice on the same DATA_DIR', async () => {
    const dataDir = await tempDataDir()
    const port = await freePort()
    const first = start({ PORT: String(port), DATA_DIR: dataDir })
    expect(await health(port)).toEqual({ ok: true })
    const second = start({ PORT: String(await freePort()), DATA_DIR: dataDir })
    expect(await second.exited).toBe(1)
    expect(second.output()).toContain(`Another Sluice (pid ${first.child.pid}) is running with this DATA_DIR`)
    expect(await health(port)).toEqual({ ok: true })
    first.child.kill('SIGTERM')
    expect(await first.exited).toBe(0)
  })

  it('uses the PostgreSQL at DATABASE_URL instead of an embedded one', async () => {
    const dataDir = await tempDataDir()
    const port = await freePort()
    const app = start({ PORT: String(port), DATA_DIR: dataDir, DATABASE_URL: process.env.DATABASE_URL! })
    expect(await health(port)).toEqual({ ok: true })
    expect(existsSync(path.join(dataDir, 'postgres'))).toBe(false)
    app.child.kill('SIGTERM')
    expect(await app.exited).toBe(0)
  })
})
