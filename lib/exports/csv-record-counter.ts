import { Transform, type TransformCallback } from 'node:stream'

const LF = 0x0a

/**
 * Passes CSV through and counts its records as they go by: a line feed ends a record unless
 * it is inside quotes (every quote toggles, as in PostgreSQL's CSV output, where a quote in a
 * value is doubled). Found with `indexOf` (memchr), about one call per line and per quote,
 * because the export's progress must not cost its speed. State carries across chunks.
 */
export class CsvRecordCounter extends Transform {
  records = 0
  bytes = 0
  private inQuotes = false

  constructor(private readonly quote = '"') {
    super()
  }

  override _transform(chunk: Buffer, _encoding: BufferEncoding, done: TransformCallback): void {
    this.count(chunk)
    done(null, chunk)
  }

  count(chunk: Buffer): void {
    this.bytes += chunk.length
    const QUOTE = this.quote.charCodeAt(0)
    let quote = chunk.indexOf(QUOTE)
    let lf = chunk.indexOf(LF)
    while (lf !== -1) {
      while (quote !== -1 && quote < lf) {
        this.inQuotes = !this.inQuotes
        quote = chunk.indexOf(QUOTE, quote + 1)
      }
      if (!this.inQuotes) this.records++
      lf = chunk.indexOf(LF, lf + 1)
    }
    // Quotes after the last line feed still toggle the state for the next chunk.
    while (quote !== -1) {
      this.inQuotes = !this.inQuotes
      quote = chunk.indexOf(QUOTE, quote + 1)
    }
  }
}
