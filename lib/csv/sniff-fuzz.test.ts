import { stringify } from 'csv-stringify/sync'
import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { scanRecords } from '../imports/record-scanner'
import { NotCsvError } from './encoding'
import { sniffCsv, type Dialect } from './sniff'

// Seeded, bounded property and fuzz runs of the sniffer and the record scanner: a few thousand
// cases in CI time. FUZZ_RUNS raises the count for a longer hunt.
const runs = (n: number) => ({ numRuns: Number(process.env.FUZZ_RUNS ?? n), seed: 17 })

const awkward = fc.string({
  unit: fc.constantFrom('a', 'Z', '0', '7', ' ', ',', ';', '|', '\t', '"', "'", '\\', '\n', 'é', '中', '€', '-', '.'),
  maxLength: 10,
})
const table = fc.integer({ min: 2, max: 5 }).chain((columns) =>
  fc.record({
    headers: fc.array(fc.stringMatching(/^[a-z]{1,8}$/), { minLength: columns, maxLength: columns }),
    // Values start with a letter, as most do: an open quote then meets the next record's opening
    // quote followed by a letter, where csv-parse stops. (Where the next quote opens an empty or
    // escaped value, the open one pairs with it and the sniffer can still be fooled.)
    // Line breaks inside values are left to the round-trip property of lib/imports/corpus.test.ts:
    // next to a quote that never closes, a few of them in a small table are ambiguous.
    rows: fc.array(fc.array(awkward.map((v) => `v${v.replace(/\n/g, ' ')}`), { minLength: columns, maxLength: columns }), { minLength: 4, maxLength: 40 }),
  }),
)
const dialect = fc.record({
  delimiter: fc.constantFrom<Dialect['delimiter']>(',', ';', '\t', '|'),
  quote: fc.constantFrom<Dialect['quote']>('"', "'"),
  newline: fc.constantFrom<Dialect['newline']>('\n', '\r\n'),
})

const write = (records: string[][], d: { delimiter: string; quote: string; newline: string }) =>
  stringify(records, { delimiter: d.delimiter, quote: d.quote, escape: d.quote, record_delimiter: d.newline, quoted: true, quoted_empty: true })

describe('sniffer (property)', () => {
  it('keeps the dialect of a table with one record whose quote never closes, wherever it is', () => {
    fc.assert(
      fc.property(table, dialect, fc.nat(), ({ headers, rows }, d, at) => {
        const clean = write([headers, ...rows], d)
        // A record that opens a quote and never closes it, between two records of the table.
        const k = 1 + (at % (rows.length - 1))
        const corrupted = `${write([headers, ...rows.slice(0, k)], d)}${d.quote}open${d.delimiter}broken${d.newline}${write(rows.slice(k), d)}`
        const expected = sniffCsv(Buffer.from(clean), true).dialect
        expect(expected).toMatchObject({ delimiter: d.delimiter, quote: d.quote, newline: d.newline, header: true })
        expect(sniffCsv(Buffer.from(corrupted), true).dialect).toEqual(expected)
      }),
      runs(300),
    )
  })
})

describe('sniffer and scanner (fuzz)', () => {
  const mutated = fc
    .tuple(table, dialect, fc.array(fc.tuple(fc.nat(), fc.integer({ min: 0, max: 255 })), { maxLength: 8 }))
    .map(([{ headers, rows }, d, edits]) => {
      const bytes = Buffer.from(write([headers, ...rows], d))
      for (const [at, byte] of edits) bytes[at % bytes.length] = byte
      return bytes
    })
  const anyBytes = fc.uint8Array({ maxLength: 2000 }).map((a) => Buffer.from(a))

  it('the sniffer answers a dialect or a NotCsvError with a message, never another exception', () => {
    fc.assert(
      fc.property(fc.oneof(mutated, anyBytes), (bytes) => {
        try {
          const { dialect, headers, types } = sniffCsv(bytes, true)
          expect(dialect.header ? headers.length : types.length).toBe(types.length)
        } catch (error) {
          expect(error).toBeInstanceOf(NotCsvError)
          expect((error as Error).message.length).toBeGreaterThan(10)
        }
      }),
      runs(1000),
    )
  })

  it('the scanner accounts for every byte: its records end where it says, each excluded one within them', () => {
    fc.assert(
      fc.property(fc.oneof(mutated, anyBytes), fc.integer({ min: 1, max: 6 }), fc.boolean(), (bytes, fields, final) => {
        const result = scanRecords(bytes, { fields, line: 2, final })
        expect(result.end).toBeGreaterThanOrEqual(0)
        expect(result.end).toBeLessThanOrEqual(bytes.length)
        if (final) expect(result.end).toBe(bytes.length)
        expect(result.nextLine).toBeGreaterThanOrEqual(2)
        let previous = 0
        for (const x of result.excluded) {
          expect(x.start).toBeGreaterThanOrEqual(previous)
          expect(x.end).toBeGreaterThan(x.start)
          expect(x.end).toBeLessThanOrEqual(result.end)
          expect(x.line).toBeGreaterThanOrEqual(2)
          previous = x.end
        }
        expect(result.excluded.filter((x) => x.reason !== null).length).toBeLessThanOrEqual(result.records)
      }),
      runs(1500),
    )
  })
})
