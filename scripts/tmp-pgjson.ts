import fs from 'node:fs'
import path from 'node:path'
import { pipeline } from 'node:stream/promises'
import { Readable } from 'node:stream'
import pg from 'pg'
import { from as copyFrom } from 'pg-copy-streams'
import { parse } from 'csv-parse/sync'
import { startEmbeddedPostgres } from '../lib/db/embedded-postgres'
import { tempDir } from '../test/app-process'
const file = '/tmp/sluice-bench/bench-v3-rows-500000.csv'
const rows = parse(fs.readFileSync(file), { columns: true }) as Record<string, string>[]
const cols = Object.keys(rows[0]!)
const BATCH = 50000
const bodies: Buffer[] = []
for (let i = 0; i < rows.length; i += BATCH) bodies.push(Buffer.from(rows.slice(i, i + BATCH).map((r) => `${JSON.stringify(r)}\n`).join('')))
const dir = await tempDir('sluice-pgjson-')
const db = await startEmbeddedPostgres({ dataDir: path.join(dir, 'pg') })
const c = new pg.Client({ connectionString: db.url }); await c.connect()
const colDefs = cols.map((k) => `"${k}" text`).join(', ')
const time = async (name: string, f: () => Promise<unknown>) => { await c.query('CHECKPOINT'); const t = performance.now(); await f(); console.log(name.padEnd(40), ((performance.now() - t) / 1000).toFixed(2), 's') }
const variants: Record<string, string> = { nofilter: 'doc jsonb', typeonly: 'doc jsonb', minus: 'doc jsonb', path: 'doc jsonb', json: 'doc json' }
for (let round = 0; round < 1; round++) {
  await c.query('DROP TABLE IF EXISTS raw; CREATE TABLE raw (' + colDefs + ')')
  await time('raw COPY csv', () => pipeline(fs.createReadStream(file), c.query(copyFrom('COPY raw FROM STDIN (FORMAT csv, HEADER)'))))
  for (const [name, def] of Object.entries(variants)) {
    await c.query(`DROP TABLE IF EXISTS t; CREATE TABLE t (_r bigint GENERATED ALWAYS AS IDENTITY, ${colDefs})`)
    const keys = `ARRAY[${cols.map((k) => `'${k}'`).join(',')}]`
    const rec = cols.map((k) => `"${k}" text`).join(', ')
    const docExpr = 'doc'
    const filter = { nofilter: 'true', typeonly: `jsonb_typeof(doc) = 'object'`, minus: `doc - ${keys}::text[] = '{}'::jsonb`, path: `NOT doc @? '$.* ? (@.type() == "object" || @.type() == "array")'`, json: 'true' }[name]
    const fn = name === 'json' ? 'json_to_record' : 'jsonb_to_record'
    let stagingOnly = 0
    await time(`staged ${name}`, async () => {
      for (const body of bodies) {
        await c.query('BEGIN')
        await c.query(`CREATE TEMP TABLE s (${def}) ON COMMIT DROP`)
        const t0 = performance.now()
        await pipeline(Readable.from([body]), c.query(copyFrom(`COPY s (doc) FROM STDIN (FORMAT csv, DELIMITER E'\\x1f', QUOTE E'\\x1e')`)))
        stagingOnly += performance.now() - t0
        const r = await c.query(`INSERT INTO t (${cols.map((k) => `"${k}"`).join(',')}) SELECT r.* FROM s, ${fn}(doc) AS r(${rec}) WHERE ${filter}`)
        if (r.rowCount !== BATCH) throw new Error(String(r.rowCount))
        await c.query('COMMIT')
      }
    })
    console.log('   of which staging COPY', (stagingOnly / 1000).toFixed(2))
  }
}
await c.end(); await db.stop()
