import type pg from 'pg'
import { ANY_OWNER } from '../auth/owner-scope'
import type { Load } from '../db/generated/client'
import { connectAs } from '../db/named-connection'
import { pool, prisma } from '../db/pool'
import { quoteIdent } from '../imports/column-names'
import { getImport } from '../imports/imports'
import { linesOf } from './lines'
import { duplicateReason } from './problems'
import { loadConnectionName } from './load-jobs'
import { ownerOf, planFor, requestOf } from './loads'
import { writtenValueSql, type LoadPlan } from './plan'
import { findProblems, LOAD_SETTINGS, loadedRowsSql, PROBLEMS, summarize } from './problems'

/** The load's run ended because someone stopped it: its transaction is rolled back. */
class Stopped extends Error {}

// Left-out rows are written this many at a time.
const LEFT_OUT_CHUNK = 10_000

/**
 * Runs one load: the check and every write in one transaction on a connection of its own, a
 * batch of the import at a time (so the page shows progress and a stop lands between two), the
 * load marked PROCESSED in that same transaction. A stop, an error or a lost worker leaves the
 * table exactly as it was. Returns quietly when the load is not QUEUED.
 */
export async function runLoad(loadId: string): Promise<void> {
  const client = await connectAs(loadConnectionName(loadId))
  try {
    const { rows } = await client.query<{ run: number }>(
      `UPDATE loads SET status = 'PROCESSING', run = run + 1, backend_pid = pg_backend_pid(), started_at = now(),
         rows_done = 0, error = NULL, error_line = NULL, updated_at = now()
       WHERE id = $1 AND status = 'QUEUED' RETURNING run`,
      [loadId],
    )
    if (!rows[0]) return
    const load = (await prisma().load.findUnique({ where: { id: loadId } }))!
    let plan: LoadPlan | null = null
    try {
      plan = await planFor(await getImport(load.importId, ANY_OWNER), requestOf(load), await ownerOf(load))
      await client.query('BEGIN')
      await client.query(LOAD_SETTINGS)
      await writeLoad(client, load, plan)
      await client.query('COMMIT')
    } catch (error) {
      await client.query('ROLLBACK').catch(() => {})
      if (error instanceof Stopped) return
      const stopped = await prisma().load.findFirst({ where: { id: loadId, status: 'STOPPED' } })
      if (stopped) return
      const { message, line } = await describeFailure(error, plan)
      await prisma().load.updateMany({
        where: { id: loadId, run: load.run, status: 'PROCESSING' },
        data: { status: 'FAILED', error: message, errorLine: line, backendPid: null, finishedAt: new Date() },
      })
    }
  } finally {
    await client.end().catch(() => {})
  }
}

async function writeLoad(client: pg.Client, load: Load, plan: LoadPlan): Promise<void> {
  const mine = { id: load.id, run: load.run, status: 'PROCESSING' as const }
  const progress = async (data: { rowsDone?: bigint; rowsTotal?: bigint }) => {
    const r = await prisma().load.updateMany({ where: mine, data })
    if (!r.count) throw new Stopped()
  }
  await findProblems(client, plan)
  const check = await summarize(client, plan, 0)
  if (check.blocked) {
    const kinds = check.problems.filter((p) => p.kind !== 'duplicate-key' || !plan.key).map((p) => `${p.rows} × ${p.kind}${p.column ? ` (${p.column})` : ''}`)
    throw new Error(`${check.rowsLeftOut} row(s) cannot go in, and this load blocks on them: ${kinds.join(', ')}. Nothing was written. Check the load to see them, or leave them out.`)
  }
  const toWrite = check.rows - check.rowsLeftOut - check.rowsSuperseded
  await progress({ rowsTotal: BigInt(toWrite) })

  let deleted = 0
  if (plan.request.mode === 'replace') {
    deleted = check.effect.delete
    // TRUNCATE is immediate on any size, and transactional; a table another table's foreign
    // key points at can only be emptied row by row (which that key then checks).
    const truncatable = !plan.target.referenced && (await client.query<{ ok: boolean }>("SELECT has_table_privilege($1::oid, 'TRUNCATE') AS ok", [plan.target.oid])).rows[0]!.ok
    await client.query(truncatable ? `TRUNCATE ${plan.targetSql}` : `DELETE FROM ${plan.targetSql}`)
  }

  const columns = plan.mapped.map((m) => quoteIdent(m.target.name)).join(', ')
  const values = plan.mapped.map(writtenValueSql).join(', ')
  let conflict = ''
  if (plan.key) {
    const key = plan.key
    const others = plan.mapped.filter((m) => !key.columns.includes(m.target.name)).map((m) => quoteIdent(m.target.name))
    conflict = others.length
      ? `ON CONFLICT (${key.columns.map(quoteIdent).join(', ')}) DO UPDATE SET ${others.map((c) => `${c} = EXCLUDED.${c}`).join(', ')}
         WHERE (${others.map((c) => `t.${c}`).join(', ')}) IS DISTINCT FROM (${others.map((c) => `EXCLUDED.${c}`).join(', ')})`
      : `ON CONFLICT (${key.columns.map(quoteIdent).join(', ')}) DO NOTHING`
  }
  const chunks = plan.imp.partitioned
    ? (await client.query<{ start: string }>('SELECT start_byte AS start FROM import_batches WHERE import_id = $1 ORDER BY start_byte', [plan.imp.id])).rows.map((r) => r.start)
    : [null]
  // Most files have no problem rows: then there is nothing to leave out, and no anti-join.
  const loaded = check.rowsLeftOut + check.rowsSuperseded > 0 ? loadedRowsSql(plan) : 'true'
  let done = 0
  let inserted = 0
  let updated = 0
  for (const chunk of chunks) {
    const inChunk = chunk === null ? 'true' : `${plan.batchSql} = ${BigInt(chunk)}`
    const insert = `INSERT INTO ${plan.targetSql} AS t (${columns}) SELECT ${values} FROM ${plan.sourceSql} WHERE ${inChunk} AND ${loaded} ${conflict}`
    if (conflict) {
      // xmax is 0 on a row this statement inserted and set on one it updated.
      const { rows } = await client.query<{ inserted: string; updated: string }>(
        `WITH written AS (${insert} RETURNING (t.xmax = 0) AS inserted)
         SELECT count(*) FILTER (WHERE inserted) AS inserted, count(*) FILTER (WHERE NOT inserted) AS updated FROM written`,
      )
      inserted += Number(rows[0]!.inserted)
      updated += Number(rows[0]!.updated)
    } else {
      inserted += (await client.query(insert)).rowCount ?? 0
    }
    done = inserted + updated
    await progress({ rowsDone: BigInt(done) })
  }

  await saveLeftOut(client, load, plan)
  const finished = await client.query(
    `UPDATE loads SET status = 'PROCESSED', rows_done = $3, rows_inserted = $4, rows_updated = $5, rows_unchanged = $6,
       rows_deleted = $7, rows_left_out = $8, backend_pid = NULL, finished_at = clock_timestamp(), updated_at = clock_timestamp()
     WHERE id = $1 AND run = $2 AND status = 'PROCESSING'`,
    [load.id, load.run, done, inserted, updated, toWrite - done, deleted, check.rowsLeftOut],
  )
  if (!finished.rowCount) throw new Stopped()
}

