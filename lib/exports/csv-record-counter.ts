import { Transform, type TransformCallback } from 'node:stream'

const LF = 0x0a

/**
 * Passes CSV through and counts its records as they go by: a line feed ends a record unless
 * it is inside quotes (every quote toggles, as in PostgreSQL's CSV output, where a quote in a
 * value is doubled). Found with `indexOf` (memchr), about one call per line and per quote,
 * because the export's progress must not cost its speed. State carries across chunks. With a
 * `lineEnd` other than LF, each record's LF is written as it (CRLF, a lone CR); a line break
 * inside a quoted value stays as the value has it.
 */
export class CsvRecordCounter extends Transform {
  records = 0
  /** Bytes passed on, as written. */
  bytes = 0
  private inQuotes = false
  private readonly lineEnd: Buffer | null

  constructor(
    private readonly quote = '"',
    lineEnd = '\n',
  ) {
    super()
    this.lineEnd = lineEnd === '\n' ? null : Buffer.from(lineEnd)
  }

  override _transform(chunk: Buffer, _encoding: BufferEncoding, done: TransformCallback): void {
    done(null, this.count(chunk))
  }

  /** Counts the chunk's records; the chunk with its records' line ends as asked. */
  count(chunk: Buffer): Buffer {
    const out = this.withLineEnds(chunk)
    this.bytes += out.length
    return out
  }

  private withLineEnds(chunk: Buffer): Buffer {
    const QUOTE = this.quote.charCodeAt(0)
    const parts: Buffer[] = []
    let from = 0
    let quote = chunk.indexOf(QUOTE)
    let lf = chunk.indexOf(LF)
    while (lf !== -1) {
      while (quote !== -1 && quote < lf) {
        this.inQuotes = !this.inQuotes
        quote = chunk.indexOf(QUOTE, quote + 1)
      }
      if (!this.inQuotes) {
        this.records++
        if (this.lineEnd) {
          parts.push(chunk.subarray(from, lf), this.lineEnd)
          from = lf + 1
        }
      }
      lf = chunk.indexOf(LF, lf + 1)
    }
    // Quotes after the last line feed still toggle the state for the next chunk.
    while (quote !== -1) {
      this.inQuotes = !this.inQuotes
      quote = chunk.indexOf(QUOTE, quote + 1)
    }
    if (!parts.length) return chunk
    parts.push(chunk.subarray(from))
    return Buffer.concat(parts)
  }
}
