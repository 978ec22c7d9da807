import fs from 'node:fs'
import { Readable } from 'node:stream'
import { pipeline } from 'node:stream/promises'

/**
 * Fake but realistic data for tests, benchmarks and demos: records of ids, dates, timestamps,
 * names with non-ASCII letters, emails, amounts, categories and free text with commas, quotes
 * and line breaks. `generateRecords` yields them one by one (the batch mode of `npm run
 * upload` sends them as JSON); `generateCsv` writes the same records as a CSV file, streaming,
 * so a 10 GB fixture costs no memory. The same seed gives the same records and the same bytes.
 */

export const COLUMNS = ['id', 'created_on', 'updated_at', 'customer', 'email', 'amount', 'category', 'note'] as const
export type Column = (typeof COLUMNS)[number]
/** One record: every value as it is written in the CSV; an empty note is null (an empty field). */
export type GeneratedRecord = Record<Column, string | null>

export const HEADER = COLUMNS.join(',')

/**
 * Bumped whenever the generator's output changes for a given seed, so that files cached by
 * earlier versions (the benches keep theirs in the temp folder) are not reused.
 */
export const CSV_FORMAT_VERSION = 3

export const DEFAULT_SEED = 42

const CATEGORIES = ['books', 'garden', 'tools', 'music', 'toys', 'food', 'travel']

// [as written, as an email's local part spells it]
const FIRST_NAMES = [
  ['Ada', 'ada'], ['Zoë', 'zoe'], ['José', 'jose'], ['Łukasz', 'lukasz'], ['Søren', 'soren'], ['Chloé', 'chloe'],
  ['Björn', 'bjorn'], ['Aoife', 'aoife'], ['Amélie', 'amelie'], ['Jürgen', 'jurgen'], ['Grace', 'grace'], ['Alan', 'alan'],
  ['Ingrid', 'ingrid'], ['Mateo', 'mateo'], ['Yuki', 'yuki'], ['Priya', 'priya'],
] as const
const LAST_NAMES = [
  ['Lovelace', 'lovelace'], ['Ångström', 'angstrom'], ['Núñez', 'nunez'], ['Dvořák', 'dvorak'], ["O'Brien", 'obrien'],
  ['Müller', 'muller'], ['García', 'garcia'], ['Kowalski', 'kowalski'], ['Øvergaard', 'overgaard'], ['Hopper', 'hopper'],
  ['Turing', 'turing'], ['Nakamura', 'nakamura'], ['de la Cruz', 'delacruz'], ['Šimek', 'simek'],
] as const
// Names not written as "first last" (family name first, or one piece).
const WHOLE_NAMES = [
  ['李伟', 'li.wei'], ['王芳', 'wang.fang'], ['佐藤 健', 'sato.ken'], ['Nguyễn Văn An', 'nguyen.an'], ['Ólafur Þórsson', 'olafur.thorsson'],
] as const
const DOMAINS = ['example.com', 'example.org', 'example.net', 'mail.test', 'post.example']
// Pieces of free text: commas, quotes, line breaks (LF and CRLF), non-ASCII, a leading space.
const NOTES = [
  'gift',
  'express, please',
  'said "thanks"',
  'two\nlines',
  'ünïcödé ✓',
  'leave at the door; ring twice',
  'size 42, colour "navy", no logo',
  'call first\r\nback entrance',
  '€ 12,50 off',
  'お届け日: 金曜日',
  ' starts with a space',
  'ref #A-1029',
]

function mulberry32(seed: number) {
  return () => {
    seed = (seed + 0x6d2b79f5) | 0
    let t = Math.imul(seed ^ (seed >>> 15), 1 | seed)
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296
  }
}

const DAY_MS = 86_400_000
const DAYS = 5 * 365 // created_on runs over 2020–2024
const UPDATE_DAYS = 30 // updated_at is up to 30 days after created_on

// Dates and times are written from tables rather than by Date#toISOString: four times faster,
// and the generator's speed is what its callers wait for.
const DAY_TEXT = Array.from({ length: DAYS + UPDATE_DAYS }, (_, d) => new Date(Date.UTC(2020, 0, 1) + d * DAY_MS).toISOString().slice(0, 10))
const pad = (n: number, width: number) => String(n).padStart(width, '0')
const TWO_DIGITS = Array.from({ length: 60 }, (_, n) => pad(n, 2))
// Milliseconds as PostgreSQL writes a fraction: trailing zeros dropped, none at all for 0 (.47, .5, "").
const FRACTIONS = Array.from({ length: 1000 }, (_, n) => (n ? `.${pad(n, 3).replace(/0+$/, '')}` : ''))

