import pg from 'pg'
import { quoteIdent } from '../imports/column-names'
import { linesOf, type LineOf } from './lines'
import { fitsSql, mappedOf, misfitReasonSql, missingSql, safeValueSql, sourceSql, type LoadPlan } from './plan'
import type { CheckResult, Problem, ProblemKind } from './schemas'

/**
 * What stands in a load's way, found by set operations over the import's table (one scan for
 * the types and missing values, one aggregate per key, one anti-join per foreign key), never
 * row by row. The rows found go into a temporary table of the check's or the load's own
 * transaction: the load then leaves them out with one anti-join.
 */

/**
 * For the check's and the load's transaction: its aggregates over the whole file (duplicate
 * keys, the anti-join of problem rows) run in memory instead of spilling to disk at
 * PostgreSQL's default of 4 MB per operation.
 */
export const LOAD_SETTINGS = "SET LOCAL work_mem = '256MB'"

/** The problem rows of the current transaction (dropped at its end). */
export const PROBLEMS = 'sluice_load_problems'

// Examples a check shows per problem.
const EXAMPLES = 5

/**
 * Fills PROBLEMS. `excludes` is false only for an upsert's superseded duplicates: those are
 * not loaded either, but they are a choice (first or last wins), not a row that cannot go in.
 */
