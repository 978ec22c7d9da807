// npm run generate -- --rows N --out FILE [--seed S]    (or --size 200MB|1GiB instead of --rows)
// Writes a realistic CSV (see lib/csv/generate.ts), the same bytes for the same seed.
import path from 'node:path'
import { parseArgs } from 'node:util'
import { startProgressBar, type ProgressBar } from '../lib/cli/progress'
import { generateCsv } from '../lib/csv/generate'
import { formatBytes, formatCount, parseSize } from '../lib/format'

const USAGE = 'usage: npm run generate -- --rows N --out FILE [--seed S]   (or --size 200MB|1GiB instead of --rows)'

function readOptions() {
  const { values } = parseArgs({
    options: { rows: { type: 'string' }, size: { type: 'string' }, out: { type: 'string' }, seed: { type: 'string' } },
  })
  if (!values.out) throw new Error('--out FILE is required')
  if ((values.rows === undefined) === (values.size === undefined)) throw new Error('give either --rows or --size')
  const seed = values.seed === undefined ? undefined : wholeNumber('--seed', values.seed)
  const source: { rows: number } | { bytes: number } = values.rows !== undefined ? { rows: wholeNumber('--rows', values.rows) } : { bytes: parseSize(values.size!) }
  return { out: values.out, seed, ...source }
}

function wholeNumber(flag: string, text: string): number {
  const n = Number(text)
  if (!/^\d+$/.test(text) || !Number.isSafeInteger(n)) throw new Error(`${flag} must be a whole number, not "${text}"`)
  return n
}

let options: ReturnType<typeof readOptions>
try {
  options = readOptions()
} catch (e) {
  console.error(`${(e as Error).message}\n${USAGE}`)
  process.exit(2)
}

const byRows = 'rows' in options
const total = 'rows' in options ? options.rows : options.bytes
let bar: ProgressBar | undefined // started with the first bytes written, so a bad path shows no bar
const started = performance.now()
try {
  const { rows, bytes } = await generateCsv({
    ...options,
    onProgress(written) {
      bar ??= startProgressBar({ label: 'Generating', total, unit: byRows ? 'rows' : 'bytes' })
      if (byRows) bar.update(written.rows)
      else bar.update(Math.min(written.bytes, total), `${formatCount(written.rows)} rows`)
    },
  })
  bar?.stop()
  const seconds = (performance.now() - started) / 1000
  console.log(
    `${options.out}: ${formatCount(rows)} rows, ${formatCount(bytes)} bytes (${formatBytes(bytes)}) ` +
      `in ${seconds.toFixed(1)} s, ${formatBytes(bytes / seconds)}/s`,
  )
} catch (e) {
  bar?.stop()
  console.error(`Could not write ${path.resolve(options.out)}: ${(e as Error).message}`)
  process.exit(1)
}
