import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { RecordColumns } from './batch-records'
import { RecordTranscoder } from './record-transcoder'

// The NDJSON fast path against the route it shortens (JSON.parse, then RecordColumns.csvLine):
// on random lines, every line it writes is the line csvLine writes, it never writes a line
// that JSON.parse or csvLine refuses, and it declines no plain record (or it would be no
// fast path at all).

const COLUMNS = ['id', 'Full name', 'note', '', 'a"b', 'é', '__proto__']

/** The transcoder's CSV line for `text`, or null when it declines. */
function transcoded(transcoder: RecordTranscoder, text: string): string | null {
  const bytes = Buffer.from(text)
  const out = Buffer.alloc(transcoder.maxLineBytes(bytes.length))
  const end = transcoder.transcode(bytes, 0, bytes.length, out, 0)
  return end < 0 ? null : out.toString('utf8', 0, end)
}

/** csvLine's answer for `text` as the server reads its bytes, or null when JSON.parse or csvLine refuses it. */
function reference(columns: RecordColumns, text: string): string | null {
  try {
    const line = columns.csvLine(JSON.parse(Buffer.from(text).toString()), { line: 1 })
    return typeof line === 'string' ? line : null
  } catch {
    return null
  }
}

const key = fc.oneof(fc.constantFrom(...COLUMNS, 'unknown', 'constructor'), fc.string({ maxLength: 3 }))
const text = fc.string({ unit: fc.constantFrom('a', '"', ',', '\n', '\r', '\b', '\f', '\\', '\0', 'é', ' ', '\t', '\u2028', '😀', '\u001f') })
const scalar = fc.oneof(text, fc.double({ noNaN: true, noDefaultInfinity: true }), fc.integer(), fc.boolean(), fc.constant(null))
const value = fc.oneof({ weight: 6, arbitrary: scalar }, { weight: 1, arbitrary: fc.jsonValue({ maxDepth: 2 }) })
const space = fc.constantFrom('', '', ' ', '\t', '\r', '  ')
// JSON as a person's program writes it: any key order, spacing, numbers in any form.
const numberText = fc.constantFrom('1.50', '1e3', '-0', '0.1E-2', '12345678901234567890', '1e400', '-12', '007', '1.', '.5', '+1', '1e', '0x10')
const recordText = fc
  .array(fc.tuple(key, fc.oneof({ weight: 5, arbitrary: value.map((v) => JSON.stringify(v)) }, { weight: 1, arbitrary: numberText }), space, space), { maxLength: 6 })
  .chain((entries) =>
    fc.tuple(space, space).map(([before, after]) => `${before}{${entries.map(([k, v, s1, s2]) => `${s1}${JSON.stringify(k)}${s2}:${s1}${v}${s2}`).join(',')}}${after}`),
  )
// And lines that are not quite JSON: a byte dropped, doubled or changed.
const mangled = fc.tuple(recordText, fc.nat(), fc.constantFrom('', '"', '\\', ',', '}', '{', ':', 'x', '\u0001')).map(([t, at, insert]) => {
  const i = t.length ? at % t.length : 0
  return t.slice(0, i) + insert + t.slice(i + 1)
})
const anyLine = fc.oneof({ weight: 6, arbitrary: recordText }, { weight: 3, arbitrary: mangled }, { weight: 1, arbitrary: fc.jsonValue({ maxDepth: 2 }).map((v) => JSON.stringify(v)) })

describe('the NDJSON transcoder', () => {
  it('writes exactly the line csvLine writes, and nothing for a line csvLine or JSON.parse refuses', () => {
    const columns = new RecordColumns(COLUMNS, false)
    const transcoder = new RecordTranscoder(columns)
    fc.assert(
      fc.property(anyLine, (line) => {
        const fast = transcoded(transcoder, line)
        if (fast !== null) expect(fast).toBe(reference(columns, line))
      }),
      { numRuns: 20000 },
    )
  })

  it('takes every record JSON.stringify writes of known keys and scalar values without a NUL', () => {
    const known = COLUMNS.filter((k) => k !== '__proto__')
    const columns = new RecordColumns(known, false)
    const transcoder = new RecordTranscoder(columns)
    const plain = fc.oneof(
      fc.string({ unit: fc.constantFrom('a', '"', ',', '\n', '\\', 'é', ' ', '\t', '😀') }),
      fc.double({ noNaN: true, noDefaultInfinity: true }),
      fc.boolean(),
      fc.constant(null),
    )
    fc.assert(
      fc.property(fc.dictionary(fc.constantFrom(...known), plain), (record) => {
        const line = JSON.stringify(record)
        expect(transcoded(transcoder, line)).toBe(reference(columns, line))
        expect(transcoded(transcoder, line)).not.toBeNull()
      }),
      { numRuns: 5000 },
    )
  })

  it('copies plain strings as they are and writes the rest as csvLine does', () => {
    const transcoder = new RecordTranscoder(new RecordColumns(['a', 'b', 'c', 'd'], false))
    expect(transcoded(transcoder, '{"a":"x,y","b":1.50,"d":true}')).toBe('"x,y","1.5",,"true"\n')
    expect(transcoded(transcoder, ' { "d" : "two\\nlines \\"q\\"" , "a" : null , "c":1e3 }\r')).toBe(',,"1000","two\nlines ""q"""\n')
    expect(transcoded(transcoder, '{}')).toBe(',,,\n')
    // Every escape JSON has, decoded; the \u ones (a surrogate pair too) by JSON.parse.
    expect(transcoded(transcoder, String.raw`{"b":"\/\b\f\r\t\n\\\"","c":"\u00e9\ud83d\ude00\""}`)).toBe(',"/\b\f\r\t\n\\""","é😀""",\n')
    // Declined, so that JSON.parse and csvLine say why: a nested value, an unknown key, a NUL, not JSON.
    for (const line of ['{"a":{"x":1}}', '{"e":1}', '{"a":"\\u0000"}', '{"a":1,}', '{"a":01}', '[1]', '', '   ', '{"a":"x"} x']) {
      expect(transcoded(transcoder, line)).toBeNull()
    }
  })
})
