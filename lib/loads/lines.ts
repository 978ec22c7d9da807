import pg from 'pg'
import type { Import } from '../db/generated/client'
import { columnsOf, importTableSql, quoteIdent, ROW_NUMBER_COLUMN } from '../imports/column-names'
import { BATCH_COLUMN } from '../imports/import-table'

export type RowRef = { batch: string; place: string }
export type LineOf = { line: number | null; lines: [number, number] | null }

/**
 * The file's line each row's record starts on. A file import stores no line per row (that cost
 * the import a seventh of its speed); each batch knows its first and next line, and its rows
 * are stored in file order. A record takes one line and one more per line break in its values
 * (quoted), and so does each reject, by its record: when those add up to the batch's lines, the
 * n-th row's line follows. When they do not (blank lines, a reject cut short) only the batch's
 * range of lines can be told. A batch session's rows are records, not lines: none.
 * (The first batch's range starts with the header line.)
 */
export async function linesOf(client: pg.ClientBase, imp: Import, rows: readonly RowRef[]): Promise<Map<string, LineOf>> {
  const found = new Map<string, LineOf>()
  if (rows.length === 0) return found
  if (!imp.partitioned) {
    for (const r of rows) found.set(`${r.batch}:${r.place}`, { line: null, lines: null })
    return found
  }
  const batches = [...new Set(rows.map((r) => r.batch))]
  const dialect = imp.dialect as { header?: boolean; newline?: string } | null
  // The character the file's lines end with ("\r\n" ends with "\n"); line breaks in values are counted by it.
  const newline = pg.escapeLiteral(dialect?.newline === '\r' ? '\r' : '\n')
  const breaksIn = (value: string) => `(length(${value}) - length(replace(${value}, ${newline}, '')))`
  const textColumns = columnsOf(imp.columns).filter((c) => (c.type ?? 'text') === 'text')
  const linesOfRow = `1 + ${textColumns.map((c) => `COALESCE(${breaksIn(quoteIdent(c.name))}, 0)`).join(' + ') || '0'}`
  const place = `COALESCE(${quoteIdent(ROW_NUMBER_COLUMN)}, sluice.sluice_place(ctid))`
  const { rows: ranked } = await client.query<{ b: string; p: string; before: string; total: string }>(
    `SELECT r.b, r.p, r.before, r.total FROM (
       SELECT ${quoteIdent(BATCH_COLUMN)} AS b, ${place} AS p,
              sum(${linesOfRow}) OVER (PARTITION BY ${quoteIdent(BATCH_COLUMN)} ORDER BY ${place}) - (${linesOfRow}) AS before,
              sum(${linesOfRow}) OVER (PARTITION BY ${quoteIdent(BATCH_COLUMN)}) AS total
       FROM ${importTableSql(imp.tableName)} WHERE ${quoteIdent(BATCH_COLUMN)} = ANY($1::bigint[])) r
     JOIN unnest($2::bigint[], $3::bigint[]) AS w(b, p) ON w.b = r.b AND w.p = r.p`,
    [batches, rows.map((r) => r.batch), rows.map((r) => r.place)],
  )
  const { rows: spans } = await client.query<{ start: string; first: string; next: string; rejects: Array<{ line: string; lines: number }> }>(
    `SELECT b.start_byte AS start, b.first_line AS first, b.next_line AS next,
            COALESCE((SELECT json_agg(json_build_object('line', j.line::text, 'lines', 1 + ${breaksIn('j.record')}) ORDER BY j.line)
                      FROM import_rejects j WHERE j.import_id = b.import_id AND j.line >= b.first_line AND j.line < b.next_line), '[]') AS rejects
     FROM import_batches b WHERE b.import_id = $1 AND b.start_byte = ANY($2::bigint[])`,
    [imp.id, batches],
  )
  // The batch at byte 0 begins with the header line, which is not a record.
  const headerLines = dialect?.header === false ? 0 : 1
  const spanOf = new Map(
    spans.map((s) => [
      s.start,
      { first: Number(s.first) + (s.start === '0' ? headerLines : 0), next: Number(s.next), rejects: s.rejects.map((j) => ({ line: Number(j.line), lines: j.lines })) },
    ]),
  )
  for (const r of ranked) {
    const span = spanOf.get(r.b)
    if (!span) continue
    const linesAccountedFor = Number(r.total) + span.rejects.reduce((n, j) => n + j.lines, 0) === span.next - span.first
    if (!linesAccountedFor) {
      found.set(`${r.b}:${r.p}`, { line: null, lines: [span.first, span.next - 1] })
      continue
    }
    let line = span.first + Number(r.before)
    for (const reject of span.rejects) {
      if (reject.line <= line) line += reject.lines
      else break
    }
    found.set(`${r.b}:${r.p}`, { line, lines: null })
  }
  for (const r of rows) if (!found.has(`${r.batch}:${r.place}`)) found.set(`${r.batch}:${r.place}`, { line: null, lines: null })
  return found
}
