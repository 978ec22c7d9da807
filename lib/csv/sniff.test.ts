import { describe, expect, it } from 'vitest'
import { inferColumnTypes } from './column-types'
import { NotCsvError } from './encoding'
import { describeFormat } from './conventions'
import { sniffCsv } from './sniff'

const sniff = (text: string | Buffer, complete = true) => sniffCsv(Buffer.isBuffer(text) ? text : Buffer.from(text), complete)

describe('sniffCsv', () => {
  it.each([
    [',', 'id,name,amount\n1,Ann,2.50\n2,"Bo, Jr.",3.00\n'],
    [';', 'id;name;amount\n1;Ann;2,50\n2;"Bo; Jr.";3,00\n'],
    ['\t', 'id\tname\tamount\n1\tAnn\t2.50\n2\tBo, Jr.\t3.00\n'],
    ['|', 'id|name|amount\n1|Ann|2.50\n2|Bo; Jr., III|3.00\n'],
  ])('finds the delimiter %j', (delimiter, text) => {
    const { dialect, headers } = sniff(text)
    expect(dialect.delimiter).toBe(delimiter)
    expect(headers).toEqual(['id', 'name', 'amount'])
  })

  it.each([
    ['\n', 'a,b\n1,x\n2,y\n'],
    ['\r\n', 'a,b\r\n1,x\r\n2,"y\nz"\r\n'],
    ['\r', 'a,b\r1,x\r2,y\r'],
  ])('finds the line ending %j', (newline, text) => {
    const { dialect, types } = sniff(text)
    expect(dialect.newline).toBe(newline)
    expect(types).toEqual(['bigint', 'text'])
  })

  it.each([3, 10, 300, 40_000])('keeps the double quote when one of %i records opens a quote that never closes', (rows) => {
    const lines = ['id,name,amount']
    for (let i = 1; i <= rows; i++) lines.push(i === Math.ceil(rows / 2) ? `${i},"open,1` : `${i},"Doe, Jane",${i}.5`)
    const { dialect, headers, types } = sniff(`${lines.join('\n')}\n`)
    expect(dialect).toMatchObject({ quote: '"', escape: '"', delimiter: ',', header: true })
    expect(headers).toEqual(['id', 'name', 'amount'])
    expect(types).toEqual(['bigint', 'text', 'numeric'])
  })

  it('finds a backslash escape and a single-quote quote', () => {
    expect(sniff('a,b\n1,"say \\"hi\\", then go"\n2,x\n').dialect).toMatchObject({ quote: '"', escape: '\\' })
    expect(sniff("a,b\n1,'it, is'\n2,'x'\n").dialect).toMatchObject({ quote: "'", escape: "'" })
  })

  it('tells a header from a first row of data', () => {
    expect(sniff('1,2024-01-02,true\n2,2024-01-03,false\n').dialect.header).toBe(false)
    expect(sniff('1,2024-01-02,true\n2,2024-01-03,false\n').headers).toEqual([])
    expect(sniff('n,day,ok\n1,2024-01-02,true\n').dialect.header).toBe(true)
    // All text: a header, as in DuckDB.
    expect(sniff('x,y\nA,B\n').dialect.header).toBe(true)
  })

  it('reads each encoding and leaves the BOM out of the names', () => {
    const text = 'café,naïve\r\nà,ü\r\n'
    expect(sniff(Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf]), Buffer.from(text)]))).toMatchObject({
      dialect: { encoding: 'utf-8', bom: 3 },
      headers: ['café', 'naïve'],
    })
    const le = Buffer.concat([Buffer.from([0xff, 0xfe]), Buffer.from(text, 'utf16le')])
    expect(sniff(le)).toMatchObject({ dialect: { encoding: 'utf-16le', bom: 2 }, headers: ['café', 'naïve'] })
    const be = Buffer.from(le).swap16()
    expect(sniff(be)).toMatchObject({ dialect: { encoding: 'utf-16be', bom: 2 }, headers: ['café', 'naïve'] })
    expect(sniff(Buffer.from(text, 'latin1'))).toMatchObject({ dialect: { encoding: 'windows-1252', bom: 0 }, headers: ['café', 'naïve'] })
  })

  it('does not mistake a UTF-8 character cut by the end of the sample for Windows-1252', () => {
    const text = Buffer.from('a,b\n1,é\n2,é')
    expect(sniff(text.subarray(0, text.length - 1), false).dialect.encoding).toBe('utf-8')
  })

  it.each([
    [Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, 0, 0]), 'This file is a PNG image, not a CSV file'],
    [Buffer.from([0x50, 0x4b, 0x03, 0x04, 0x14, 0]), 'This file is a ZIP archive (or an Excel workbook: save it as CSV first), not a CSV file'],
    [Buffer.from([0x7f, 0x45, 0x4c, 0x46, 2, 1, 1, 0]), 'This file is an executable program, not a CSV file'],
    [Buffer.from('a,b\n1,\u0000\n'), 'This file holds binary data, not text: it is not a CSV file'],
    [Buffer.from('\n\n  \n'), 'The file has no records: it holds only blank lines'],
    [
      Buffer.from('a\nb,c,d\ne,f\ng,h,i,j\nk,l,m,n,o\n'),
      'The lines of this file do not agree on a number of columns (line 1 has 1, line 2 has 3, line 3 has 2, line 4 has 4, line 5 has 5, …): it does not look like CSV',
    ],
  ])('refuses a file that is not CSV (%#)', (bytes, message) => {
    expect(() => sniff(bytes)).toThrow(new NotCsvError(message))
  })
})

describe('inferColumnTypes', () => {
  it('picks the narrowest type every value fits, and text for values that would not come back the same', () => {
    const rows = [
      ['true', '1', '1.5', '2024-02-29', '2024-02-29T10:00:00Z', '007', '1e5', ''],
      ['FALSE', '-20', '3', '2024-03-01', '2024-03-01 11:30+02:00', '12', '2', ''],
    ]
    expect(inferColumnTypes(rows, 8)).toEqual(['boolean', 'bigint', 'numeric', 'date', 'timestamptz', 'text', 'text', 'text'])
    expect(inferColumnTypes([['2023-02-29'], ['-0']], 1)).toEqual(['text'])
    expect(inferColumnTypes([['2024-01-01'], ['2024-01-01T00:00']], 1)).toEqual(['timestamptz'])
  })
})

describe('conventions', () => {
  it('says how a column is written, as the import page shows it', () => {
    const { columns, dialect } = sniff('a;b;c;d\n"+1 234,5";31.01.2024 14:30;N/A;x\n+2;1.2.2024 00:00;3;y\n')
    expect(dialect.dateOrder).toBe('DMY')
    expect(columns.map((c) => (c.format ? describeFormat(c.format) : c.type))).toEqual(['written +1 234 567,89', 'written D.M.YYYY HH:MM', 'N/A for missing', 'text'])
    expect(describeFormat({ date: { order: 'MDY', separator: '/', yearDigits: 2, padded: true, time: 'HH:MM:SS' } })).toBe('written MM/DD/YY HH:MM:SS')
  })
})
