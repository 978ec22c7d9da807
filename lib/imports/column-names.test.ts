import { describe, expect, it } from 'vitest'
import { columnsFromHeaders, columnsThatFit, quoteIdent, tableNameFor } from './column-names'

describe('columnsFromHeaders', () => {
  it('trims, lower-cases and joins words with underscores, keeping the header', () => {
    expect(columnsFromHeaders([' Customer Name ', 'Amount (€)', 'Prénom', '2024 total'])).toEqual([
      { name: 'customer_name', header: ' Customer Name ' },
      { name: 'amount', header: 'Amount (€)' },
      { name: 'prénom', header: 'Prénom' },
      { name: '_2024_total', header: '2024 total' },
    ])
  })

  it('names empty headers and deduplicates; no name can be the row-number column', () => {
    expect(columnsFromHeaders(['id', 'ID', '', ' ', 'id_2', '_sluice_row']).map((c) => c.name)).toEqual([
      'id',
      'id_2',
      'column_3',
      'column_4',
      'id_2_2',
      'sluice_row',
    ])
  })

  it('gives headers named like PostgreSQL system columns a numbered name', () => {
    expect(columnsFromHeaders(['xmin', 'XMAX', 'cmin', 'cmax', 'ctid', 'tableoid', 'label']).map((c) => c.name)).toEqual([
      'xmin_2',
      'xmax_2',
      'cmin_2',
      'cmax_2',
      'ctid_2',
      'tableoid_2',
      'label',
    ])
  })

  it('turns a header that looks like SQL into a plain name', () => {
    expect(columnsFromHeaders(['name"; DROP TABLE uploads; --'])[0]!.name).toBe('name_drop_table_uploads')
  })

  it('keeps long names distinct within 63 bytes', () => {
    const long = 'é'.repeat(40)
    const names = columnsFromHeaders([long, long]).map((c) => c.name)
    expect(names.map((n) => Buffer.byteLength(n) <= 63)).toEqual([true, true])
    expect(new Set(names).size).toBe(2)
  })
})

describe('tableNameFor', () => {
  it('uses the file name and the start of the id', () => {
    expect(tableNameFor('Sales 2024.csv', '3f9a1c2e-0000-4000-8000-000000000000')).toBe('sales_2024_3f9a1c2e')
    expect(tableNameFor('.csv', 'abcdef01-0000-4000-8000-000000000000')).toBe('import_abcdef01')
  })
})

describe('quoteIdent', () => {
  it('doubles embedded quotes', () => {
    expect(quoteIdent('a"b')).toBe('"a""b"')
  })
})

describe('columnsThatFit', () => {
  const typed = (n: number, type: 'bigint' | 'date') => columnsFromHeaders(Array.from({ length: n }, (_, i) => `c${i}`), Array(n).fill(type))
  it('keeps types whose shortest row fits a page, and makes every column text when it does not', () => {
    expect(columnsThatFit(typed(990, 'bigint')).every((c) => c.type === 'bigint')).toBe(true)
    expect(columnsThatFit(typed(1100, 'bigint')).every((c) => c.type === 'text')).toBe(true)
    expect(columnsThatFit(typed(1599, 'date')).every((c) => c.type === 'date')).toBe(true)
  })
})

