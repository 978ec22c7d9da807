import { stringify } from 'csv-stringify/sync'
import pg from 'pg'
import type { OwnerScope } from '../auth/owner-scope'
import { COLUMN_TYPE_LABELS, type ColumnType } from '../csv/column-types'
import { numberPattern, setDateOrderSql, type ColumnFormat } from '../csv/conventions'
import type { Dialect } from '../csv/sniff'
import { pool } from '../db/pool'
import { SluiceError } from '../http/errors'
import { columnsOf, importTableSql, quoteIdent, ROW_NUMBER_COLUMN, type ImportColumn } from './column-names'
import { BATCH_COLUMN, placeInBatchSql } from './import-table'
import { skippedReason } from './type-rejects'
import { getImport } from './imports'

/** What a person asks a column to become: a type, and how the file writes its values. */
export type RetypeRequest = { type: ColumnType; format?: ColumnFormat | undefined }
export type RetypeResult = { converted: number; rejected: number }

// More values that do not fit than this share of the rows (and than a few), and the change is
// refused: the person more likely chose the wrong type or convention than meant to set those
// rows aside.
const MAX_REJECTED_SHARE = 0.1
const ALWAYS_ALLOWED_REJECTS = 10

/**
 * Changes a column of a finished file import to another type, in one transaction: values that
 * do not fit become rejects with their line (their rows leave the table), the rest are
 * converted. Lines are counted per batch: its first line, then each row's line breaks (inside
 * its text values), the batch's rejected records and its blank lines, in file order.
 */
export async function retypeColumn(importId: string, columnName: string, request: RetypeRequest, scope: OwnerScope): Promise<RetypeResult> {
  const imp = await getImport(importId, scope)
  const client = await pool().connect()
  try {
    await client.query('BEGIN')
    const { rows } = await client.query<{ status: string; partitioned: boolean; columns: ImportColumn[]; dialect: Dialect | null }>(
      'SELECT status, partitioned, columns, dialect FROM imports WHERE id = $1 FOR UPDATE',
      [imp.id],
    )
    const locked = rows[0]!
    if (locked.status !== 'PROCESSED') {
      throw new SluiceError('INVALID_TRANSITION', `This import is ${locked.status.toLowerCase()}: a column's type can change once the import has finished`)
    }
    if (!locked.partitioned) throw new SluiceError('INVALID_TRANSITION', "A batch session's columns get their types when it opens: this one's cannot change")
    const columns = columnsOf(locked.columns)
    const column = columns.find((c) => c.name === columnName)
    if (!column) throw new SluiceError('NOT_FOUND', `This import has no column "${columnName}"; its columns are ${columns.map((c) => c.name).join(', ')}`)
    // As the import reads them: timestamps without an offset are UTC, dates in the order asked for.
    await client.query(`SET LOCAL TimeZone = 'UTC'`)
    await client.query(setDateOrderSql(request.format?.date?.order))

    const table = importTableSql(imp.tableName)
    const v = quoteIdent(column.name)
    const { value, fits } = conversionSql(`${v}::text`, request)
    const misfit = `${v} IS NOT NULL AND NOT (${fits})`
    const textColumns = columns.filter((c) => c.type === 'text').map((c) => quoteIdent(c.name))
    const newline = locked.dialect?.newline === '\r' ? '\r' : '\n'
    const lineBreaks = textColumns.length
      ? textColumns.map((c) => `coalesce(length(${c}) - length(replace(${c}, ${pg.escapeLiteral(newline)}, '')), 0)`).join(' + ')
      : '0'
    const place = placeInBatchSql
    // Each row with the lines of the rows before it in its batch; only the rows that do not fit come back.
    const { rows: misfits } = await client.query<{ batch: string; before: string; value: string; record: string[] }>(
      `SELECT batch, before, value, record FROM (
         SELECT ${quoteIdent(BATCH_COLUMN)} AS batch, ${misfit} AS misfit, ${v}::text AS value,
                ARRAY[${columns.map((c) => `${quoteIdent(c.name)}::text`).join(', ')}] AS record,
                sum(1 + ${lineBreaks}) OVER (PARTITION BY ${quoteIdent(BATCH_COLUMN)} ORDER BY ${place}) - (1 + ${lineBreaks}) AS before
         FROM ${table}) r
       WHERE misfit ORDER BY batch, before`,
    )
    const { rows: counted } = await client.query<{ n: string }>(`SELECT count(*) AS n FROM ${table}`)
    const total = Number(counted[0]!.n)
    const label = COLUMN_TYPE_LABELS[request.type]
    if (misfits.length > Math.max(ALWAYS_ALLOWED_REJECTS, total * MAX_REJECTED_SHARE)) {
      throw new SluiceError(
        'UNPROCESSABLE',
        `${misfits.length.toLocaleString('en-US')} of ${total.toLocaleString('en-US')} values of "${column.header}" are not a ${label} as asked (the first: ${JSON.stringify(misfits[0]!.value)}): nothing was changed. Check the type and how the file writes it`,
        { details: { rejected: misfits.length, rows: total } },
      )
    }
    if (misfits.length) {
      // The first batch starts with the header, on as many lines as its names' line breaks make.
      const headerLines = locked.dialect?.header ? 1 + columns.reduce((n, c) => n + c.header.split(newline).length - 1, 0) : 0
      const lines = await linesOf(client, imp.id, newline, headerLines, misfits)
      const dialect = locked.dialect
      const records = misfits.map((m) => stringify([m.record.map((x) => x ?? '')], { delimiter: dialect?.delimiter ?? ',', quote: dialect?.quote ?? '"', record_delimiter: '\n' }).replace(/\n$/, ''))
      await client.query(
        `INSERT INTO import_rejects (import_id, line, reason, record) SELECT $1, * FROM unnest($2::bigint[], $3::text[], $4::text[])`,
        [imp.id, lines, misfits.map((m) => skippedReason({ column: column.name, value: m.value }, [{ ...column, type: request.type }])), records],
      )
      await client.query(`DELETE FROM ${table} WHERE ${misfit}`)
    }
    // ALTER … TYPE writes the table anew, and the rows that keep their place only as where they
    // are stored get new places: once some row has a number of its own (a person changed it),
    // every row gets one first, so that the two kinds keep their order.
    const { rows: numbered } = await client.query(`SELECT 1 FROM ${table} WHERE ${quoteIdent(ROW_NUMBER_COLUMN)} IS NOT NULL LIMIT 1`)
    if (numbered.length) await client.query(`UPDATE ${table} SET ${quoteIdent(ROW_NUMBER_COLUMN)} = ${place} WHERE ${quoteIdent(ROW_NUMBER_COLUMN)} IS NULL`)
    await client.query(`ALTER TABLE ${table} ALTER COLUMN ${v} TYPE ${request.type} USING (${value})::${request.type}`)
    const retyped: ImportColumn[] = columns.map((c) => {
      if (c.name !== column.name) return c
      const { format: _format, dateReadings: _readings, dateShape: _shape, ...rest } = c
      return { ...rest, type: request.type, ...(request.format ? { format: request.format } : {}) }
    })
    await client.query(
      `UPDATE imports SET columns = $2::jsonb, rows_imported = rows_imported - $3, rows_rejected = rows_rejected + $3, updated_at = now() WHERE id = $1`,
      [imp.id, JSON.stringify(retyped), misfits.length],
    )
    await client.query('COMMIT')
    return { converted: total - misfits.length, rejected: misfits.length }
  } catch (error) {
    await client.query('ROLLBACK').catch(() => {})
    throw error
  } finally {
    client.release()
  }
}

