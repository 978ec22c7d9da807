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

  it('gives the same count however the output is cut into chunks', () => {
    for (let size = 1; size <= 7; size++) {
      const pieces = csv.match(new RegExp(`[^]{1,${size}}`, 'g'))!
      expect(countIn(pieces).records).toBe(5)
    }
  })
})