/**
 * `day` days after 2020-01-01 plus `ms` milliseconds (under a day), as PostgreSQL writes a
 * timestamptz in UTC (2020-01-22 08:40:05.47+00): the import types the column, and the export
 * gives these bytes back.
 */
function timestamp(day: number, ms: number): string {
  const s = Math.floor(ms / 1000)
  return `${DAY_TEXT[day]} ${TWO_DIGITS[Math.floor(s / 3600)]}:${TWO_DIGITS[Math.floor(s / 60) % 60]}:${TWO_DIGITS[s % 60]}${FRACTIONS[ms % 1000]}+00`
}

/** Endless records with ids 1, 2, 3…; the same seed yields the same records. */
export function* generateRecords(seed = DEFAULT_SEED): Generator<GeneratedRecord, never> {
  const random = mulberry32(seed)
  const pick = <T>(list: readonly T[]) => list[Math.floor(random() * list.length)]!
  for (let id = 1; ; id++) {
    const created = Math.floor(random() * DAYS)
    const later = Math.floor(random() * UPDATE_DAYS * DAY_MS)
    let customer: string
    let local: string
    if (random() < 0.1) {
      ;[customer, local] = pick(WHOLE_NAMES)
    } else {
      const first = pick(FIRST_NAMES)
      const last = pick(LAST_NAMES)
      customer = `${first[0]} ${last[0]}`
      local = `${first[1]}.${last[1]}`
    }
    const r = random()
    const note = r < 0.4 ? null : r < 0.85 ? pick(NOTES) : `${pick(NOTES)} ${pick(NOTES)}`
    yield {
      id: String(id),
      created_on: DAY_TEXT[created]!,
      updated_at: timestamp(created + Math.floor(later / DAY_MS), later % DAY_MS),
      customer,
      email: `${local}${Math.floor(random() * 100)}@${pick(DOMAINS)}`,
      // Mostly small amounts, a few large ones, as in real sales.
      amount: (Math.exp(random() * 9) - 1).toFixed(2),
      category: pick(CATEGORIES),
      note,
    }
  }
}

/**
 * How the records are written: ISO (comma-separated, 1234.56, 2024-01-31), or as a European
 * spreadsheet writes them (semicolon-separated, 1.234,56, 31.01.2024; timestamps stay ISO).
 */
export type Written = 'iso' | 'european'

/** A value as CSV writes it: quoted only when it must be (as PostgreSQL's COPY writes it too). */
const quote = (s: string | null, delimiter: string) =>
  s === null ? '' : s.includes('"') || s.includes(delimiter) || /[\n\r]/.test(s) ? `"${s.replaceAll('"', '""')}"` : s

const GERMAN = new Intl.NumberFormat('de-DE', { minimumFractionDigits: 2, maximumFractionDigits: 2 })

/** A record's values as a European file writes them. */
function european(record: GeneratedRecord): GeneratedRecord {
  const [year, month, day] = record.created_on!.split('-')
  return { ...record, created_on: `${day}.${month}.${year}`, amount: GERMAN.format(Number(record.amount)) }
}

/** One record as a CSV line, with its line end. */
export function csvLine(record: GeneratedRecord, written: Written = 'iso'): string {
  const delimiter = written === 'iso' ? ',' : ';'
  const values = written === 'iso' ? record : european(record)
  let line = quote(values[COLUMNS[0]], delimiter)
  for (let i = 1; i < COLUMNS.length; i++) line += delimiter + quote(values[COLUMNS[i]!], delimiter)
  return line + '\n'
}

export type GenerateOptions = {
  out: string
  seed?: number
  written?: Written
  /** Called now and then while writing (every 64 KiB or so) with what is written so far. */
  onProgress?: (written: { rows: number; bytes: number }) => void
} & ({ rows: number } | { bytes: number })

/** Writes the file and returns how many data rows and bytes it holds. */
export async function generateCsv(options: GenerateOptions): Promise<{ rows: number; bytes: number }> {
  const limitRows = 'rows' in options ? options.rows : Infinity
  const limitBytes = 'bytes' in options ? options.bytes : Infinity
  let rows = 0
  let bytes = 0
  function* chunks() {
    const records = generateRecords(options.seed)
    let chunk = (options.written === 'european' ? COLUMNS.join(';') : HEADER) + '\n'
    bytes = Buffer.byteLength(chunk)
    while (rows < limitRows && bytes < limitBytes) {
      const line = csvLine(records.next().value, options.written)
      chunk += line
      bytes += Buffer.byteLength(line)
      rows++
      if (chunk.length > 1 << 16) {
        yield chunk
        chunk = ''
        options.onProgress?.({ rows, bytes })
      }
    }
    yield chunk
  }
  await pipeline(Readable.from(chunks()), fs.createWriteStream(options.out))
  options.onProgress?.({ rows, bytes })
  return { rows, bytes }
}