export async function findProblems(client: pg.ClientBase, plan: LoadPlan): Promise<void> {
  const { mapped, sourceSql: from, batchSql: batch, placeSql: place } = plan
  await client.query(`CREATE TEMP TABLE ${PROBLEMS} (batch bigint, place bigint, kind text, col text, value text, reason text,
    excludes boolean NOT NULL DEFAULT true, other_batch bigint, other_place bigint) ON COMMIT DROP`)

  const checks = mapped.flatMap((m) => {
    const name = pg.escapeLiteral(m.target.name)
    const out: string[] = []
    if (fitsSql(m) !== 'true') out.push(`('type', ${name}, ${sourceSql(m)}::text, CASE WHEN NOT ${fitsSql(m)} THEN ${misfitReasonSql(m)} END)`)
    if (missingSql(m) !== 'false') out.push(`('missing', ${name}, NULL, CASE WHEN ${missingSql(m)} THEN 'no value, and the column is NOT NULL without a default' END)`)
    return out
  })
  if (checks.length) {
    const allFine = mapped.flatMap((m) => [fitsSql(m), `NOT (${missingSql(m)})`]).join(' AND ')
    await client.query(`INSERT INTO ${PROBLEMS} (batch, place, kind, col, value, reason)
      SELECT ${batch}, ${place}, v.kind, v.col, left(v.value, 200), v.reason
      FROM ${from} CROSS JOIN LATERAL (VALUES ${checks.join(', ')}) v(kind, col, value, reason)
      WHERE NOT (${allFine}) AND v.reason IS NOT NULL`)
  }

  // The same key on several lines: for an upsert one of them wins; for append and replace the
  // first goes in and the others cannot.
  const duplicateKeys = plan.key ? [plan.key] : plan.uniqueKeys
  for (const key of duplicateKeys) {
    const values = key.columns.map((c) => safeValueSql(mappedOf(plan, c)))
    const keyText = `concat_ws(', ', ${key.columns.map((c) => `${sourceSql(mappedOf(plan, c))}::text`).join(', ')})`
    const winnerFirst = !plan.key || plan.request.duplicates === 'first'
    const order = winnerFirst ? 'b, p' : 'b DESC, p DESC'
    await client.query(`INSERT INTO ${PROBLEMS} (batch, place, kind, col, value, reason, excludes, other_batch, other_place)
      SELECT b, p, 'duplicate-key', ${pg.escapeLiteral(key.columns.join(', '))}, k, 'the same key as another line', ${!plan.key}, first_value(b) OVER w, first_value(p) OVER w
      FROM (SELECT ${batch} AS b, ${place} AS p, ${keyText} AS k, ${values.map((v, i) => `${v} AS k${i}`).join(', ')}
            FROM ${from} WHERE (${values.join(', ')}) IN (
              SELECT ${values.join(', ')} FROM ${from} WHERE ${values.map((v) => `${v} IS NOT NULL`).join(' AND ')}
              GROUP BY ${values.map((_, i) => i + 1).join(', ')} HAVING count(*) > 1)) d
      WINDOW w AS (PARTITION BY ${values.map((_, i) => `k${i}`).join(', ')} ORDER BY ${order})`)
    await client.query(`DELETE FROM ${PROBLEMS} WHERE kind = 'duplicate-key' AND col = ${pg.escapeLiteral(key.columns.join(', '))} AND batch = other_batch AND place = other_place`)
  }

  // Append: a key the table has already.
  if (plan.request.mode === 'append') {
    for (const key of plan.uniqueKeys) {
      const match = key.columns.map((c) => `t.${quoteIdent(c)} = ${safeValueSql(mappedOf(plan, c))}`).join(' AND ')
      await client.query(`INSERT INTO ${PROBLEMS} (batch, place, kind, col, value, reason)
        SELECT ${batch}, ${place}, 'existing-key', ${pg.escapeLiteral(key.columns.join(', '))},
               concat_ws(', ', ${key.columns.map((c) => `${sourceSql(mappedOf(plan, c))}::text`).join(', ')}), 'the table has a row with this key already'
        FROM ${from} WHERE EXISTS (SELECT 1 FROM ${plan.targetSql} t WHERE ${match})`)
    }
  }

  // Foreign keys whose columns are all mapped: a value no row of the referenced table has.
  for (const fk of plan.target.foreignKeys) {
    if (!fk.columns.every((c) => plan.mapped.some((m) => m.target.name === c))) continue
    const values = fk.columns.map((c) => safeValueSql(mappedOf(plan, c)))
    const match = fk.referencedColumns.map((c, i) => `r.${quoteIdent(c)} = ${values[i]}`).join(' AND ')
    await client.query(`INSERT INTO ${PROBLEMS} (batch, place, kind, col, value, reason)
      SELECT ${batch}, ${place}, 'foreign-key', ${pg.escapeLiteral(fk.columns.join(', '))},
             concat_ws(', ', ${fk.columns.map((c) => `${sourceSql(mappedOf(plan, c))}::text`).join(', ')}),
             ${pg.escapeLiteral(`no row of ${fk.references} has this ${fk.referencedColumns.join(', ')} (${fk.name})`)}
      FROM ${from} WHERE ${values.map((v) => `${v} IS NOT NULL`).join(' AND ')} AND NOT EXISTS (SELECT 1 FROM ${fk.references} r WHERE ${match})`)
  }
  // The load anti-joins this table: the planner needs its size (temporary tables get no autovacuum).
  await client.query(`CREATE INDEX ON ${PROBLEMS} (batch, place)`)
  await client.query(`ANALYZE ${PROBLEMS}`)
}

/** Why a duplicate is not loaded: the line that has its key and is loaded instead. */
export function duplicateReason(winner: LineOf | undefined, what: string): string {
  const line = winner?.line ?? (winner?.lines ? `${winner.lines[0]}–${winner.lines[1]}` : null)
  return line === null ? `the same key as another record, which ${what}` : `the same key as line ${line}, which ${what}`
}

/** Rows of the source that the load writes: not left out, not superseded. */
export const loadedRowsSql = (plan: LoadPlan) =>
  `NOT EXISTS (SELECT 1 FROM ${PROBLEMS} x WHERE x.batch = ${plan.batchSql} AND x.place = ${plan.placeSql})`

