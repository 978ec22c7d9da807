/** 1536 → "1.5 KiB"; binary units, as file managers and `ls -h` show sizes. */
export function formatBytes(n: number): string {
  const units = ['bytes', 'KiB', 'MiB', 'GiB', 'TiB']
  let i = 0
  while (n >= 1024 && i < units.length - 1) {
    n /= 1024
    i++
  }
  return `${i === 0 ? n : n.toFixed(1)} ${units[i]}`
}

/** 3725 → "1 h 2 min"; a remaining time, rounded to what a person can use. */
export function formatDuration(seconds: number): string {
  if (!Number.isFinite(seconds) || seconds < 0) return '—'
  if (seconds < 60) return `${Math.ceil(seconds)} s`
  const minutes = Math.round(seconds / 60)
  if (minutes < 60) return `${minutes} min`
  return `${Math.floor(minutes / 60)} h ${minutes % 60} min`
}

/** "200MB" → 200e6, "1GiB" → 2^30, "5000" → 5000; throws on anything else. For command-line flags. */
export function parseSize(text: string): number {
  const m = /^(\d+(?:\.\d+)?)\s*(|B|KB|MB|GB|KiB|MiB|GiB)$/i.exec(text.trim())
  if (!m) throw new Error(`not a size: ${text} (examples: 5000, 100MB, 64MiB, 1GiB)`)
  const unit = { '': 1, b: 1, kb: 1e3, mb: 1e6, gb: 1e9, kib: 2 ** 10, mib: 2 ** 20, gib: 2 ** 30 }[m[2]!.toLowerCase()]!
  return Math.round(Number(m[1]) * unit)
}
