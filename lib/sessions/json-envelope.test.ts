import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { RecordColumns } from './batch-records'
import { parseEnvelope, scanEnvelope, transcodeRecords } from './json-envelope'

// A JSON batch's fast route (the envelope scanned, its records transcoded) against the general
// one (the body parsed whole with zod, each record through csvLine): on random bodies, whatever
// the fast route takes, the general one takes with the same sequence and the same CSV.

const COLUMNS = ['id', 'name', 'a"b']
const columns = new RecordColumns(COLUMNS, false)

/** The general route's answer: the sequence and the CSV, or null when it refuses the body. */
function reference(text: string): { sequence: number | undefined; csv: string } | null {
  try {
    const { records, sequence } = parseEnvelope(Buffer.from(text))
    return { sequence, csv: records.map((r, i) => columns.csvLine(r, { record: i }) as string).join('') }
  } catch {
    return null
  }
}

/**
 * The fast route's answer, or null when it leaves the body to the general one: the records
 * transcoded while the envelope is scanned, or (the session's columns unknown then) from the
 * span it found. Both must agree on whether they take a body and on what they make of it.
 */
function fast(text: string): { sequence: number | undefined; csv: string } | null {
  const bytes = Buffer.from(text)
  const scanned = scanEnvelope(bytes)
  const onePass = scanEnvelope(bytes, columns)
  expect(onePass?.records).toEqual(scanned?.records)
  expect(onePass?.sequence).toBe(scanned?.sequence)
  if (!scanned) return null
  const written = transcodeRecords(bytes, scanned.records, columns)
  expect(onePass!.written?.csv.toString() ?? null).toBe(written?.csv.toString() ?? null)
  expect(onePass!.written?.records ?? null).toBe(written?.records ?? null)
  return written && { sequence: scanned.sequence, csv: written.csv.toString() }
}

const space = fc.constantFrom('', ' ', '\n', '\t ')
const scalar = fc.oneof(fc.string({ unit: fc.constantFrom('a', '"', ',', '\n', '\\', 'é', ']', '}') }), fc.integer(), fc.boolean(), fc.constant(null))
const record = fc.oneof(
  { weight: 8, arbitrary: fc.dictionary(fc.constantFrom(...COLUMNS), scalar) },
  { weight: 1, arbitrary: fc.jsonValue({ maxDepth: 2 }) },
)
const records = fc.tuple(fc.array(fc.tuple(record, space), { maxLength: 5 }), space).map(([rs, s]) => `[${s}${rs.map(([r, s2]) => `${JSON.stringify(r)}${s2}`).join(',')}]`)
const sequence = fc.oneof(fc.nat(), fc.constantFrom(-1, 1.5, '"3"', null, 1e20) as fc.Arbitrary<unknown>).map((v) => String(typeof v === 'string' ? v : JSON.stringify(v)))
const member = fc.oneof(records.map((r) => `"records":${r}`), sequence.map((n) => `"sequence":${n}`), fc.constantFrom('"extra":1', '"rec\\u006frds":[]'))
const envelope = fc.tuple(fc.array(fc.tuple(space, member, space), { maxLength: 3 }), space).map(([ms, s]) => `${s}{${ms.map(([a, m, b]) => `${a}${m}${b}`).join(',')}}${s}`)
const mangled = fc.tuple(envelope, fc.nat(), fc.constantFrom('', ',', ']', '[', '"', '{', '}')).map(([t, at, insert]) => {
  const i = t.length ? at % t.length : 0
  return t.slice(0, i) + insert + t.slice(i + 1)
})

describe('a JSON batch read without parsing it whole', () => {
  it('gives the sequence and CSV that parsing it whole gives, whenever it takes the body', () => {
    fc.assert(
      fc.property(fc.oneof(envelope, mangled), (text) => {
        const got = fast(text)
        if (got !== null) expect(got).toEqual(reference(text))
      }),
      { numRuns: 20000 },
    )
  })

  it('takes the plain envelope, in either order, and leaves the rest to zod', () => {
    expect(fast('{"sequence": 4, "records": [{"id": 1, "name": "x"}, {"name": null}]}')).toEqual({ sequence: 4, csv: '"1","x",\n,,\n' })
    expect(fast(' {"records":[]}\n')).toEqual({ sequence: undefined, csv: '' })
    // Lines longer than their records (1e9 is "1000000000", and every absent column a comma): the CSV outgrows the body.
    expect(fast(`{"records": [${Array(5000).fill('{"id":1e9}').join(',')}]}`)).toEqual({ sequence: undefined, csv: '"1000000000",,\n'.repeat(5000) })
    expect(scanEnvelope(Buffer.from('{"records": [{"id": [1, {"x": "]"}]}, 2]}'))?.records.count).toBe(2)
    for (const text of ['{"records": [], "sequence": -1}', '{"records": [], "records": []}', '{"records": [], "x": 1}', '{"records": [],}', '{"sequence": 1}', '[]', '{"records": [}']) {
      expect(scanEnvelope(Buffer.from(text))).toBeNull()
    }
  })
})