/** The problems of the rows left out, with their lines, into load_left_out (in the load's transaction). */
async function saveLeftOut(client: pg.Client, load: Load, plan: LoadPlan): Promise<void> {
  let n = 0
  for (;;) {
    const { rows } = await client.query<{ batch: string; place: string; kind: string; col: string | null; value: string | null; reason: string; other_batch: string | null; other_place: string | null }>(
      `SELECT batch, place, kind, col, value, reason, other_batch, other_place FROM ${PROBLEMS} WHERE excludes ORDER BY batch, place, kind, col LIMIT ${LEFT_OUT_CHUNK} OFFSET ${n}`,
    )
    if (rows.length === 0) return
    const others = rows.filter((r) => r.other_batch !== null).map((r) => ({ batch: r.other_batch!, place: r.other_place! }))
    const lines = await linesOf(client, plan.imp, [...rows, ...others])
    await client.query(
      `INSERT INTO load_left_out (load_id, n, line, "column", value, reason)
       SELECT $1, n, line, col, value, reason FROM unnest($2::int[], $3::bigint[], $4::text[], $5::text[], $6::text[]) AS u(n, line, col, value, reason)`,
      [
        load.id,
        rows.map((_, i) => n + i + 1),
        rows.map((r) => lines.get(`${r.batch}:${r.place}`)?.line ?? null),
        rows.map((r) => r.col),
        rows.map((r) => r.value),
        rows.map((r) => (r.kind === 'duplicate-key' ? duplicateReason(lines.get(`${r.other_batch}:${r.other_place}`), 'goes in') : r.reason)),
      ],
    )
    n += rows.length
  }
}

/**
 * PostgreSQL's message, and the file's line when the error names a key ("Key (email)=(a@b.c)
 * already exists"): the first row of the import with that value.
 */
async function describeFailure(error: unknown, plan: LoadPlan | null): Promise<{ message: string; line: bigint | null }> {
  const err = error as { message?: string; detail?: string }
  const message = [err.message ?? String(error), err.detail].filter(Boolean).join(': ')
  const key = /^Key \(([^,()]+)\)=\((.*)\) (already exists|is not present)/.exec(err.detail ?? '')
  if (!plan || !key) return { message, line: null }
  const mapped = plan.mapped.find((m) => m.target.name === key[1] || quoteIdent(m.target.name) === key[1])
  if (!mapped) return { message, line: null }
  const db = await pool().connect()
  try {
    const { rows } = await db.query<{ batch: string; place: string }>(
      `SELECT ${plan.batchSql} AS batch, ${plan.placeSql} AS place FROM ${plan.sourceSql}
       WHERE s.${quoteIdent(mapped.source.name)}::text = $1 ORDER BY 1, 2 LIMIT 1`,
      [key[2]],
    )
    if (!rows[0]) return { message, line: null }
    const line = (await linesOf(db, plan.imp, rows)).get(`${rows[0].batch}:${rows[0].place}`)?.line ?? null
    return { message: line === null ? message : `${message} (line ${line} of the file)`, line: line === null ? null : BigInt(line) }
  } finally {
    db.release()
  }
}
