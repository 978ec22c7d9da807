// npx tsx scripts/bench/table-layouts.ts [--rows 4000000] [--runs 2]
//
// The measurements behind the parallel import's table layout (lib/imports/import-table.ts):
// how long PostgreSQL takes to load the same file into each layout the import could write, one
// COPY or two at once (the two halves of the file, split at a record boundary). Prints each
// layout's time as a ratio to one COPY into a plain typed table, made beforehand (the bench's
// baseline). Run it on an idle machine; compare ratios, not times.
import fs from 'node:fs'
import fsp from 'node:fs/promises'
import os from 'node:os'
import path from 'node:path'
import { pipeline } from 'node:stream/promises'
import pg from 'pg'
import { from as copyFrom } from 'pg-copy-streams'
import { HEADER } from '../../lib/csv/generate'
import { sniffCsv } from '../../lib/csv/sniff'
import { startEmbeddedPostgres } from '../../lib/db/embedded-postgres'
import { findRecordsEnd } from '../../lib/imports/record-boundaries'
import { ensureCsv } from './fixture'
import { countFlag, median, parseFlags } from './harness'

const values = parseFlags({ rows: { type: 'string' }, runs: { type: 'string' } })
const rows = countFlag('--rows', values.rows, 4_000_000)
const runs = countFlag('--runs', values.runs, 2)

type Range = { start: number; end: number }
type Layout = { name: string; lanes: 1 | 2; run: (connect: () => Promise<pg.Client>, halves: Range[], whole: Range) => Promise<void> }

const columns = (types: string[]) => HEADER.split(',').map((n, i) => `"${n}" ${types[i]}`)

async function copyRange(client: pg.Client, file: string, sql: string, range: Range) {
  const copy = client.query(copyFrom(sql))
  await pipeline(fs.createReadStream(file, { start: range.start, end: range.end - 1, highWaterMark: 1 << 20 }), copy)
}

async function withConnection<T>(connect: () => Promise<pg.Client>, fn: (c: pg.Client) => Promise<T>): Promise<T> {
  const c = await connect()
  try {
    return await fn(c)
  } finally {
    await c.end()
  }
}

