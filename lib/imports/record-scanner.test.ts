import { describe, expect, it } from 'vitest'
import { scanRecords } from './record-scanner'

const scan = (text: string, fields: number, final = true, line = 2) =>
  scanRecords(Buffer.from(text), { fields, line, final })

describe('scanRecords', () => {
  it('ends records at newlines outside quotes and counts their lines', () => {
    const text = 'a,b\n"x\ny",2\n"q""uote",3\n'
    expect(scan(text, 2)).toEqual({ end: text.length, records: 3, nextLine: 6, excluded: [] })
  })

  it('leaves an incomplete last record for the next read unless the file ends there', () => {
    expect(scan('a,b\nc,d', 2, false)).toEqual({ end: 4, records: 1, nextLine: 3, excluded: [] })
    expect(scan('a,b\nc,d', 2, true)).toEqual({ end: 7, records: 2, nextLine: 3, excluded: [] })
    expect(scan('a,"b\nc', 2, false)).toEqual({ end: 0, records: 0, nextLine: 2, excluded: [] })
  })

  it('rejects a record with the wrong number of fields, with its line', () => {
    const text = 'a,b\nc\nd,e,f\r\n"g,h",i\n'
    expect(scan(text, 2)).toEqual({
      end: text.length,
      records: 4,
      nextLine: 6,
      excluded: [
        { start: 4, end: 6, line: 3, reason: 'expected 2 fields, found 1' },
        { start: 6, end: 13, line: 4, reason: 'expected 2 fields, found 3' },
      ],
    })
  })

  it('skips blank lines without counting them as records', () => {
    expect(scan('a,b\n\n\r\nc,d\n', 2)).toEqual({
      end: 11,
      records: 2,
      nextLine: 6,
      excluded: [
        { start: 4, end: 5, line: 3, reason: null },
        { start: 5, end: 7, line: 4, reason: null },
      ],
    })
  })

  it('rejects a quoted field left open at the end of the file', () => {
    expect(scan('a,b\n"c,d\n', 2)).toEqual({
      end: 9,
      records: 2,
      nextLine: 3,
      excluded: [{ start: 4, end: 9, line: 3, reason: 'a quoted field is not closed before the end of the file' }],
    })
  })

  it('rejects only the line of a quote that closes on a later line in the middle of a field, and reads on', () => {
    const text = 'a,b\n1,"open\n2,"x, y"\n3,z\n'
    expect(scan(text, 2)).toEqual({
      end: text.length,
      records: 4,
      nextLine: 6,
      excluded: [{ start: 4, end: 12, line: 3, reason: 'a quoted field opened on this line is not closed on it: the next quote, on a later line, is in the middle of a field' }],
    })
  })
})

