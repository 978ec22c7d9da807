// npm run bench:load -- [--rows 2000000] [--runs 3] [--keep]
//
// How close does a load into a table of one's own come to the least PostgreSQL can do? The
// bench starts the real app once (scripts/start.ts), imports the fixture once over tus, and
// then, run after run, times in the same database:
//   raw     one `COPY … FROM STDIN (FORMAT csv, HEADER)` of the file into an empty table of the
//           target's shape (bigint primary key, a unique index on (email, id), varchar(100),
//           numeric(10,2), varchar(20): the generator has no unique email of its own);
//   append  POST /api/imports/:id/loads into an empty table of that shape, from the request to
//           PROCESSED (its check included);
//   upsert  the same into the table holding half the keys already (every second id, with
//           another amount), mode upsert on the primary key;
//   check   POST …/loads/check of the append alone: the share of a load that is its check.
// It prints the times and raw/append, raw/upsert (1 would be as fast as the raw COPY). Compare
// ratios, not times. Speed is reported, never asserted: the exit code is non-zero only when
// something went wrong (an HTTP error, a count that is not the file's).
import fsp from 'node:fs/promises'
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { pipeline } from 'node:stream/promises'
import pg from 'pg'
import { from as copyFrom } from 'pg-copy-streams'
import { formatBytes } from '../lib/format'
import { ensureCsv } from './bench/fixture'
import { authFor, cleanups, countFlag, interrupted, median, parseFlags, printLogTail, runBench, sleep } from './bench/harness'
import { settle, startAppWithDatabase, uploadWithTus, waitForImport, type App, type ImportDto } from './bench/imports'

const USAGE = 'usage: npm run bench:load -- [--rows N] [--runs 3] [--keep]'
const DEFAULT_ROWS = 2_000_000
const DEFAULT_RUNS = 3
// The bars: an append at 0.8 of one raw COPY, an upsert at 0.4.
const TARGETS = { append: 0.8, upsert: 0.4 }

const TARGET = 'public.bench_load_target'
const TARGET_COLUMNS = `id bigint PRIMARY KEY, created_on date, updated_at timestamptz, customer varchar(100), email text,
  amount numeric(10,2), category varchar(20), note text, UNIQUE (email, id)`
const MAPPING = Object.fromEntries(['id', 'created_on', 'updated_at', 'customer', 'email', 'amount', 'category', 'note'].map((c) => [c, c]))

type Run = { raw: number; append: number; upsert: number; check: number }

async function main() {
  const values = parseFlags({ rows: { type: 'string' }, runs: { type: 'string' }, keep: { type: 'boolean', default: false } })
  const options = { rows: countFlag('--rows', values.rows, DEFAULT_ROWS), runs: countFlag('--runs', values.runs, DEFAULT_RUNS), keep: values.keep === true }
  const fixture = await ensureCsv({ rows: options.rows })

  const runDir = await fsp.mkdtemp(path.join(os.tmpdir(), 'sluice-bench-load-'))
  if (options.keep) console.log(`Keeping ${runDir} (app log, database, uploads) at the end`)
  else cleanups.push(() => fsp.rm(runDir, { recursive: true, force: true }))
  await fsp.chmod(runDir, 0o755) // the embedded PostgreSQL runs as the OS user postgres when this runs as root
  const appLog = path.join(runDir, 'app.log')
  try {
    const app = await startAppWithDatabase({ dataDir: path.join(runDir, 'data'), logFile: appLog })
    const db = new pg.Client({ connectionString: app.databaseUrl, application_name: 'sluice-bench-load' })
    await db.connect()
    cleanups.push(() => db.end().catch(() => {}))

    console.log(`Importing ${formatBytes(fixture.size)} (${options.rows.toLocaleString('en')} rows) once…`)
    const imp = await waitForImport(app.baseUrl, await uploadWithTus(app.baseUrl, fixture.file, fixture.size))
    if (imp.rowsImported !== options.rows) throw new Error(`the import holds ${imp.rowsImported} rows, the file ${options.rows}`)

    console.log(`Loading ${options.rows.toLocaleString('en')} rows ${options.runs}× each way (raw COPY, append, upsert with half the keys present)`)
    console.log(['run', 'raw s', 'append s', 'raw/append', 'upsert s', 'raw/upsert', 'check s'].map((h) => h.padStart(11)).join(''))
    const runs: Run[] = []
    for (let run = 1; run <= options.runs; run++) {
      const r: Run = { raw: 0, append: 0, upsert: 0, check: 0 }
      // The order alternates, so that neither side always follows the other's writeback.
      const order = run % 2 === 1 ? (['raw', 'append', 'upsert'] as const) : (['upsert', 'append', 'raw'] as const)
      for (const side of order) {
        await db.query(`DROP TABLE IF EXISTS ${TARGET}`)
        await db.query(`CREATE TABLE ${TARGET} (${TARGET_COLUMNS})`)
        if (side === 'upsert') {
          await db.query(`INSERT INTO ${TARGET} (id, email, amount) SELECT id, email, amount + 1 FROM ${imp.tableName} WHERE id % 2 = 0`)
          await db.query(`VACUUM ANALYZE ${TARGET}`)
        }
        await settle(db)
        if (side === 'raw') r.raw = await rawCopy(db, fixture.file, options.rows)
        else r[side] = await timedLoad(app, imp, side, options.rows)
      }
      await db.query(`TRUNCATE ${TARGET}`)
      await settle(db)
      r.check = await timedCheck(app, imp)
      runs.push(r)
      console.log([String(run), r.raw.toFixed(2), r.append.toFixed(2), (r.raw / r.append).toFixed(2), r.upsert.toFixed(2), (r.raw / r.upsert).toFixed(2), r.check.toFixed(2)].map((c) => c.padStart(11)).join(''))
    }
    await db.query(`DROP TABLE IF EXISTS ${TARGET}`)
    const appendRatio = median(runs.map((r) => r.raw / r.append))
    const upsertRatio = median(runs.map((r) => r.raw / r.upsert))
    console.log(`\nmedian raw/append ${appendRatio.toFixed(2)} (target ${TARGETS.append}), raw/upsert ${upsertRatio.toFixed(2)} (target ${TARGETS.upsert})`)
    console.log(`the check is ${((median(runs.map((r) => r.check / r.append)) * 100).toFixed(0))}% of an append's time`)
  } catch (error) {
    if (!interrupted()) printLogTail(appLog)
    throw error
  }
}