/**
 * A value (SQL text) as the type asks: its marker made NULL, its number convention undone;
 * and whether it fits (checked with pg_input_is_valid, so that no value makes the change fail).
 */
function conversionSql(text: string, { type, format }: RetypeRequest): { value: string; fits: string } {
  let value = format?.missing === undefined ? text : `NULLIF(${text}, ${pg.escapeLiteral(format.missing)})`
  let shape = 'true'
  const number = format?.number
  if (number && (type === 'numeric' || type === 'bigint')) {
    // The JavaScript pattern is written in the subset PostgreSQL's regular expressions share.
    shape = `${value} ~ ${pg.escapeLiteral(numberPattern(number).source)}`
    if (number.thousands) value = `replace(${value}, ${pg.escapeLiteral(number.thousands)}, '')`
    if (number.decimal === ',') value = `replace(${value}, ',', '.')`
  }
  return { value, fits: `${value} IS NULL OR (${shape} AND pg_input_is_valid(${value}, ${pg.escapeLiteral(type)}))` }
}

/** The file line of each row that does not fit, from its batch's first line, the lines before it, and the batch's rejects and blank lines. */
async function linesOf(
  client: pg.PoolClient,
  importId: string,
  newline: string,
  headerLines: number,
  misfits: Array<{ batch: string; before: string }>,
): Promise<number[]> {
  const { rows: batches } = await client.query<{ start: string; first: string; excluded: Array<{ line: string; lines: number }> }>(
    `SELECT b.start_byte AS start, b.first_line AS first,
            coalesce((SELECT json_agg(json_build_object('line', l.line, 'lines', l.lines) ORDER BY l.line) FROM (
              SELECT r.line, 1 + length(r.record) - length(replace(r.record, $2, '')) AS lines FROM import_rejects r
               WHERE r.import_id = b.import_id AND r.line >= b.first_line AND r.line < b.next_line
              UNION ALL SELECT unnest(b.blank_lines), 1) l), '[]') AS excluded
     FROM import_batches b WHERE b.import_id = $1`,
    [importId, newline],
  )
  const byStart = new Map(batches.map((b) => [b.start, b]))
  return misfits.map((m) => {
    const batch = byStart.get(m.batch)!
    // The row's line if nothing were left out of the batch, then past each rejected record or blank line before it.
    let line = Number(batch.first) + (batch.start === '0' ? headerLines : 0) + Number(m.before)
    for (const e of batch.excluded) if (Number(e.line) <= line) line += e.lines
    return line
  })
}
