// npm run generate:csv -- <file> (--rows N | --size 200MB) [--seed N]
import { parseArgs } from 'node:util'
import { generateCsv } from '../lib/csv/generate'

const { positionals, values } = parseArgs({
  allowPositionals: true,
  options: { rows: { type: 'string' }, size: { type: 'string' }, seed: { type: 'string' } },
})
const out = positionals[0]
if (!out || (!values.rows && !values.size)) {
  console.error('usage: npm run generate:csv -- <file> (--rows N | --size 200MB|1GiB) [--seed N]')
  process.exit(2)
}

/** "200MB" → 200e6, "1GiB" → 2^30, "5000" → 5000. */
function parseSize(text: string): number {
  const m = /^(\d+(?:\.\d+)?)\s*(|B|KB|MB|GB|KiB|MiB|GiB)$/i.exec(text.trim())
  if (!m) throw new Error(`not a size: ${text}`)
  const unit = { '': 1, b: 1, kb: 1e3, mb: 1e6, gb: 1e9, kib: 2 ** 10, mib: 2 ** 20, gib: 2 ** 30 }[m[2]!.toLowerCase()]!
  return Math.round(Number(m[1]) * unit)
}

const seed = values.seed ? Number(values.seed) : undefined
const result = await generateCsv(
  values.rows ? { out, rows: Number(values.rows), seed } : { out, bytes: parseSize(values.size!), seed },
)
console.log(`${out}: ${result.rows} rows, ${result.bytes} bytes`)
