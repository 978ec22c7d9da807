import { describe, expect, it } from 'vitest'
import { FIRST_BYTES, whyNotToUpload } from './not-csv'

const GiB = 2 ** 30
const why = (first: Uint8Array | string, size = typeof first === 'string' ? Buffer.byteLength(first) : first.length) =>
  whyNotToUpload(typeof first === 'string' ? Buffer.from(first) : first, size, 10 * GiB)

describe('whyNotToUpload', () => {
  it('passes a CSV file, in UTF-8, Windows-1252 and UTF-16 with its byte-order mark', () => {
    expect(why('id,name\n1,Zoë\n')).toBeNull()
    expect(why(Buffer.from('id;name\r\n1;Jürgen\r\n', 'latin1'))).toBeNull()
    expect(why(Buffer.concat([Buffer.from([0xff, 0xfe]), Buffer.from('id,name\n1,a\n', 'utf16le')]))).toBeNull()
    // Longer than what is read: a line end in the first bytes is enough.
    expect(why(Buffer.from('a,b\n' + 'x'.repeat(FIRST_BYTES)), 50 * GiB / 10)).toBeNull()
  })

  it('refuses an empty file and one over the limit, saying the limit', () => {
    expect(why('')).toBe('The file is empty: there is no header and no data')
    expect(why('a,b\n1,2\n', 10 * GiB + 1)).toBe('The file is 10 GiB, larger than the limit of 10 GiB')
    expect(why('a,b\n1,2\n', 12.5 * GiB)).toBe('The file is 12.5 GiB, larger than the limit of 10 GiB')
  })

  it('names the binary formats people drop by mistake, and refuses other binary data', () => {
    expect(why(Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]))).toBe('This file is a PNG image, not a CSV file')
    expect(why(Buffer.from([0x50, 0x4b, 0x03, 0x04, 0x14]))).toBe('This file is a ZIP archive (or an Excel workbook: save it as CSV first), not a CSV file')
    expect(why(Buffer.from('id,name\n1,\0\n'))).toBe('This file holds binary data, not text: it is not a CSV file')
  })

  it('refuses a long file with no line end in its first 64 KiB', () => {
    expect(why(Buffer.alloc(FIRST_BYTES, 'a'), 2 * FIRST_BYTES)).toBe('No line ends in the first 64 KiB of this file: it is not a CSV file of records')
    // A short file of one line is a header alone: the server says what it lacks.
    expect(why('id,name')).toBeNull()
  })
})
