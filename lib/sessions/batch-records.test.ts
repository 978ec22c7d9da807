import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { SluiceError } from '../http/errors'
import { RecordColumns } from './batch-records'
import { BatchRecord } from './schemas'

// The hand-written record check of the batch path against the zod schema it replaces on the
// hot path: on random records, as JSON.parse makes them from a body, both accept the same
// records (those with known keys) and refuse the same, and an accepted record's CSV line is
// the one the zod-parsed record gives.

const COLUMNS = ['id', 'Full name', 'note', '', 'a"b']

/** The CSV line as the batch path wrote it before (from the zod-parsed record). */
function referenceLine(record: Record<string, string | number | boolean | null>): string {
  const fields = COLUMNS.map(() => '')
  for (const [key, value] of Object.entries(record)) {
    if (value !== null) fields[COLUMNS.indexOf(key)] = `"${String(value).replaceAll('"', '""')}"`
  }
  return `${fields.join(',')}\n`
}

const key = fc.oneof(fc.constantFrom(...COLUMNS, '__proto__', 'x\0y', 'unknown', 'constructor', 'toString'), fc.string({ maxLength: 4 }))
const scalar = fc.oneof(
  fc.string({ unit: fc.constantFrom('a', '"', ',', '\n', '\0', 'é', ' ') }),
  fc.double({ noNaN: true, noDefaultInfinity: true }),
  fc.integer(),
  fc.boolean(),
  fc.constant(null),
)
const value = fc.oneof({ weight: 5, arbitrary: scalar }, { weight: 1, arbitrary: fc.jsonValue({ maxDepth: 2 }) })
// As the server gets a record: JSON text, parsed (so that "__proto__" is an own key).
const recordText = fc.array(fc.tuple(key, value), { maxLength: 6 }).map((entries) => `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${JSON.stringify(v)}`).join(',')}}`)
const anyRecord = fc.oneof({ weight: 9, arbitrary: recordText }, { weight: 1, arbitrary: fc.jsonValue({ maxDepth: 2 }).map((v) => JSON.stringify(v)) })

describe('a batch record, checked by hand', () => {
  it('is accepted exactly when the zod schema accepts it and names only known columns, with the same CSV line', () => {
    const columns = new RecordColumns(COLUMNS, false)
    fc.assert(
      fc.property(anyRecord, (text) => {
        const record = JSON.parse(text) as unknown
        const zod = BatchRecord.safeParse(record)
        const known = zod.success && Object.keys(record as object).every((k) => COLUMNS.includes(k))
        let line: string | null = null
        try {
          line = columns.csvLine(record, { record: 0 }) as string
        } catch (error) {
          expect(error).toBeInstanceOf(SluiceError)
          expect((error as SluiceError).code).toBe('UNPROCESSABLE')
        }
        expect(line !== null).toBe(known)
        if (known) expect(line).toBe(referenceLine(zod.data!))
      }),
      { numRuns: 5000 },
    )
  })

  it('names the record, the key and why', () => {
    const columns = new RecordColumns(['id'], false)
    const at = { line: 7 }
    const refusal = (text: string) => {
      try {
        columns.csvLine(JSON.parse(text), at)
      } catch (error) {
        return { message: (error as SluiceError).message, details: (error as SluiceError).details }
      }
      return null
    }
    expect(refusal('{"id": 1, "name": "x"}')).toEqual({
      message: 'line 7 has the key "name", which is not a column of this session (its columns: "id"); the batch was not applied',
      details: { line: 7, key: 'name' },
    })
    expect(refusal('{"id": [1]}')?.message).toBe('line 7 has an array in "id": a value must be a string, a number, true, false or null; the batch was not applied')
    expect(refusal('{"__proto__": 1}')?.message).toBe('line 7 has the key "__proto__", which cannot name a column; the batch was not applied')
    expect(refusal('"id"')?.message).toBe('line 7 is a string, not an object of column values; the batch was not applied')
    expect(refusal('null')?.message).toBe('line 7 is null, not an object of column values; the batch was not applied')
    expect(columns.csvLine(JSON.parse('{"id": "a\\"b"}'), at)).toBe('"a""b"\n')
    expect(columns.csvLine({}, at)).toBe('\n')
  })

  it('returns a new key instead of refusing it when the columns may grow', () => {
    const columns = new RecordColumns(['a'], true)
    expect(columns.csvLine({ a: 1, b: 2 }, { line: 1 })).toEqual({ newKey: 'b' })
    columns.add('b')
    expect(columns.csvLine({ a: 1, b: 2 }, { line: 1 })).toBe('"1","2"\n')
  })
})
