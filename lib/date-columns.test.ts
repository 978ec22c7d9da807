import { describe, expect, it } from 'vitest'
import { findDateColumns, looksLikeIsoDate } from './date-columns'

describe('looksLikeIsoDate', () => {
  it.each([
    '2024-01-31',
    '2024-01-31T12:00',
    '2024-01-31 12:00',
    '2024-01-31T12:00:59',
    '2024-01-31T12:00:59.123456',
    '2024-01-31T12:00:59Z',
    '2024-01-31T12:00:59.5+02:00',
    '2024-01-31T12:00-0500',
    '2024-01-31T12:00:00+05',
  ])('accepts %j', (value) => {
    expect(looksLikeIsoDate(value)).toBe(true)
  })

  it.each([
    '',
    ' 2024-01-31',
    '2024-01-31 ',
    '2024-1-31',
    '31/01/2024',
    '20240131',
    '2024-01-31T12',
    '2024-01-31T12:00:00ZZ',
    '2024-01-31T12:00:00+2',
    'today',
    '2024-01-31, 2024-02-01',
  ])('refuses %j', (value) => {
    expect(looksLikeIsoDate(value)).toBe(false)
  })
})

describe('findDateColumns', () => {
  const columns = [
    { name: 'id', header: 'ID' },
    { name: 'day', header: 'Day' },
    { name: 'at', header: 'At' },
    { name: 'note', header: 'Note' },
    { name: 'blank', header: 'Blank' },
  ]

  it('keeps, in their order, the columns whose every non-empty value is a date or timestamp', () => {
    const rows = [
      { id: '1', day: '2024-01-31', at: '2024-01-31T10:00:00Z', note: '2024-01-31', blank: null },
      { id: '2', day: '', at: null, note: 'soon', blank: '' },
      { id: '3', day: '2024-02-29', at: '2024-02-29 08:15', note: null, blank: null },
    ]
    expect(findDateColumns(columns, rows).map((c) => c.name)).toEqual(['day', 'at'])
  })

  it('does not count a column with no value in the sample, nor any column of an empty sample', () => {
    expect(findDateColumns(columns, [{ id: '1', day: '2024-01-31', at: null, note: null, blank: null }]).map((c) => c.name)).toEqual(['day'])
    expect(findDateColumns(columns, [])).toEqual([])
  })

  it('treats a column missing from the rows as empty', () => {
    expect(findDateColumns([{ name: 'gone', header: 'Gone' }], [{ other: '2024-01-31' }])).toEqual([])
  })
})
