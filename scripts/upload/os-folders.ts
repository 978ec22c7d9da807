import os from 'node:os'
import path from 'node:path'

/**
 * The OS's folder for a user's caches or settings: XDG_CACHE_HOME / XDG_CONFIG_HOME or
 * ~/.cache / ~/.config on Linux, ~/Library/Caches / ~/Library/Application Support on macOS,
 * %LOCALAPPDATA% / %APPDATA% on Windows.
 */
export function osFolder(kind: 'cache' | 'config'): string {
  const home = os.homedir()
  const xdg = kind === 'cache' ? process.env.XDG_CACHE_HOME : process.env.XDG_CONFIG_HOME
  if (xdg) return xdg
  if (process.platform === 'darwin') return path.join(home, 'Library', kind === 'cache' ? 'Caches' : 'Application Support')
  if (process.platform === 'win32') {
    return kind === 'cache' ? (process.env.LOCALAPPDATA ?? path.join(home, 'AppData', 'Local')) : (process.env.APPDATA ?? path.join(home, 'AppData', 'Roaming'))
  }
  return path.join(home, kind === 'cache' ? '.cache' : '.config')
}
