import { describe, expect, it } from 'vitest'
import { findFirstRecordEnd, findRecordsEnd } from './record-boundaries'

const find = (text: string, final = false) => findRecordsEnd(Buffer.from(text), 2, final)

describe('findRecordsEnd', () => {
  it('ends after the last line feed outside quotes, counting the lines inside quotes', () => {
    expect(find('a,b\n"x\ny",2\n"q""uote",3\nincomplete')).toMatchObject({ end: 24, nextLine: 6 })
    expect(find('a,"b\nc')).toMatchObject({ end: 0, nextLine: 2 })
    expect(find('a,b\n"open\n')).toMatchObject({ end: 4, nextLine: 3 })
  })

  it('takes a last record without a line feed at the end of the file, unless a quote is open', () => {
    expect(find('a,b\nc,d', true)).toMatchObject({ end: 7, nextLine: 3 })
    expect(find('a,b\n"c,d', true)).toMatchObject({ end: 4, nextLine: 3 })
  })
})

describe('findFirstRecordEnd', () => {
  it('ends the header at its first line feed outside quotes', () => {
    expect(findFirstRecordEnd(Buffer.from('a,"b\nc"\n1,2\n'), 1, false)).toEqual({ end: 8, nextLine: 3 })
  })

  it('waits for more bytes, or takes the whole file as the header when it ends without a line feed', () => {
    expect(findFirstRecordEnd(Buffer.from('a,b'), 1, false)).toEqual({ end: 0, nextLine: 1 })
    expect(findFirstRecordEnd(Buffer.from('a,b'), 1, true)).toEqual({ end: 3, nextLine: 1 })
    expect(findFirstRecordEnd(Buffer.from('a,"b\n'), 1, true)).toEqual({ end: 0, nextLine: 1 })
  })
})