async function main() {
  const fixture = await ensureCsv({ rows })
  const sample = Buffer.alloc(4 << 20)
  const fd = fs.openSync(fixture.file, 'r')
  const got = fs.readSync(fd, sample, 0, sample.length, 0)
  const { types } = sniffCsv(sample.subarray(0, got), false)
  const headerEnd = sample.indexOf(0x0a) + 1
  // Split at the first record boundary past the middle, found by scanning whole records from the header on.
  let split = headerEnd
  const window = Buffer.alloc(16 << 20)
  while (split < fixture.size / 2) {
    const n = fs.readSync(fd, window, 0, window.length, split)
    split += findRecordsEnd(window.subarray(0, n), 1, false).end
  }
  fs.closeSync(fd)
  const whole = { start: headerEnd, end: fixture.size }
  const halves = [
    { start: headerEnd, end: split },
    { start: split, end: fixture.size },
  ]
  console.log(`${fixture.file}: ${(fixture.size / 1e6).toFixed(0)} MB, types ${types.join(', ')}`)

  const dir = await fsp.mkdtemp(path.join(os.tmpdir(), 'sluice-layouts-'))
  await fsp.chmod(dir, 0o755)
  const db = await startEmbeddedPostgres({ dataDir: path.join(dir, 'data') })
  const connect = async () => {
    const c = new pg.Client({ connectionString: db.url })
    await c.connect()
    return c
  }
  const cols = columns(types)
  const opts = `(FORMAT csv)`
  // What lib/imports/run-import.ts adds for a file with typed columns: empty values are NULL, and a value that does not fit skips its row with a NOTICE.
  const typedList = HEADER.split(',').filter((_, i) => types[i] !== 'text').map((n) => `"${n}"`).join(', ')
  const importOptions = `(FORMAT csv, FORCE_NULL (${typedList}), ON_ERROR ignore, LOG_VERBOSITY verbose)`
  const list = HEADER.split(',').map((n) => `"${n}"`).join(', ')
  /** One COPY of the whole file on one connection into a table made first. */
  const oneCopy = (name: string, createSql: string, copySql: string): Layout => ({
    name,
    lanes: 1,
    run: async (connect, _h, whole) => {
      const c = await connect()
      await c.query(createSql)
      await copyRange(c, fixture.file, copySql, whole)
      await c.end()
    },
  })
  const layouts: Layout[] = [
    oneCopy('one COPY, plain typed table (baseline)', `CREATE TABLE t (${cols.join(', ')})`, `COPY t FROM STDIN ${opts}`),
    oneCopy(
      'one COPY, + identity row number (CACHE 1000)',
      `CREATE TABLE t (_row bigint GENERATED ALWAYS AS IDENTITY (CACHE 1000), ${cols.join(', ')})`,
      `COPY t (${list}) FROM STDIN ${opts}`,
    ),
    oneCopy(
      "one COPY, with the import's options (FORCE_NULL of the typed columns, ON_ERROR ignore, LOG_VERBOSITY verbose)",
      `CREATE TABLE t (${cols.join(', ')})`,
      `COPY t FROM STDIN ${importOptions}`,
    ),
    {
      name: 'one COPY FREEZE into a table made in its transaction',
      lanes: 1,
      run: async (connect, _h, whole) => {
        const c = await connect()
        await c.query('BEGIN')
        await c.query(`CREATE TABLE t (${cols.join(', ')})`)
        await copyRange(c, fixture.file, `COPY t FROM STDIN (FORMAT csv, FREEZE)`, whole)
        await c.query('COMMIT')
        await c.end()
      },
    },
    {
      name: 'two COPYs into one plain typed table',
      lanes: 2,
      run: async (connect, halves) => {
        await withConnection(connect, (c) => c.query(`CREATE TABLE t (${cols.join(', ')})`))
        await onEachHalf(connect, halves, (l, h) => copyRange(l, fixture.file, `COPY t FROM STDIN ${opts}`, h))
      },
    },
    {
      name: 'two COPYs, + shared identity row number (CACHE 1000)',
      lanes: 2,
      run: async (connect, halves) => {
        await withConnection(connect, (c) => c.query(`CREATE TABLE t (_row bigint GENERATED ALWAYS AS IDENTITY (CACHE 1000), ${cols.join(', ')})`))
        await onEachHalf(connect, halves, (l, h) => copyRange(l, fixture.file, `COPY t (${list}) FROM STDIN ${opts}`, h))
      },
    },
    {
      name: 'two COPYs FREEZE, each into a partition made in its transaction, attached at its end',
      lanes: 2,
      run: (connect, halves) => intoPartitions(connect, halves, { rowNumbers: false }),
    },
    {
      name: 'the same, + a row number from a sequence of each partition (CACHE 1000)',
      lanes: 2,
      run: (connect, halves) => intoPartitions(connect, halves, { rowNumbers: true }),
    },
    {
      name: "the same, with the import's COPY options",
      lanes: 2,
      run: (connect, halves) => intoPartitions(connect, halves, { rowNumbers: true, options: importOptions.replace('(', '(FREEZE, ') }),
    },
  ]

  /** Each half on a connection of its own, at once. */
  async function onEachHalf(connect: () => Promise<pg.Client>, halves: Range[], lane: (l: pg.Client, h: Range, i: number) => Promise<unknown>) {
    await Promise.all(halves.map((h, i) => withConnection(connect, (l) => lane(l, h, i))))
  }
  async function intoPartitions(connect: () => Promise<pg.Client>, halves: Range[], { rowNumbers, options = '(FORMAT csv, FREEZE)' }: { rowNumbers: boolean; options?: string }) {
    const row = rowNumbers ? '_row bigint NOT NULL, ' : ''
    await withConnection(connect, (c) => c.query(`CREATE TABLE t (_batch bigint NOT NULL, ${row}${cols.join(', ')}) PARTITION BY RANGE (_batch)`))
    await onEachHalf(connect, halves, async (l, h, i) => {
      await l.query('BEGIN')
      if (rowNumbers) await l.query(`CREATE SEQUENCE t_${i}_seq CACHE 1000`)
      const rowDefault = rowNumbers ? `_row bigint NOT NULL DEFAULT nextval('t_${i}_seq'), ` : ''
      await l.query(`CREATE TABLE t_${i} (_batch bigint NOT NULL DEFAULT ${h.start} CHECK (_batch = ${h.start}), ${rowDefault}${cols.join(', ')})`)
      await copyRange(l, fixture.file, `COPY t_${i} (${list}) FROM STDIN ${options}`, h)
      await l.query(`ALTER TABLE t ATTACH PARTITION t_${i} FOR VALUES FROM (${h.start}) TO (${h.start + 1})`)
      await l.query('COMMIT')
    })
  }

  const ratios = new Map<string, number[]>()
  for (let r = 0; r < runs; r++) {
    for (const layout of layouts) {
      const admin = await connect()
      await admin.query('DROP TABLE IF EXISTS t CASCADE')
      await admin.query('DROP SEQUENCE IF EXISTS t_0_seq, t_1_seq')
      await admin.query('CHECKPOINT')
      const started = performance.now()
      await layout.run(connect, halves, whole)
      const seconds = (performance.now() - started) / 1000
      const { rows: counted } = await admin.query('SELECT count(*)::int AS n FROM t')
      await admin.end()
      const list = ratios.get(layout.name) ?? []
      list.push(seconds)
      ratios.set(layout.name, list)
      console.log(`run ${r + 1}: ${layout.name}: ${seconds.toFixed(2)} s, ${counted[0].n} rows`)
    }
  }
  const base = median(ratios.get(layouts[0]!.name)!)
  console.log('\nmedian seconds and speed against the baseline (baseline seconds / layout seconds):')
  for (const layout of layouts) {
    const s = median(ratios.get(layout.name)!)
    console.log(`${(base / s).toFixed(2)}  ${s.toFixed(2)} s  ${layout.name}`)
  }
  await db.stop()
  await fsp.rm(dir, { recursive: true, force: true })
}

main().catch((e) => {
  console.error(e)
  process.exit(1)
})
