// The CSV fixture that bench:import and bench:export load: generated once into the temp
// folder and reused by later runs.
import fs from 'node:fs'
import fsp from 'node:fs/promises'
import os from 'node:os'
import path from 'node:path'
import { CSV_FORMAT_VERSION, generateCsv, type Written } from '../../lib/csv/generate'
import { formatBytes } from '../../lib/format'
import { readFileOrEmpty } from './harness'

// generateCsv stops after the row that reaches the requested size; no row is this long.
const MAX_ROW_BYTES = 1024

/** What to generate: a number of rows, or (at least) a number of bytes. */
export type Source = { rows: number } | { bytes: number }
/** The file, its size, and its row count when the generator counted it. */
export type Fixture = { file: string; size: number; rows: number | undefined }

/**
 * The fixture, generated once and kept in the temp folder for later runs (by size or row
 * count, and the generator's format version, so a file of an older format is never reused;
 * bench:upload shares it too). Its row count is kept beside it in `<file>.rows`.
 */
export async function ensureCsv(source: Source, written: Written = 'iso'): Promise<Fixture> {
  const dir = path.join(os.tmpdir(), 'sluice-bench')
  const name = ('rows' in source ? `rows-${source.rows}` : `${source.bytes}`) + (written === 'iso' ? '' : `-${written}`)
  const file = path.join(dir, `bench-v${CSV_FORMAT_VERSION}-${name}.csv`)
  const countFile = `${file}.rows`
  const size = fs.statSync(file, { throwIfNoEntry: false })?.size ?? -1
  const counted = Number(readFileOrEmpty(countFile).trim()) || undefined
  const reusable = 'rows' in source ? size > 0 && counted === source.rows : size >= source.bytes && size < source.bytes + MAX_ROW_BYTES
  if (reusable) {
    console.log(`Reusing ${file}`)
    return { file, size, rows: counted }
  }
  await fsp.mkdir(dir, { recursive: true })
  console.log(`Generating ${'rows' in source ? `${source.rows.toLocaleString('en')} rows` : formatBytes(source.bytes)} of CSV in ${file}…`)
  // Written under another name first, so an interrupted run never leaves a short file to reuse.
  const partial = `${file}.partial`
  const generated = await generateCsv({ out: partial, written, ...source })
  await fsp.rename(partial, file)
  await fsp.writeFile(countFile, `${generated.rows}\n`)
  return { file, size: generated.bytes, rows: generated.rows }
}