/** One COPY of the file into the empty target: the baseline. */
async function rawCopy(db: pg.Client, file: string, rows: number): Promise<number> {
  const started = performance.now()
  const copy = db.query(copyFrom(`COPY ${TARGET} FROM STDIN (FORMAT csv, HEADER)`))
  await pipeline(fs.createReadStream(file), copy)
  const seconds = (performance.now() - started) / 1000
  if (copy.rowCount !== rows) throw new Error(`the raw COPY wrote ${copy.rowCount} rows, the file has ${rows}`)
  return seconds
}

const post = (app: App, route: string, body: unknown) =>
  fetch(`${app.baseUrl}${route}`, { method: 'POST', headers: { ...authFor(app.baseUrl), 'Content-Type': 'application/json' }, body: JSON.stringify(body) })

const request = (mode: 'append' | 'upsert') => ({ table: { schema: 'public', name: 'bench_load_target' }, mapping: MAPPING, mode })

/** POST …/loads to PROCESSED, in seconds; the counts must be the file's. */
async function timedLoad(app: App, imp: ImportDto, mode: 'append' | 'upsert', rows: number): Promise<number> {
  const started = performance.now()
  const res = await post(app, `/api/imports/${imp.id}/loads`, request(mode))
  if (res.status !== 202) throw new Error(`POST …/loads answered ${res.status} ${await res.text()}`)
  const { id } = (await res.json()) as { id: string }
  for (;;) {
    const load = (await (await fetch(`${app.baseUrl}/api/loads/${id}`, { headers: authFor(app.baseUrl) })).json()) as Record<string, number | string | null>
    if (load.status === 'PROCESSED') {
      const seconds = (performance.now() - started) / 1000
      const expected = mode === 'append' ? { rowsInserted: rows, rowsUpdated: 0 } : { rowsInserted: rows - Math.floor(rows / 2), rowsUpdated: Math.floor(rows / 2) }
      if (load.rowsInserted !== expected.rowsInserted || load.rowsUpdated !== expected.rowsUpdated || load.rowsLeftOut !== 0) {
        throw new Error(`the ${mode} wrote ${JSON.stringify(load)}, expected ${JSON.stringify(expected)}`)
      }
      return seconds
    }
    if (load.status !== 'QUEUED' && load.status !== 'PROCESSING') throw new Error(`the ${mode} ended ${load.status}: ${load.error}`)
    await sleep(100)
  }
}

/** POST …/loads/check of the append, in seconds. */
async function timedCheck(app: App, imp: ImportDto): Promise<number> {
  const started = performance.now()
  const res = await post(app, `/api/imports/${imp.id}/loads/check`, request('append'))
  if (res.status !== 200) throw new Error(`POST …/loads/check answered ${res.status} ${await res.text()}`)
  await res.json()
  return (performance.now() - started) / 1000
}

await runBench('bench:load', USAGE, main)
