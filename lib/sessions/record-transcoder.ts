import { quoted, type RecordColumns } from './batch-records'

/**
 * A JSON record's bytes (an NDJSON line, an element of a JSON batch's records) as the CSV line
 * COPY reads, copied byte for byte where JSON and CSV agree: a JSON string without a backslash
 * is a quoted CSV field already (it cannot hold a bare `"`), so its bytes go to COPY as they are.
 *
 * Hand-written because the general route costs what the batch API cannot afford: JSON.parse
 * builds an object for every record only for it to be thrown away, and took 2.2 µs of a line's
 * 5 here (the CSV line built from that object 1.7 µs more); this reads each byte once. What it
 * is not sure of (a nested value, an escape in a key, an unknown key, malformed JSON, a blank
 * line) it declines, and the caller reads that line with JSON.parse and RecordColumns.csvLine,
 * which give the exact line or the exact refusal. record-transcoder.test.ts (and
 * json-envelope.test.ts for JSON bodies) hold it to csvLine's answers on random input (fast-check).
 */
export class RecordTranscoder {
  private keyBytes: Uint8Array[] = []
  // Per column, the value of the record being read: its kind, and where it is in the input.
  private kind = new Uint8Array(0)
  private from = new Int32Array(0)
  private to = new Int32Array(0)
  private special: string[] = []
  // The record's strings with escapes, as CSV fields, one after the other.
  private scratch = Buffer.allocUnsafe(64 * 1024)
  private scratchEnd = 0

  constructor(private readonly columns: RecordColumns) {}

  /** The most bytes the CSV line of a record of `length` bytes can take. */
  maxLineBytes(length: number): number {
    // A number may grow by a few characters (1e400 is "Infinity"), each field by its quotes and comma.
    return length + 8 * this.columns.keys.length + 2
  }

  /** Where the last record transcoded ended in its input (past its closing brace). */
  recordEnd = 0

  /**
   * Writes the CSV line (with its line break) of the record in `bytes[start, end)` into `out`
   * at `o`, which has room for maxLineBytes; returns the new end, or -1 when it declines. With
   * `wholeLine` false the record may be followed by more (another record of an array): it
   * ends at its closing brace, recordEnd says where.
   */
  transcode(bytes: Buffer, start: number, end: number, out: Buffer, o: number, wholeLine = true): number {
    const n = this.columns.keys.length
    if (this.keyBytes.length !== n) this.learnColumns()
    if (n === 0) return -1
    const kind = this.kind
    const from = this.from
    const to = this.to
    kind.fill(ABSENT)
    this.scratchEnd = 0

    let p = skipSpace(bytes, start, end)
    if (p >= end || bytes[p] !== OPEN_BRACE) return -1
    p = skipSpace(bytes, p + 1, end)
    let column = -1
    if (p < end && bytes[p] === CLOSE_BRACE) {
      p++
    } else {
      for (;;) {
        // A key, naming a column.
        if (p >= end || bytes[p] !== QUOTE) return -1
        const q = stringEnd(bytes, p, end)
        if (q === -1) return -1
        column = q > 0 ? this.columnOf(bytes, p + 1, q - 1, column + 1) : this.columnNamed(decodeString(bytes, p, -q))
        if (column < 0) return -1
        p = skipSpace(bytes, Math.abs(q), end)
        if (p >= end || bytes[p] !== COLON) return -1
        p = skipSpace(bytes, p + 1, end)
        if (p >= end) return -1

        // Its value: a scalar, read to its end.
        const b = bytes[p]!
        if (b === QUOTE) {
          const r = stringEnd(bytes, p, end)
          if (r === -1) return -1
          if (r < 0) {
            const field = this.unescaped(bytes, p, -r)
            if (field >= 0) {
              kind[column] = UNESCAPED
              from[column] = field
              to[column] = this.scratchEnd
            } else {
              // A \u escape: decoded by JSON.parse (surrogate pairs, and \u0000 refused).
              const value = decodeString(bytes, p, -r)
              if (value === null || value.includes('\0')) return -1
              kind[column] = SPECIAL
              this.special[column] = quoted(value)
            }
          } else {
            kind[column] = AS_IS
            from[column] = p
            to[column] = r
          }
          p = Math.abs(r)
        } else if (b === 0x74 /* t */ && matches(bytes, p, end, TRUE)) {
          kind[column] = IS_TRUE
          p += 4
        } else if (b === 0x66 /* f */ && matches(bytes, p, end, FALSE)) {
          kind[column] = IS_FALSE
          p += 5
        } else if (b === 0x6e /* n */ && matches(bytes, p, end, NULL)) {
          kind[column] = ABSENT
          p += 4
        } else {
          const r = numberEnd(bytes, p, end)
          if (r < 0) return -1
          // As JSON.parse and String() write it: 1.50 is "1.5", 1e3 "1000".
          kind[column] = SPECIAL
          this.special[column] = `"${String(Number(bytes.toString('latin1', p, r)))}"`
          p = r
        }
        p = skipSpace(bytes, p, end)
        if (p >= end) return -1
        if (bytes[p] === COMMA) {
          p = skipSpace(bytes, p + 1, end)
          continue
        }
        if (bytes[p] !== CLOSE_BRACE) return -1
        p++
        break
      }
    }
    if (wholeLine && skipSpace(bytes, p, end) !== end) return -1
    this.recordEnd = p

    for (let i = 0; i < n; i++) {
      if (i > 0) out[o++] = COMMA
      const k = kind[i]
      if (k === AS_IS) {
        const f = from[i]!
        const e = to[i]!
        if (e - f > 32) o += bytes.copy(out, o, f, e)
        else for (let j = f; j < e; j++) out[o++] = bytes[j]!
      } else if (k === UNESCAPED) {
        o += this.scratch.copy(out, o, from[i]!, to[i]!)
      } else if (k === SPECIAL) {
        o += out.write(this.special[i]!, o)
      } else if (k === IS_TRUE) {
        out.set(QUOTED_TRUE, o)
        o += QUOTED_TRUE.length
      } else if (k === IS_FALSE) {
        out.set(QUOTED_FALSE, o)
        o += QUOTED_FALSE.length
      }
    }
    out[o++] = LINE_FEED
    return o
  }

