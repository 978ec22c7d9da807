import { describe, expect, it } from 'vitest'
import { CsvRecordCounter } from './csv-record-counter'

const countIn = (pieces: string[]) => {
  const counter = new CsvRecordCounter()
  for (const p of pieces) counter.count(Buffer.from(p))
  return { records: counter.records, bytes: counter.bytes }
}

describe('CsvRecordCounter', () => {
  const csv = 'a,b\n"two\nlines",x\n"say ""hi""",y\n"",\n,"end\n"\n'

  it('counts line feeds outside quotes only', () => {
    expect(countIn([csv])).toEqual({ records: 5, bytes: Buffer.byteLength(csv) })
  })

  it('writes each record\'s line feed as CRLF when asked, the one inside quotes as it is, however the output is cut', () => {
    for (let size = 1; size <= 7; size++) {
      const counter = new CsvRecordCounter('"', '\r\n')
      const out = csv.match(new RegExp(`[^]{1,${size}}`, 'g'))!.map((p) => counter.count(Buffer.from(p)).toString())
      expect(out.join('')).toBe('a,b\r\n"two\nlines",x\r\n"say ""hi""",y\r\n"",\r\n,"end\n"\r\n')
      expect(counter.records).toBe(5)
    }
  })

  it('gives the same count however the output is cut into chunks', () => {
    for (let size = 1; size <= 7; size++) {
      const pieces = csv.match(new RegExp(`[^]{1,${size}}`, 'g'))!
      expect(countIn(pieces).records).toBe(5)
    }
  })
})
