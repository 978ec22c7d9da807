import { describe, expect, it } from 'vitest'
import type { Import } from '../db/generated/client'
import { buildExportQuery, protectValue } from './export-query'

const imp = {
  tableName: 'sales_3f9a1c2e',
  columns: [
    { name: 'id', header: 'id' },
    { name: 'note', header: 'a\rb, "c"\nd' },
    { name: 'formula', header: '=1+1' },
  ],
} as unknown as Import

describe('buildExportQuery', () => {
  it('writes the header as PostgreSQL writes CSV values: quoted for a comma, a quote or any line break', () => {
    const { header } = buildExportQuery(imp, { protectFormulas: false, format: 'standard' })
    expect(header.toString()).toBe('id,"a\rb, ""c""\nd",=1+1\n')
  })

  it('protects the header too when asked', () => {
    expect(buildExportQuery(imp, { protectFormulas: true, format: 'standard' }).header.toString()).toBe(`id,"a\rb, ""c""\nd",'=1+1\n`)
  })

  it('reads in file order and filters only when a column is given', () => {
    const all = buildExportQuery(imp, { protectFormulas: false, format: 'standard' })
    expect(all.copy).toBe('COPY (SELECT "id", "note", "formula" FROM "imported"."sales_3f9a1c2e" ORDER BY "_sluice_row") TO STDOUT (FORMAT csv)')
    const ranged = buildExportQuery(imp, { column: 'note', from: "2024-01-01", protectFormulas: false, format: 'standard' })
    expect(ranged.copy).toContain(`>= '2024-01-01'::date`)
  })

  it('refuses a column the import does not have', () => {
    expect(() => buildExportQuery(imp, { column: 'nope', protectFormulas: false, format: 'standard' })).toThrow('This import has no column "nope"; its columns are id, note, formula')
  })
})

describe('protectValue', () => {
  it.each([
    ['=SUM(A1)', "'=SUM(A1)"],
    ['+1', "'+1"],
    ['-1', "'-1"],
    ['@x', "'@x"],
    ['\tx', "'\tx"],
    ['\rx', "'\rx"],
    ['x=1', 'x=1'],
    ['', ''],
  ])('%j becomes %j', (value, expected) => expect(protectValue(value)).toBe(expected))
})

describe('the order of the rows', () => {
  it('reads a table checked to be stored in file order as stored, any other through ORDER BY', () => {
    const stored = buildExportQuery({ ...imp, storedInFileOrder: true } as Import, { protectFormulas: false, format: 'standard' })
    expect(stored.copy).toBe('COPY (SELECT "id", "note", "formula" FROM "imported"."sales_3f9a1c2e") TO STDOUT (FORMAT csv)')
    const unchecked = buildExportQuery({ ...imp, storedInFileOrder: false } as Import, { protectFormulas: false, format: 'standard' })
    expect(unchecked.copy).toMatch(/ ORDER BY "_sluice_row"\) TO STDOUT \(FORMAT csv\)$/)
  })
})

describe('export formats', () => {
  const european = {
    ...imp,
    columns: [
      { name: 'id', header: 'Nr', type: 'bigint' },
      { name: 'betrag', header: 'Betrag', type: 'numeric', format: { number: { decimal: ',', thousands: '.', plus: false }, missing: '-' } },
      { name: 'datum', header: 'Datum; Tag', type: 'date', format: { date: { order: 'DMY', separator: '.', yearDigits: 4, padded: true, time: '' } } },
    ],
    dialect: { encoding: 'windows-1252', bom: 0, delimiter: ';', quote: '"', escape: '"', newline: '\r\n', header: true, dateOrder: 'DMY' },
  } as unknown as Import

  it('writes as the file was written: its delimiter and encoding to COPY, its conventions in SQL, its header quoted as it would quote it', () => {
    const q = buildExportQuery(european, { protectFormulas: false, format: 'as-written' })
    expect(q.copy).toMatch(/\) TO STDOUT \(FORMAT csv, DELIMITER ';', QUOTE '"', ESCAPE '"', ENCODING 'WIN1252'\)$/)
    expect(q.copy).toContain(`to_char("datum", 'DD.MM.YYYY')`)
    expect(q.copy).toContain(`COALESCE((`)
    expect(q.header.toString('latin1')).toBe('Nr;Betrag;"Datum; Tag"\r\n')
    expect(q.writing.contentType).toBe('text/csv; charset=windows-1252')
    expect([q.writing.lineEnd, q.writing.encoder()]).toEqual(['\r\n', null]) // CRLF between records, WIN1252 written by PostgreSQL
  })

  it('writes standard values for Excel, with a byte-order mark and CRLF', () => {
    const q = buildExportQuery(european, { protectFormulas: false, format: 'excel' })
    expect(q.copy).toMatch(/SELECT "id", "betrag", "datum" FROM .* TO STDOUT \(FORMAT csv\)$/)
    expect(q.header).toEqual(Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf]), Buffer.from('Nr,Betrag,Datum; Tag\r\n')]))
  })

  it('writes a batch session, which came without a file, as standard CSV when asked for it as written', () => {
    const session = { ...european, dialect: null } as unknown as Import
    const q = buildExportQuery(session, { protectFormulas: false, format: 'as-written' })
    expect(q.copy).toMatch(/SELECT "id", "betrag", "datum" FROM .* TO STDOUT \(FORMAT csv\)$/)
    expect(q.header.toString()).toBe('Nr,Betrag,Datum; Tag\n')
    expect([q.writing.lineEnd, q.writing.encoder()]).toEqual(['\n', null])
  })
})