  /** The column a key names: the one after the last as a guess (records usually keep one order), else looked up; -1 for none. */
  private columnOf(bytes: Buffer, start: number, end: number, guess: number): number {
    const keys = this.keyBytes
    if (guess < keys.length && sameBytes(keys[guess]!, bytes, start, end)) return guess
    // csvLine never takes "__proto__" for a column: JSON.parse makes it an own key, an object spread drops it.
    return this.columnNamed(bytes.toString('utf8', start, end))
  }

  /**
   * The CSV field of the JSON string in bytes[start, end) (its quotes included) with its
   * escapes decoded, written at the end of `scratch`; where it starts there, or -1 for a \u
   * escape (or one JSON does not have), which the caller leaves to JSON.parse.
   */
  private unescaped(bytes: Buffer, start: number, end: number): number {
    // Decoded, a string takes no more bytes than its escaped form: `\"` becomes `""`.
    if (this.scratchEnd + end - start > this.scratch.length) {
      const larger = Buffer.allocUnsafe(Math.max(2 * this.scratch.length, this.scratchEnd + end - start))
      this.scratch.copy(larger, 0, 0, this.scratchEnd)
      this.scratch = larger
    }
    const out = this.scratch
    const field = this.scratchEnd
    let o = field
    out[o++] = QUOTE
    for (let i = start + 1; i < end - 1; i++) {
      const b = bytes[i]!
      if (b !== BACKSLASH) {
        out[o++] = b
        continue
      }
      const escape = UNESCAPE[bytes[++i]!]!
      if (escape === 0) return -1
      out[o++] = escape
      if (escape === QUOTE) out[o++] = QUOTE // CSV doubles a quote
    }
    out[o++] = QUOTE
    this.scratchEnd = o
    return field
  }

  private columnNamed(key: string | null): number {
    return key === null || key === '__proto__' ? -1 : (this.columns.indexOf(key) ?? -1)
  }

  private learnColumns(): void {
    const { keys } = this.columns
    this.keyBytes = keys.map((k) => (k === '__proto__' ? NEVER : Buffer.from(k)))
    this.kind = new Uint8Array(keys.length)
    this.from = new Int32Array(keys.length)
    this.to = new Int32Array(keys.length)
    this.special = new Array<string>(keys.length).fill('')
  }
}

const ABSENT = 0
const AS_IS = 1
const SPECIAL = 2
const IS_TRUE = 3
const IS_FALSE = 4
const UNESCAPED = 5

