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

// Hand-written rather than csv-stringify: with every field quoted, the only escape CSV has is
// a doubled quote. Measured on batches of 5,000 records, csv-stringify took 25 ms a batch, this
// 5 ms, while COPY itself takes about 13.
export const quoted = (value: string) => (value.includes('"') ? `"${value.replaceAll('"', '""')}"` : `"${value}"`)