/** The check's answer, from PROBLEMS and the tables as they are in this transaction. */
export async function summarize(client: pg.ClientBase, plan: LoadPlan, examplesPerProblem = EXAMPLES): Promise<CheckResult> {
  const rows = Number((await client.query(`SELECT count(*) AS n FROM ${plan.sourceSql}`)).rows[0].n)
  const counts = (
    await client.query<{ kind: ProblemKind; col: string; rows: string }>(
      `SELECT kind, col, count(DISTINCT (batch, place)) AS rows FROM ${PROBLEMS} GROUP BY kind, col ORDER BY min(batch), min(place)`,
    )
  ).rows
  const totals = (
    await client.query<{ left_out: string; superseded: string }>(
      `SELECT count(DISTINCT (batch, place)) FILTER (WHERE excludes) AS left_out,
              count(DISTINCT (batch, place)) FILTER (WHERE NOT excludes AND (batch, place) NOT IN (SELECT batch, place FROM ${PROBLEMS} WHERE excludes)) AS superseded
       FROM ${PROBLEMS}`,
    )
  ).rows[0]!
  // The load itself needs only the counts: no examples, no lines.
  const examples = !examplesPerProblem ? [] : (
    await client.query<{ kind: ProblemKind; col: string; batch: string; place: string; value: string | null; reason: string; other_batch: string | null; other_place: string | null }>(
      `SELECT kind, col, batch, place, value, reason, other_batch, other_place FROM (
         SELECT *, row_number() OVER (PARTITION BY kind, col ORDER BY batch, place) AS n FROM ${PROBLEMS}) e
       WHERE n <= ${examplesPerProblem} ORDER BY batch, place`,
    )
  ).rows
  const lines = await linesOf(client, plan.imp, [
    ...examples.map((e) => ({ batch: e.batch, place: e.place })),
    ...examples.filter((e) => e.other_batch !== null).map((e) => ({ batch: e.other_batch!, place: e.other_place! })),
  ])
  const problems: Problem[] = counts.map((c) => ({
    kind: c.kind,
    column: c.col,
    rows: Number(c.rows),
    examples: examples
      .filter((e) => e.kind === c.kind && e.col === c.col)
      .map((e) => {
        const at = lines.get(`${e.batch}:${e.place}`)!
        let reason = e.reason
        if (e.kind === 'duplicate-key') {
          reason = duplicateReason(lines.get(`${e.other_batch}:${e.other_place}`), plan.key ? `wins (duplicates: ${plan.request.duplicates})` : 'goes in')
        }
        return { line: at.line, lines: at.lines, column: c.col, value: e.value, reason }
      }),
  }))

  const leftOut = Number(totals.left_out)
  const superseded = Number(totals.superseded)
  const effect = { insert: rows - leftOut - superseded, update: 0, unchanged: 0, delete: 0 }
  if (plan.request.mode === 'replace') {
    effect.delete = Number((await client.query(`SELECT count(*) AS n FROM ${plan.targetSql}`)).rows[0].n)
  }
  if (plan.key) {
    const key = plan.key
    const match = key.columns.map((c) => `t.${quoteIdent(c)} = ${safeValueSql(mappedOf(plan, c))}`).join(' AND ')
    const others = plan.mapped.filter((m) => !key.columns.includes(m.target.name))
    const same = others.length
      ? `(${others.map((m) => `t.${quoteIdent(m.target.name)}`).join(', ')}) IS NOT DISTINCT FROM (${others.map((m) => safeValueSql(m)).join(', ')})`
      : 'true'
    const { rows: matched } = await client.query<{ matched: string; unchanged: string }>(
      `SELECT count(*) AS matched, count(*) FILTER (WHERE ${same}) AS unchanged
       FROM ${plan.sourceSql} JOIN ${plan.targetSql} t ON ${match} WHERE ${loadedRowsSql(plan)}`,
    )
    effect.unchanged = Number(matched[0]!.unchanged)
    effect.update = Number(matched[0]!.matched) - effect.unchanged
    effect.insert -= Number(matched[0]!.matched)
  }
  return {
    rows,
    problems,
    rowsLeftOut: leftOut,
    rowsSuperseded: superseded,
    effect,
    blocked: plan.request.misfits === 'block' && leftOut > 0,
  }
}
