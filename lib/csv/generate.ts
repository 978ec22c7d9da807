import fs from 'node:fs'
import { once } from 'node:events'

/**
 * Writes a realistic CSV (header plus rows of ids, dates, timestamps, amounts and quoted
 * text with commas, quotes and line breaks) of a given number of rows or bytes, streaming,
 * so a 10 GB fixture costs no memory. The same seed gives the same bytes.
 */
export type GenerateOptions = { out: string; seed?: number } & ({ rows: number } | { bytes: number })

export const HEADER = 'id,created_on,updated_at,customer,amount,category,note'

const CATEGORIES = ['books', 'garden', 'tools', 'music', 'toys', 'food', 'travel']
const NAMES = ['Ada Lovelace', 'Grace Hopper', 'Alan Turing', 'Edsger Dijkstra', 'Barbara Liskov', 'Ken Thompson']
const NOTES = ['', 'gift', 'express, please', 'said "thanks"', 'two\nlines', 'ünïcödé ✓']

function mulberry32(seed: number) {
  return () => {
    seed = (seed + 0x6d2b79f5) | 0
    let t = Math.imul(seed ^ (seed >>> 15), 1 | seed)
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296
  }
}

/**
 * A timestamp as PostgreSQL writes a timestamptz in UTC (2020-01-22 08:40:05.47+00: trailing
 * zeros of the fraction dropped): the import types the column, and the export gives these bytes back.
 */
const pgTimestamp = (at: Date) => {
  const iso = at.toISOString()
  return `${iso.slice(0, 10)} ${iso.slice(11, 19)}${iso.slice(19, 23).replace(/\.?0+$/, '')}+00`
}

const quote = (s: string) => (/[",\n\r]/.test(s) ? `"${s.replaceAll('"', '""')}"` : s)

/** Writes the file and returns how many data rows and bytes it holds. */
export async function generateCsv(options: GenerateOptions): Promise<{ rows: number; bytes: number }> {
  const random = mulberry32(options.seed ?? 42)
  const pick = <T>(list: T[]) => list[Math.floor(random() * list.length)]!
  const out = fs.createWriteStream(options.out)
  const limitRows = 'rows' in options ? options.rows : Infinity
  const limitBytes = 'bytes' in options ? options.bytes : Infinity
  const day0 = Date.UTC(2020, 0, 1)

  let bytes = Buffer.byteLength(HEADER) + 1
  out.write(HEADER + '\n')
  let rows = 0
  let chunk = ''
  while (rows < limitRows && bytes < limitBytes) {
    const id = rows + 1
    const at = new Date(day0 + Math.floor(random() * 5 * 365 * 86_400_000))
    const line =
      `${id},${at.toISOString().slice(0, 10)},${pgTimestamp(at)},${quote(pick(NAMES))},` +
      `${(random() * 10_000).toFixed(2)},${pick(CATEGORIES)},${quote(pick(NOTES))}\n`
    chunk += line
    bytes += Buffer.byteLength(line)
    rows++
    if (chunk.length > 1 << 16) {
      if (!out.write(chunk)) await once(out, 'drain')
      chunk = ''
    }
  }
  out.end(chunk)
  await once(out, 'finish')
  return { rows, bytes }
}
