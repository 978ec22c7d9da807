import fs from 'node:fs'
import path from 'node:path'
import { osFolder } from './os-folders'

// Where `npm run login` keeps the API key of each server it signed in to, readable by the user
// alone (0600): the OS's config folder (XDG_CONFIG_HOME or ~/.config on Linux, ~/Library/
// Application Support on macOS, %APPDATA% on Windows), in sluice/credentials.json. A key never
// goes on a command line (ps shows it to every user) or into a URL (logs keep it).

export const credentialsFile = () => path.join(osFolder('config'), 'sluice', 'credentials.json')

type Stored = { servers: Record<string, { key: string; email: string; savedAt: string }> }

function readStored(): Stored {
  try {
    return JSON.parse(fs.readFileSync(credentialsFile(), 'utf8')) as Stored
  } catch {
    return { servers: {} }
  }
}

/** The key to send to `url`: SLUICE_API_KEY, else the one `npm run login` stored for that server. */
export function apiKeyFor(url: string): string | undefined {
  return process.env.SLUICE_API_KEY?.trim() || readStored().servers[new URL(url).origin]?.key
}

/** Stores the key for `url`'s server (replacing an earlier one), in a file only the user can read. */
export function storeApiKey(url: string, key: string, email: string): string {
  const file = credentialsFile()
  const stored = readStored()
  stored.servers[new URL(url).origin] = { key, email, savedAt: new Date().toISOString() }
  fs.mkdirSync(path.dirname(file), { recursive: true, mode: 0o700 })
  fs.writeFileSync(file, `${JSON.stringify(stored, null, 2)}\n`, { mode: 0o600 })
  fs.chmodSync(file, 0o600) // writeFileSync keeps the mode of a file that existed
  return file
}