const QUOTE = 0x22
const BACKSLASH = 0x5c
const OPEN_BRACE = 0x7b
const CLOSE_BRACE = 0x7d
const COLON = 0x3a
const COMMA = 0x2c
const LINE_FEED = 0x0a
const TRUE = Buffer.from('true')
const FALSE = Buffer.from('false')
const NULL = Buffer.from('null')
const QUOTED_TRUE = Buffer.from('"true"')
const QUOTED_FALSE = Buffer.from('"false"')
// A key no record's bytes can equal: a key is never matched against "__proto__".
const NEVER = Buffer.from([0xff])

// The bytes that end a run of a string's plain bytes: its closing quote, an escape, and the
// control characters JSON allows only escaped.
const STRING_STOP = new Uint8Array(256)
for (let b = 0; b < 0x20; b++) STRING_STOP[b] = 1
STRING_STOP[QUOTE] = 1
STRING_STOP[BACKSLASH] = 1

// The byte each of JSON's escapes but \u stands for (0: none, or \u).
const UNESCAPE = new Uint8Array(256)
for (const [escape, byte] of [['"', 0x22], ['\\', 0x5c], ['/', 0x2f], ['b', 0x08], ['f', 0x0c], ['n', 0x0a], ['r', 0x0d], ['t', 0x09]] as const) {
  UNESCAPE[escape.charCodeAt(0)] = byte
}

// JSON's whitespace: space, tab, line feed, carriage return.
export function skipSpace(bytes: Uint8Array, p: number, end: number): number {
  while (p < end) {
    const b = bytes[p]!
    if (b !== 0x20 && b !== 0x09 && b !== 0x0d && b !== 0x0a) break
    p++
  }
  return p
}

/**
 * Where the JSON string whose opening quote is at p ends (past its closing quote): positive
 * when it has no escape (its bytes are its text), negative when it has (decode it), and -1
 * when it does not end on the line or holds a control character (JSON has those escaped).
 */
export function stringEnd(bytes: Uint8Array, p: number, end: number): number {
  let escaped = false
  let r = p + 1
  for (;;) {
    while (r < end && STRING_STOP[bytes[r]!] === 0) r++
    if (r >= end) return -1
    const c = bytes[r]!
    if (c === QUOTE) return escaped ? -(r + 1) : r + 1
    if (c !== BACKSLASH) return -1
    escaped = true
    r += 2
  }
}

function matches(bytes: Uint8Array, p: number, end: number, word: Uint8Array): boolean {
  if (p + word.length > end) return false
  for (let i = 0; i < word.length; i++) if (bytes[p + i] !== word[i]) return false
  return true
}

function sameBytes(key: Uint8Array, bytes: Uint8Array, start: number, end: number): boolean {
  if (end - start !== key.length) return false
  for (let i = 0; i < key.length; i++) if (bytes[start + i] !== key[i]) return false
  return true
}

const isDigit = (b: number | undefined) => b !== undefined && b >= 0x30 && b <= 0x39

/** Where a JSON number starting at p ends, or -1 when none does: -?(0|[1-9]\d*)(\.\d+)?([eE][+-]?\d+)? */
export function numberEnd(bytes: Uint8Array, p: number, end: number): number {
  if (bytes[p] === 0x2d /* - */) p++
  if (p >= end) return -1
  if (bytes[p] === 0x30) p++
  else if (isDigit(bytes[p])) while (p < end && isDigit(bytes[p])) p++
  else return -1
  if (p < end && bytes[p] === 0x2e /* . */) {
    p++
    if (!(p < end && isDigit(bytes[p]))) return -1
    while (p < end && isDigit(bytes[p])) p++
  }
  if (p < end && (bytes[p] === 0x65 || bytes[p] === 0x45) /* e E */) {
    p++
    if (p < end && (bytes[p] === 0x2b || bytes[p] === 0x2d)) p++
    if (!(p < end && isDigit(bytes[p]))) return -1
    while (p < end && isDigit(bytes[p])) p++
  }
  return p
}

/** A JSON string with escapes (its quotes included) decoded, or null when an escape is not JSON's. */
function decodeString(bytes: Buffer, start: number, end: number): string | null {
  try {
    return JSON.parse(bytes.toString('utf8', start, end)) as string
  } catch {
    return null
  }
}
