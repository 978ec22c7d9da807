import { isUtf8 } from 'node:buffer'
import type { Encoding } from '../csv/encoding'
import { findFirstRecordEnd, type RecordSyntax } from './record-boundaries'
import type { ExcludedRecord } from './record-scanner'

// Bytes PostgreSQL's WIN1252 has no character for (and NUL, which no PostgreSQL text holds).
const UNMAPPED_WIN1252 = new Set([0x00, 0x81, 0x8d, 0x8f, 0x90, 0x9d])

/** Whether COPY would refuse some byte of `chunk` (as handed to it) for its encoding. */
export function hasBadCharacters(chunk: Buffer, encoding: Encoding): boolean {
  // Everything but Windows-1252 reaches COPY as UTF-8 (UTF-16 is decoded in Node first).
  if (encoding !== 'windows-1252') return chunk.includes(0) || !isUtf8(chunk)
  for (const byte of UNMAPPED_WIN1252) if (chunk.includes(byte)) return true
  return false
}

/**
 * The records of `chunk` (up to `end`, where its whole records end) that hold a byte COPY would
 * refuse: a NUL, invalid UTF-8, or a byte Windows-1252 does not map. Each becomes a reject with
 * its line, so that one bad byte past the sniffed sample costs its record, not the import.
 * Called only for a batch that has such a byte, so the byte-by-byte walk costs nothing otherwise.
 */
export function encodingRejects(chunk: Buffer, end: number, line: number, syntax: RecordSyntax, encoding: Encoding): ExcludedRecord[] {
  const rejects: ExcludedRecord[] = []
  let start = 0
  while (start < end) {
    const record = findFirstRecordEnd(chunk.subarray(start, end), line, true, syntax)
    const stop = record.end === 0 ? end : start + record.end
    const bad = badCharacter(chunk.subarray(start, stop), encoding)
    if (bad) rejects.push({ start, end: stop, line, reason: bad })
    start = stop
    line = record.nextLine
  }
  return rejects
}

function badCharacter(record: Buffer, encoding: Encoding): string | null {
  if (record.includes(0)) return 'the record holds a NUL byte, which PostgreSQL text cannot hold'
  if (encoding !== 'windows-1252') return isUtf8(record) ? null : 'the record holds bytes that are not valid UTF-8 (the file is read as UTF-8)'
  for (const byte of record) {
    if (UNMAPPED_WIN1252.has(byte)) return `the record holds the byte 0x${byte.toString(16).toUpperCase()}, which Windows-1252 does not map to a character`
  }
  return null
}

/** Two lists of excluded records merged in file order; a record in both is kept once, with the first reason. */
export function mergeExcluded(a: ExcludedRecord[], b: ExcludedRecord[]): ExcludedRecord[] {
  const byStart = new Map<number, ExcludedRecord>()
  for (const x of [...a, ...b]) if (!byStart.has(x.start) || byStart.get(x.start)!.reason === null) byStart.set(x.start, x)
  return [...byStart.values()].sort((x, y) => x.start - y.start)
}
