import fc from 'fast-check'
import { parse } from 'csv-parse/sync'
import { stringify } from 'csv-stringify/sync'
import { describe, expect, it } from 'vitest'
import { recordSyntax } from './record-boundaries'
import { rewritesFor, rewrittenPieces, rewriteValues } from './value-rewriter'

const SEMICOLON = recordSyntax({ delimiter: ';', quote: '"', escape: '"', newline: '\n' })
const EUROPEAN = rewritesFor([{}, { format: { number: { decimal: ',', thousands: '.', plus: false }, missing: 'N/A' } }, {}], 'utf-8')!

const rewrite = (text: string, plan = EUROPEAN, syntax = SEMICOLON) => rewriteValues(Buffer.from(text), syntax, plan).toString()

describe('rewriteValues', () => {
  it('writes numbers as COPY reads them and markers as empty values, leaving every other byte as it was', () => {
    // Padded with spaces to their length until a marker has moved the bytes after it up; written short after.
    expect(rewrite('a;1.234.567,89;x\n"b;c";"12,5";y\r\nd;N/A;"N/A"\ne;-0,25;z')).toBe('a;1234567.89  ;x\n"b;c";12.5  ;y\r\nd;;"N/A"\ne;-0.25;z')
  })

  it('rewrites the records in place, and keeps their length while no marker shortens them', () => {
    const records = Buffer.from('1;1.234,5;x\n2;7,25;y\n')
    const rewritten = rewriteValues(records, SEMICOLON, EUROPEAN)
    expect(rewritten.buffer).toBe(records.buffer)
    expect(rewritten.toString()).toBe('1;1234.5 ;x\n2;7.25;y\n')
    expect(records.toString()).toBe('1;1234.5 ;x\n2;7.25;y\n')
  })

  it('leaves a value that breaks the convention as it was, for COPY to refuse with its line', () => {
    for (const value of ['12.34,5', '1.2345', '.234', '1,2,3', '12a', '1.234,', '', ' 12', 'NA']) expect(rewrite(`a;${value};b\n`)).toBe(`a;${value};b\n`)
  })

  it('reads quotes as COPY does: a line break inside a quoted value ends no record', () => {
    expect(rewrite('"x\n;1,5";1,5;"q""\n"\n2;3,25;\n')).toBe('"x\n;1,5";1.5;"q""\n"\n2;3.25;\n')
  })

  it('writes a space, a no-break space and an apostrophe as thousands separators of each encoding', () => {
    const plan = (thousands: ' ' | '\u00a0' | "'", encoding: 'utf-8' | 'windows-1252' = 'utf-8') =>
      rewritesFor([{ format: { number: { decimal: ',', thousands, plus: false } } }], encoding)!
    expect(rewrite('1 234 567,5\n', plan(' '))).toBe('1234567.5  \n')
    expect(rewrite('1\u00a0234,5\n', plan('\u00a0'))).toBe('1234.5  \n') // two bytes in UTF-8
    expect(rewriteValues(Buffer.from('1\u00a0234,5\n', 'latin1'), SEMICOLON, plan('\u00a0', 'windows-1252')).toString('latin1')).toBe('1234.5 \n')
    expect(rewrite("1'234,5\n", plan("'"))).toBe('1234.5 \n')
  })

  it('gives the values csv-parse reads from the rewritten records, for random records', () => {
    const number = fc
      .tuple(fc.constantFrom('', '-', '+'), fc.nat({ max: 99_999_999 }), fc.option(fc.nat({ max: 999 }), { nil: undefined }))
      .map(([sign, whole, fraction]) => {
        const grouped = whole.toLocaleString('de-DE')
        return { written: `${sign}${grouped}${fraction === undefined ? '' : `,${fraction}`}`, read: `${sign}${whole}${fraction === undefined ? '' : `.${fraction}`}` }
      })
    const text = fc.string({ unit: fc.constantFrom('a', ';', '"', '\n', ',', '.', '1') })
    fc.assert(
      fc.property(fc.array(fc.tuple(text, fc.oneof(number, fc.constant({ written: 'N/A', read: '' })), text), { minLength: 1, maxLength: 8 }), fc.boolean(), fc.integer({ min: 1, max: 40 }), (rows, quoteAll, pieceBytes) => {
        const csv = stringify(rows.map(([a, n, b]) => [a, n.written, b]), { delimiter: ';', quoted: quoteAll })
        const expected = rows.map(([a, n, b]) => [a, n.read, b])
        // A number may be padded with spaces after it (PostgreSQL's numeric input ignores them); a marker is empty.
        const read = (records: string) =>
          (parse(records, { delimiter: ';', relax_column_count: true }) as string[][]).map(([a, n, b], i) => [a, rows[i]![1].read === '' ? n : n!.replace(/(?<=\d) +$/, ''), b])
        expect(read(rewrite(csv))).toEqual(expected)
        // In pieces, as COPY gets them: each piece whole records.
        const pieces = [...rewrittenPieces(Buffer.from(csv), SEMICOLON, EUROPEAN, pieceBytes)].map((p) => p.toString())
        expect(read(pieces.join(''))).toEqual(expected)
        expect(pieces.flatMap((p) => parse(p, { delimiter: ';', relax_column_count: true }) as string[][])).toEqual(parse(pieces.join(''), { delimiter: ';', relax_column_count: true }))
      }),
      { numRuns: 3000 },
    )
  })
})
