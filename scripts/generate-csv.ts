// npm run generate:csv -- <file> (--rows N | --size 200MB) [--seed N]
import { parseArgs } from 'node:util'
import { generateCsv } from '../lib/csv/generate'
import { parseSize } from '../lib/format'

const { positionals, values } = parseArgs({
  allowPositionals: true,
  options: { rows: { type: 'string' }, size: { type: 'string' }, seed: { type: 'string' } },
})
const out = positionals[0]
if (!out || (!values.rows && !values.size)) {
  console.error('usage: npm run generate:csv -- <file> (--rows N | --size 200MB|1GiB) [--seed N]')
  process.exit(2)
}


const seed = values.seed ? Number(values.seed) : undefined
const result = await generateCsv(
  values.rows ? { out, rows: Number(values.rows), seed } : { out, bytes: parseSize(values.size!), seed },
)
console.log(`${out}: ${result.rows} rows, ${result.bytes} bytes`)
