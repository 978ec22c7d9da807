import { COLUMN_TYPE_LABELS } from '../csv/column-types'
import type { Dialect } from '../csv/sniff'
import type { ImportColumn } from './column-names'
import type { RecordSyntax } from './record-boundaries'
import type { ExcludedRecord } from './record-scanner'

const LF = 0x0a
const CR = 0x0d

/** A value COPY skipped (ON_ERROR ignore): its record's line as COPY counts lines, and why. */
export type SkippedRow = { copyLine: number; column: string; value: string | null }

// PostgreSQL 17+'s NOTICE for each row that COPY … (ON_ERROR ignore, LOG_VERBOSITY verbose)
// skips; the value is cut at 100 characters, and a NULL into a NOT NULL column says "null input".
const SKIPPED = /^skipping row due to data type incompatibility at line (\d+) for column "((?:[^"]|"")*)": (?:"([\s\S]*)"|null input)$/

/** The skipped row a COPY notice reports, or null for any other notice. */
export function parseSkippedRow(message: string): SkippedRow | null {
  const m = SKIPPED.exec(message)
  return m ? { copyLine: Number(m[1]), column: m[2]!, value: m[3] ?? null } : null
}

/** Why a value was refused, for a person: `amount: "12abc" is not a whole number`. */
export function skippedReason(skipped: Pick<SkippedRow, 'column' | 'value'>, columns: readonly ImportColumn[]): string {
  const column = columns.find((c) => c.name === skipped.column)
  const label = COLUMN_TYPE_LABELS[column?.type ?? 'text']
  const name = column?.header || skipped.column
  return skipped.value === null ? `${name}: no value where a ${label} is needed` : `${name}: "${skipped.value}" is not a ${label}`
}

/**
 * The records of a batch that COPY skipped, as file lines and byte ranges. COPY numbers the
 * lines of its own input: it never saw the records the batch left out, and it counts a line
 * break inside quotes only when it is the file's own line ending (CopyReadLineText), so the
 * batch is walked record by record, counting both ways. Runs only for a batch with skipped rows.
 */
export function locateSkippedRecords(
  chunk: Buffer,
  records: { end: number; excluded: readonly ExcludedRecord[] },
  batchLine: number,
  syntax: RecordSyntax,
  newline: Dialect['newline'],
  skipped: readonly SkippedRow[],
  valueOf?: (record: { start: number; end: number }, column: string) => string | null,
): Array<{ line: number; start: number; end: number; skipped: SkippedRow }> {
  const byCopyLine = new Map(skipped.map((s) => [s.copyLine, s]))
  const walked: Array<{ line: number; start: number; end: number; copyLine: number }> = []
  // What COPY counts inside quotes: the CR of a CRLF file's line breaks, the LF of an LF file's.
  const copyBreak = newline === '\n' ? LF : CR
  const escapes = syntax.escape !== syntax.quote
  const found: Array<{ line: number; start: number; end: number; skipped: SkippedRow }> = []
  let excludedAt = 0
  let fileLine = batchLine
  let copyLine = 1
  let start = 0
  let inQuotes = false
  let fileBreaks = 0
  let copyBreaks = 0
  const endRecord = (end: number) => {
    const excluded = records.excluded[excludedAt]
    if (excluded && excluded.start === start) excludedAt++
    else {
      const s = byCopyLine.get(copyLine)
      if (s) found.push({ line: fileLine, start, end, skipped: s })
      walked.push({ line: fileLine, start, end, copyLine })
      copyLine += 1 + copyBreaks
    }
    fileLine += fileBreaks
    start = end
    fileBreaks = copyBreaks = 0
  }
  for (let i = 0; i < records.end; i++) {
    const c = chunk[i]
    if (escapes && inQuotes && c === syntax.escape && (chunk[i + 1] === syntax.quote || chunk[i + 1] === syntax.escape)) i++
    else if (c === syntax.quote) inQuotes = !inQuotes
    else {
      if (c === syntax.newline) fileBreaks++
      if (inQuotes) {
        if (c === copyBreak) copyBreaks++
      } else if (c === syntax.newline) endRecord(i + 1)
    }
  }
  if (start < records.end) endRecord(records.end)
  return valueOf ? found.map((f) => checkedAgainstValue(f, walked, valueOf)) : found
}

// How far from the record COPY's line number points at a check looks for the record that holds the value.
const NEARBY_RECORDS = 64

/**
 * The record that really holds the skipped value. COPY's line count drifts from the file's in
 * some inputs with line breaks inside quotes (measured: two lines early, 42,000 lines into a
 * file of multi-line notes), so the record the count points at is checked against the value
 * COPY reports, and when it does not hold it the nearest record that does is taken.
 */
function checkedAgainstValue(
  found: { line: number; start: number; end: number; skipped: SkippedRow },
  walked: ReadonlyArray<{ line: number; start: number; end: number; copyLine: number }>,
  valueOf: (record: { start: number; end: number }, column: string) => string | null,
) {
  const { skipped } = found
  const holds = (r: { start: number; end: number }) => {
    const value = valueOf(r, skipped.column)
    if (skipped.value === null || value === null) return skipped.value === value
    // COPY cuts a long value at 100 characters and adds "...".
    return value === skipped.value || (skipped.value.endsWith('...') && value.startsWith(skipped.value.slice(0, -3)))
  }
  if (holds(found)) return found
  const at = walked.findIndex((r) => r.start === found.start)
  for (let d = 1; d <= NEARBY_RECORDS; d++) {
    for (const r of [walked[at + d], walked[at - d]]) if (r && holds(r)) return { ...r, skipped }
  }
  return found
}
