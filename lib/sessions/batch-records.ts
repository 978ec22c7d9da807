import { SluiceError } from '../http/errors'

/**
 * The per-record hot path of the batch API: checks one record's shape and writes it as a line
 * of CSV for COPY. Hand-written instead of a zod parse per record: zod builds a new object for
 * every record and took a third of a batch's CPU, this reads each value once. The zod schema
 * (BatchRecord in schemas.ts) stays the reference and the OpenAPI document's;
 * batch-records.test.ts holds this to its answers on random records (fast-check).
 */

/** Where a record is in its batch: its index in a JSON body's `records`, or its line in an NDJSON body. */
export type RecordPlace = { record: number } | { line: number }

const refused = (at: RecordPlace, message: string, key?: string) =>
  new SluiceError('UNPROCESSABLE', `${'record' in at ? `records[${at.record}]` : `line ${at.line}`} ${message}; the batch was not applied`, {
    details: { ...at, ...(key === undefined ? {} : { key }) },
  })

// Characters JSON allows in no string; a line with one (a tab between tokens included) takes the slow path.
const CONTROL = /[\x00-\x1f]/
const JSON_NUMBER = /^-?(?:0|[1-9]\d*)(?:\.\d+)?(?:[eE][+-]?\d+)?$/
const isSpace = (c: number) => c === 0x20
const skipSpaces = (text: string, i: number) => {
  while (isSpace(text.charCodeAt(i))) i++
  return i
}

/** Refuses a key no column can have: `__proto__` (JSON.parse makes it an own key, but an object
 * spread or zod drops it) and one with a NUL character. */
export function refuseBadKey(key: string, at: RecordPlace): void {
  if (key === '__proto__') throw refused(at, 'has the key "__proto__", which cannot name a column', key)
  if (key.includes('\0')) throw refused(at, 'has a key with a NUL character, which PostgreSQL text cannot hold', key)
}

/**
 * The columns a batch writes, by the key records name them with. `growable` when the batch
 * may add columns (the session's first batch, opened without columns): a new key is then
 * returned to the caller, who adds the column, instead of refused.
 */
export class RecordColumns {
  readonly keys: string[]
  private readonly position: Map<string, number>

  constructor(
    keys: readonly string[],
    readonly growable: boolean,
  ) {
    this.keys = [...keys]
    this.position = new Map(keys.map((k, i) => [k, i]))
  }

  /** The key's place among the columns, or undefined. */
  indexOf(key: string): number | undefined {
    return this.position.get(key)
  }

  add(key: string): void {
    this.position.set(key, this.keys.length)
    this.keys.push(key)
  }

  /**
   * The record as one line of CSV (with its line break) for the columns known now, or the first
   * key it has that is not one of them when the columns may grow. Every value is quoted, so an
   * empty string stays one; null and a missing key are an empty field, which COPY reads as NULL.
   */
  csvLine(record: unknown, at: RecordPlace): string | { newKey: string } {
    if (record === null || typeof record !== 'object' || Array.isArray(record)) {
      throw refused(at, `is ${record === null ? 'null' : Array.isArray(record) ? 'an array' : `a ${typeof record}`}, not an object of column values`)
    }
    const fields: string[] = new Array(this.keys.length).fill('')
    // JSON.parse makes own, enumerable, string-keyed properties only: for…in reads just those.
    for (const key in record) {
      const i = key === '__proto__' ? undefined : this.position.get(key)
      if (i === undefined) {
        refuseBadKey(key, at)
        if (this.growable) return { newKey: key }
        throw refused(at, `has the key ${JSON.stringify(key)}, which is not a column of this session (its columns: ${this.keys.map((k) => JSON.stringify(k)).join(', ')})`, key)
      }
      const value = (record as Record<string, unknown>)[key]
      if (typeof value === 'string') {
        if (value.includes('\0')) throw refused(at, `has a NUL character in ${JSON.stringify(key)}, which PostgreSQL text cannot hold`, key)
        fields[i] = quoted(value)
      } else if (typeof value === 'number' || typeof value === 'boolean') {
        fields[i] = `"${String(value)}"`
      } else if (value !== null) {
        throw refused(at, `has ${Array.isArray(value) ? 'an array' : 'an object'} in ${JSON.stringify(key)}: a value must be a string, a number, true, false or null`, key)
      }
    }
    return `${fields.join(',')}\n`
  }
}

/**
 * An NDJSON line's CSV line, read straight from its text, when the line is a flat object of
 * plain values with known keys, once each (nearly every line of a real body); null for anything
 * else (an escape, a nested value, a key twice or unknown, a tab), which then goes through
 * JSON.parse and csvLine. It spares building an object per record, the larger part of a line's
 * cost. Its answers are theirs: batch-records.test.ts holds it to them on random lines.
 */
export function fastCsvLine(columns: RecordColumns, line: string): string | null {
  const text = line.endsWith('\r') ? line.slice(0, -1) : line
  if (CONTROL.test(text)) return null
  const fields: string[] = new Array(columns.keys.length).fill('')
  const set = new Uint8Array(columns.keys.length)
  let i = skipSpaces(text, 0)
  if (text.charCodeAt(i) !== 0x7b /* { */) return null
  i = skipSpaces(text, i + 1)
  if (text.charCodeAt(i) === 0x7d /* } */) return skipSpaces(text, i + 1) === text.length ? `${fields.join(',')}\n` : null
  for (;;) {
    if (text.charCodeAt(i) !== 0x22) return null
    const keyEnd = text.indexOf('"', i + 1)
    if (keyEnd === -1) return null
    const key = text.slice(i + 1, keyEnd)
    const at = columns.indexOf(key)
    if (at === undefined || set[at] || key.includes('\\')) return null
    i = skipSpaces(text, keyEnd + 1)
    if (text.charCodeAt(i) !== 0x3a /* : */) return null
    i = skipSpaces(text, i + 1)
    const c = text.charCodeAt(i)
    if (c === 0x22) {
      const end = text.indexOf('"', i + 1)
      if (end === -1) return null
      const value = text.slice(i + 1, end)
      // Without a backslash the value is its text, and holds no quote: CSV needs no escape.
      if (value.includes('\\')) return null
      fields[at] = `"${value}"`
      i = end + 1
    } else if (c === 0x74 && text.startsWith('true', i)) {
      fields[at] = '"true"'
      i += 4
    } else if (c === 0x66 && text.startsWith('false', i)) {
      fields[at] = '"false"'
      i += 5
    } else if (c === 0x6e && text.startsWith('null', i)) {
      i += 4
    } else {
      let end = i
      while (end < text.length && !isSpace(text.charCodeAt(end)) && text[end] !== ',' && text[end] !== '}') end++
      const token = text.slice(i, end)
      if (!JSON_NUMBER.test(token)) return null
      // As JSON.parse and then String() write it: 1.50 is 1.5, 1e3 is 1000.
      fields[at] = `"${String(Number(token))}"`
      i = end
    }
    set[at] = 1
    i = skipSpaces(text, i)
    const next = text.charCodeAt(i)
    if (next === 0x2c /* , */) {
      i = skipSpaces(text, i + 1)
      continue
    }
    if (next === 0x7d && skipSpaces(text, i + 1) === text.length) return `${fields.join(',')}\n`
    return null
  }
}

// Hand-written rather than csv-stringify: with every field quoted, the only escape CSV has is
// a doubled quote. Measured on batches of 5,000 records, csv-stringify took 25 ms a batch, this
// 5 ms, while COPY itself takes about 13.
const quoted = (value: string) => `"${value.replaceAll('"', '""')}"`
