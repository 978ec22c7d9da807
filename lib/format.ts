/** 1536 → "1.5 KiB"; binary units, as file managers and `ls -h` show sizes. */
export function formatBytes(n: number): string {
  const units = ['bytes', 'KiB', 'MiB', 'GiB', 'TiB']
  let i = 0
  while (n >= 1024 && i < units.length - 1) {
    n /= 1024
    i++
  }
  // 10 GiB, not 10.0 GiB: a limit reads as the round number it was set to.
  return `${i === 0 ? n : n.toFixed(1).replace(/\.0$/, '')} ${units[i]}`
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

// One fixed locale, so that the server's render and the browser's agree (hydration) and a
// count reads the same on every machine: 1234567 → "1,234,567".
const counts = new Intl.NumberFormat('en-US', { maximumFractionDigits: 0 })

/** 1234567 → "1,234,567"; row counts and rates. */
export function formatCount(n: number): string {
  return counts.format(n)
}

/** 1 → "1 row", 1234 → "1,234 rows". */
export function formatRows(n: number): string {
  return `${formatCount(n)} ${n === 1 ? 'row' : 'rows'}`
}

/** 299.4 → "4:59", 3725 → "1:02:05"; a countdown that ticks each second (never below 0:00). */
export function formatClock(seconds: number): string {
  const total = Number.isFinite(seconds) ? Math.max(0, Math.ceil(seconds)) : 0
  const h = Math.floor(total / 3600)
  const m = Math.floor((total % 3600) / 60)
  const s = String(total % 60).padStart(2, '0')
  return h > 0 ? `${h}:${String(m).padStart(2, '0')}:${s}` : `${m}:${s}`
}

/** An ISO timestamp as "2025-03-04 14:05" in the reader's own time zone. */
export function formatDateTime(iso: string): string {
  const d = new Date(iso)
  const pad = (n: number) => String(n).padStart(2, '0')
  return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())} ${pad(d.getHours())}:${pad(d.getMinutes())}`
}
