import fs from 'node:fs/promises'
import path from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { generateCsv } from '../csv/generate'
import { appFetch, keyOfNewUser, sleep, startTestApp, type TestApp, uploadFile } from '../../test/app-process'
import { importApi } from '../../test/import-api'
import type { ImportDto } from '../imports/schemas'
import type { CheckResult, LoadDto, MappingSuggestion } from './schemas'

// Loads of an import into tables of the person's own, over HTTP against a real database with
// tables the test makes: the mapping offered, the check's counts and lines for every kind of
// problem, each mode's exact rows afterwards, and a stopped or failed load leaving the table
// exactly as it was.

let t: TestApp
const { importOf, waitFor } = importApi(() => t.app.url)

async function call(method: string, route: string, body?: unknown, key?: string): Promise<{ status: number; body: any }> {
  const init: RequestInit = { method, ...(body !== undefined && { headers: { 'Content-Type': 'application/json' }, body: JSON.stringify(body) }) }
  const res = key
    ? await fetch(`${t.app.url}${route}`, { ...init, headers: { ...(init.headers as Record<string, string>), Authorization: `Bearer ${key}` } })
    : await appFetch(`${t.app.url}${route}`, init)
  const text = await res.text()
  return { status: res.status, body: text ? JSON.parse(text) : null }
}

async function importCsv(name: string, text: string): Promise<ImportDto> {
  const file = path.join(t.dir, name)
  await fs.writeFile(file, text)
  const imp = await waitFor((await importOf(await uploadFile(t.app.url, file))).id, (i) => i.status === 'PROCESSED')
  return imp
}

/** Every row of a table, as text, in key order: what "exactly as it was" compares. */
const rowsOf = async (table: string, order = 'id') => (await t.db.query(`SELECT * FROM ${table} ORDER BY ${order}`)).rows
const hashOf = async (table: string) => (await t.db.query(`SELECT md5(string_agg(r::text, '|' ORDER BY r::text)) AS h, count(*)::int AS n FROM ${table} r`)).rows[0]

async function waitForLoad(id: string, ms = 60_000): Promise<LoadDto> {
  const deadline = Date.now() + ms
  for (;;) {
    const { body } = await call('GET', `/api/loads/${id}`)
    if (!['QUEUED', 'PROCESSING'].includes(body.status)) return body as LoadDto
    if (Date.now() > deadline) throw new Error(`load ${id} still ${body.status} after ${ms} ms`)
    await sleep(50)
  }
}

// Line 2 is fine but its id is in the table already; line 3 is fine; each of lines 4–10 has one problem.
const CUSTOMERS_CSV = [
  'Id,E-Mail,Full Name,Balance,Mood,Country,Note,Extra',
  '1,a@x.io,Ada,10.50,happy,DE,hello,x',
  '2,b@x.io,Bob,20,sad,FR,,x',
  '3,c@x.io,Carolinexxxx,5,happy,US,,x',
  '4,d@x.io,Dan,123456789012,happy,DE,,x',
  '5,e@x.io,Eve,1,angry,DE,,x',
  '6,f@x.io,,1,happy,DE,,x',
  '7,g@x.io,Gus,1,happy,ZZ,,x',
  '2,b2@x.io,Bob2,21,sad,FR,,x',
  '8,b@x.io,Ann,1,happy,DE,,x',
].join('\n') + '\n'

const CUSTOMERS_MAPPING = { id: 'id', email: 'e_mail', full_name: 'full_name', balance: 'balance', mood: 'mood', country: 'country', note: 'note' }
const customers = { schema: 'public', name: 'customers' }

let customersImport: ImportDto
let bobKey: string

beforeAll(async () => {
  // Small batches, so that a load of a few hundred KB has several to write (and can be stopped between two).
  t = await startTestApp('loads', { LOAD_SCHEMAS: 'staging', IMPORT_BATCH_BYTES: String(64 * 1024) })
  await t.db.query(`
    CREATE TYPE public.mood AS ENUM ('happy', 'sad');
    CREATE TABLE public.countries (code char(2) PRIMARY KEY);
    INSERT INTO public.countries VALUES ('DE'), ('FR'), ('US');
    CREATE TABLE public.customers (
      id bigint PRIMARY KEY,
      email text UNIQUE,
      full_name varchar(10) NOT NULL,
      balance numeric(10,2),
      mood public.mood,
      country char(2) REFERENCES public.countries (code),
      created_at timestamptz NOT NULL DEFAULT now(),
      note text);
    INSERT INTO public.customers (id, email, full_name, created_at) VALUES (1, 'old@x.io', 'Old', '2020-01-01T00:00:00Z');
    CREATE TABLE public.balances (id bigint PRIMARY KEY, email text, full_name text, balance numeric);
    CREATE TABLE public.guarded (id bigint PRIMARY KEY, note text);
    CREATE FUNCTION public.refuse_forbidden() RETURNS trigger LANGUAGE plpgsql AS $$
      BEGIN IF NEW.note = 'forbidden' THEN RAISE EXCEPTION 'the note % is refused', NEW.note; END IF; RETURN NEW; END $$;
    CREATE TRIGGER refuse_forbidden BEFORE INSERT ON public.guarded FOR EACH ROW EXECUTE FUNCTION public.refuse_forbidden();
    CREATE SCHEMA staging;
    CREATE TABLE staging.people (person_id bigint PRIMARY KEY, label text, mail text);
  `)
  customersImport = await importCsv('customers.csv', CUSTOMERS_CSV)

  bobKey = await keyOfNewUser(t.app.url, { email: 'bob@sluice.test', password: 'bob-password-123', name: 'Bob' })
}, 120_000)

afterAll(async () => {
  await t?.stop()
})

describe('the mapping', () => {
  it("matches the table's columns by name ignoring case, spaces, _ and -, lists what is skipped, and describes the table", async () => {
    const { status, body } = await call('GET', `/api/imports/${customersImport.id}/loads/mapping?table=public.customers`)
    expect(status).toBe(200)
    const suggestion = body as MappingSuggestion
    expect(suggestion.mapping).toEqual([
      { column: 'id', source: 'id', how: 'name' },
      { column: 'email', source: 'e_mail', how: 'name' },
      { column: 'full_name', source: 'full_name', how: 'name' },
      { column: 'balance', source: 'balance', how: 'name' },
      { column: 'mood', source: 'mood', how: 'name' },
      { column: 'country', source: 'country', how: 'name' },
      { column: 'created_at', source: null, how: null },
      { column: 'note', source: 'note', how: 'name' },
    ])
    expect(suggestion.skipped).toEqual(['extra'])
    expect(suggestion.target.columns.map((c) => [c.name, c.type, c.notNull, c.key])).toEqual([
      ['id', 'bigint', true, 'primary'],
      ['email', 'text', false, 'unique'],
      ['full_name', 'character varying(10)', true, null],
      ['balance', 'numeric(10,2)', false, null],
      ['mood', 'public.mood', false, null],
      ['country', 'character(2)', false, null],
      ['created_at', 'timestamp with time zone', true, null],
      ['note', 'text', false, null],
    ])
    expect(suggestion.target.columns.find((c) => c.name === 'created_at')!.default).toBe('now()')
    expect(suggestion.target.keys).toEqual([
      { name: 'customers_pkey', primary: true, columns: ['id'] },
      { name: 'customers_email_key', primary: false, columns: ['email'] },
    ])
  })

  it('offers a similar name as a guess, then the mapping used last for the same table and headers', async () => {
    const first = (await call('GET', `/api/imports/${customersImport.id}/loads/mapping?table=staging.people`)).body as MappingSuggestion
    expect(first.mapping).toEqual([
      { column: 'person_id', source: null, how: null },
      { column: 'label', source: null, how: null },
      { column: 'mail', source: 'e_mail', how: 'guess' },
    ])
    const started = await call('POST', `/api/imports/${customersImport.id}/loads`, {
      table: { schema: 'staging', name: 'people' },
      mapping: { person_id: 'id', label: 'full_name', mail: null },
      mode: 'append',
    })
    expect(started.status).toBe(202)
    await waitForLoad(started.body.id)
    const again = (await call('GET', `/api/imports/${customersImport.id}/loads/mapping?table=staging.people`)).body as MappingSuggestion
    expect(again.mapping).toEqual([
      { column: 'person_id', source: 'id', how: 'remembered' },
      { column: 'label', source: 'full_name', how: 'remembered' },
      { column: 'mail', source: 'e_mail', how: 'guess' },
    ])
  })
})

describe('the check', () => {
  it('counts every kind of problem with its lines and reasons, and the effect, writing nothing', async () => {
    const before = await hashOf('public.customers')
    const { status, body } = await call('POST', `/api/imports/${customersImport.id}/loads/check`, { table: customers, mapping: CUSTOMERS_MAPPING, mode: 'append' })
    expect(status).toBe(200)
    const check = body as CheckResult
    const brief = check.problems.map((p) => ({ kind: p.kind, column: p.column, rows: p.rows, examples: p.examples.map((e) => [e.line, e.value, e.reason]) }))
    expect(brief).toEqual([
      { kind: 'existing-key', column: 'id', rows: 1, examples: [[2, '1', 'the table has a row with this key already']] },
      { kind: 'duplicate-key', column: 'id', rows: 1, examples: [[9, '2', 'the same key as line 3, which goes in']] },
      { kind: 'duplicate-key', column: 'email', rows: 1, examples: [[10, 'b@x.io', 'the same key as line 3, which goes in']] },
      { kind: 'type', column: 'full_name', rows: 1, examples: [[4, 'Carolinexxxx', 'value too long for type character varying(10)']] },
      { kind: 'type', column: 'balance', rows: 1, examples: [[5, '123456789012', 'numeric field overflow']] },
      { kind: 'type', column: 'mood', rows: 1, examples: [[6, 'angry', 'invalid input value for enum public.mood: "angry"']] },
      { kind: 'missing', column: 'full_name', rows: 1, examples: [[7, null, 'no value, and the column is NOT NULL without a default']] },
      { kind: 'foreign-key', column: 'country', rows: 1, examples: [[8, 'ZZ', 'no row of public.countries has this code (customers_country_fkey)']] },
    ].sort((a, b) => a.examples[0]![0]! as number - (b.examples[0]![0]! as number)))
    expect(check).toMatchObject({ rows: 9, rowsLeftOut: 8, rowsSuperseded: 0, effect: { insert: 1, update: 0, unchanged: 0, delete: 0 }, blocked: false })
    expect(await hashOf('public.customers')).toEqual(before)
  })
  it("tells a row's line past rejected lines and quoted line breaks, and only its range of lines past a blank line", async () => {
    const request = { table: { schema: 'public', name: 'guarded' }, mapping: { id: 'id', note: 'note' }, mode: 'append' }
    /** The check of a file of `text`: each problem's kind and its examples' line, range and value. */
    const examplesOf = async (name: string, text: string, rejected = 0) => {
      const imp = await importCsv(name, text)
      expect(imp.rowsRejected).toBe(rejected)
      const check = (await call('POST', `/api/imports/${imp.id}/loads/check`, request)).body as CheckResult
      return check.problems.map((p) => [p.kind, p.examples.map((e) => [e.line, e.lines, e.value])])
    }
    expect(await examplesOf('ragged.csv', 'id,note\n1,fine\n2\nx,fine\n', 1)).toEqual([['type', [[4, null, 'x']]]])
    expect(await examplesOf('quoted.csv', 'id,note\n1,"two\nlines"\ny,fine\n')).toEqual([['type', [[4, null, 'y']]]])
    // CRLF, a record on lines 2–3, a rejected one (three fields) on lines 4–5: z is on line 6.
    expect(await examplesOf('mixed.csv', 'id,note\r\n1,"a\r\nb"\r\n2,"x","ragged\r\nrecord"\r\nz,fine\r\n', 1)).toEqual([['type', [[6, null, 'z']]]])
    // A blank line is in no record: the lines no longer add up, so only the range is told.
    expect(await examplesOf('blank.csv', 'id,note\n1,"a\nb"\n\nq,fine\n')).toEqual([['type', [[null, [2, 5], 'q']]]])
  })
})

describe('a load', () => {
  it('with misfits blocking writes nothing and says why', async () => {
    const before = await hashOf('public.customers')
    const started = await call('POST', `/api/imports/${customersImport.id}/loads`, { table: customers, mapping: CUSTOMERS_MAPPING, mode: 'append', misfits: 'block' })
    expect(started.status).toBe(202)
    const load = await waitForLoad(started.body.id)
    expect(load.status).toBe('FAILED')
    expect(load.error).toMatch(/^8 row\(s\) cannot go in, and this load blocks on them: /)
    expect(await hashOf('public.customers')).toEqual(before)
  })

  it('appends the rows that fit and lists each row left out with its line, column and reason', async () => {
    const started = await call('POST', `/api/imports/${customersImport.id}/loads`, { table: customers, mapping: CUSTOMERS_MAPPING, mode: 'append' })
    const load = await waitForLoad(started.body.id)
    expect(load).toMatchObject({ status: 'PROCESSED', rowsTotal: 1, rowsDone: 1, rowsInserted: 1, rowsUpdated: 0, rowsLeftOut: 8, error: null })
    const rows = await rowsOf('public.customers')
    expect(rows.map((r) => [r.id, r.email, r.full_name, r.balance, r.mood, r.country, r.note])).toEqual([
      ['1', 'old@x.io', 'Old', null, null, null, null],
      ['2', 'b@x.io', 'Bob', '20.00', 'sad', 'FR', null],
    ])
    const leftOut = (await call('GET', `/api/loads/${load.id}/left-out`)).body.leftOut as Array<{ line: number; column: string; reason: string }>
    expect(leftOut.map((r) => [r.line, r.column])).toEqual([
      [2, 'id'],
      [4, 'full_name'],
      [5, 'balance'],
      [6, 'mood'],
      [7, 'full_name'],
      [8, 'country'],
      [9, 'id'],
      [10, 'email'],
    ])
  })

  it("casts typed columns straight to the table's types with the values their text gives, and a key holding the primary key repeats none of its problems", async () => {
    // Its insert takes a fifth of a second at least: the load's time must say so (it said 0, the transaction's start).
    await t.db.query(`CREATE TABLE public.typed (id integer PRIMARY KEY, amount numeric(6,2), at timestamptz, label text, UNIQUE (label, id));
      CREATE FUNCTION public.pause() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN PERFORM pg_sleep(0.2); RETURN NULL; END $$;
      CREATE TRIGGER pause AFTER INSERT ON public.typed FOR EACH STATEMENT EXECUTE FUNCTION public.pause();`)
    const imp = await importCsv('typed.csv', 'id,amount,day,label\n1,1234.567,2024-01-31,a\n2,12345.6,2024-02-29,b\n3,-0.005,2024-03-01,c\n1,5,2024-01-01,a\n')
    expect(imp.columns.map((c) => c.type)).toEqual(['bigint', 'numeric', 'date', 'text'])
    const request = { table: { schema: 'public', name: 'typed' }, mapping: { id: 'id', amount: 'amount', at: 'day', label: 'label' }, mode: 'append' }
    const check = (await call('POST', `/api/imports/${imp.id}/loads/check`, request)).body as CheckResult
    expect(check.problems.map((p) => [p.kind, p.column, p.rows, p.examples.map((e) => e.line)])).toEqual([
      ['type', 'amount', 1, [3]],
      ['duplicate-key', 'id', 1, [5]],
    ])
    const load = await waitForLoad((await call('POST', `/api/imports/${imp.id}/loads`, request)).body.id)
    expect(load).toMatchObject({ status: 'PROCESSED', rowsInserted: 2, rowsLeftOut: 2 })
    expect(Date.parse(load.finishedAt!) - Date.parse(load.startedAt!)).toBeGreaterThanOrEqual(200)
    const { rows } = await t.db.query(
      `SELECT id, amount::text, at = '2024-01-31'::timestamptz AS first_day, at = '2024-03-01'::timestamptz AS third_day, label FROM public.typed ORDER BY id`,
    )
    expect(rows).toEqual([
      { id: 1, amount: '1234.57', first_day: true, third_day: false, label: 'a' },
      { id: 3, amount: '-0.01', first_day: false, third_day: true, label: 'c' },
    ])
  })

  it('upserts on the primary key: the last of two lines with one key wins, unchanged rows are counted and not written', async () => {
    await t.db.query("INSERT INTO public.balances VALUES (1, 'a@x.io', 'Ada', 10.50), (2, 'b@x.io', 'Bob', 1)")
    const imp = await importCsv('balances.csv', 'id,email,full_name,balance\n1,a@x.io,Ada,10.50\n2,b@x.io,Bob,20\n3,c@x.io,Cy,5\n2,b@x.io,Bobby,22\n')
    const request = { table: { schema: 'public', name: 'balances' }, mapping: { id: 'id', email: 'email', full_name: 'full_name', balance: 'balance' }, mode: 'upsert' }
    const check = (await call('POST', `/api/imports/${imp.id}/loads/check`, request)).body as CheckResult
    expect(check).toMatchObject({ rows: 4, rowsLeftOut: 0, rowsSuperseded: 1, effect: { insert: 1, update: 1, unchanged: 1 } })
    expect(check.problems).toEqual([
      { kind: 'duplicate-key', column: 'id', rows: 1, examples: [{ line: 3, lines: null, column: 'id', value: '2', reason: 'the same key as line 5, which wins (duplicates: last)' }] },
    ])
    const xminBefore = (await t.db.query('SELECT xmin::text FROM public.balances WHERE id = 1')).rows[0].xmin
    const load = await waitForLoad((await call('POST', `/api/imports/${imp.id}/loads`, request)).body.id)
    expect(load).toMatchObject({ status: 'PROCESSED', rowsInserted: 1, rowsUpdated: 1, rowsUnchanged: 1, rowsLeftOut: 0 })
    expect((await rowsOf('public.balances')).map((r) => [r.id, r.full_name, r.balance])).toEqual([
      ['1', 'Ada', '10.50'],
      ['2', 'Bobby', '22'],
      ['3', 'Cy', '5'],
    ])
    expect((await t.db.query('SELECT xmin::text FROM public.balances WHERE id = 1')).rows[0].xmin).toBe(xminBefore)

    // The first line wins instead: Bob's line 3 comes back.
    const first = await waitForLoad((await call('POST', `/api/imports/${imp.id}/loads`, { ...request, duplicates: 'first' })).body.id)
    expect(first).toMatchObject({ status: 'PROCESSED', rowsInserted: 0, rowsUpdated: 1, rowsUnchanged: 2 })
    expect((await rowsOf('public.balances')).map((r) => [r.id, r.full_name, r.balance])).toEqual([
      ['1', 'Ada', '10.50'],
      ['2', 'Bob', '20'],
      ['3', 'Cy', '5'],
    ])

    // Replace: the table is emptied and loaded in one step; the repeated key's second line is left out.
    await t.db.query("INSERT INTO public.balances VALUES (9, 'z@x.io', 'Zed', 0)")
    const replaced = await waitForLoad((await call('POST', `/api/imports/${imp.id}/loads`, { ...request, mode: 'replace' })).body.id)
    expect(replaced).toMatchObject({ status: 'PROCESSED', rowsDeleted: 4, rowsInserted: 3, rowsLeftOut: 1 })
    expect((await rowsOf('public.balances')).map((r) => [r.id, r.full_name])).toEqual([
      ['1', 'Ada'],
      ['2', 'Bob'],
      ['3', 'Cy'],
    ])
  })

  it('that a trigger refuses fails with its message and leaves the table exactly as it was', async () => {
    await t.db.query("INSERT INTO public.guarded VALUES (100, 'before')")
    const before = await hashOf('public.guarded')
    const imp = await importCsv('guarded.csv', 'id,note\n1,fine\n2,forbidden\n3,fine\n')
    const load = await waitForLoad((await call('POST', `/api/imports/${imp.id}/loads`, { table: { schema: 'public', name: 'guarded' }, mapping: { id: 'id', note: 'note' }, mode: 'append' })).body.id)
    expect(load.status).toBe('FAILED')
    expect(load.error).toContain('the note forbidden is refused')
    expect(await hashOf('public.guarded')).toEqual(before)
  })

  it('stopped mid-way, or its import deleted mid-way, leaves the table exactly as it was', async () => {
    // A slow statement trigger, so that the load is still running when it is stopped.
    await t.db.query(`CREATE TABLE public.slow (id bigint, email text);
      INSERT INTO public.slow VALUES (-1, 'kept@x.io');
      CREATE FUNCTION public.slowly() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN PERFORM pg_sleep(0.3); RETURN NULL; END $$;
      CREATE TRIGGER slowly AFTER INSERT ON public.slow FOR EACH STATEMENT EXECUTE FUNCTION public.slowly();`)
    const before = await hashOf('public.slow')
    const file = path.join(t.dir, 'many.csv')
    await generateCsv({ out: file, bytes: 900 * 1024, seed: 7 })
    const imp = await waitFor((await importOf(await uploadFile(t.app.url, file))).id, (i) => i.status === 'PROCESSED')
    const started = await call('POST', `/api/imports/${imp.id}/loads`, { table: { schema: 'public', name: 'slow' }, mapping: { id: 'id', email: 'email' }, mode: 'append' })
    for (let i = 0; i < 600; i++) {
      const { body } = await call('GET', `/api/loads/${started.body.id}`)
      if (body.status === 'PROCESSING' && body.rowsDone > 0) break
      await sleep(20)
    }
    const stopped = await call('POST', `/api/loads/${started.body.id}/stop`)
    expect(stopped.status).toBe(200)
    expect(stopped.body.status).toBe('STOPPED')
    const load = await waitForLoad(started.body.id)
    expect(load.status).toBe('STOPPED')
    // The worker has let go of the table: nothing it wrote is left.
    for (let i = 0; i < 100 && (await t.db.query("SELECT 1 FROM pg_stat_activity WHERE application_name = 'sluice-load:' || $1", [load.id])).rowCount; i++) await sleep(50)
    expect(await hashOf('public.slow')).toEqual(before)
    expect((await call('POST', `/api/loads/${load.id}/stop`)).status).toBe(409)

    // Deleting the import while it loads again: the load rolls back and goes with it.
    const again = await call('POST', `/api/imports/${imp.id}/loads`, { table: { schema: 'public', name: 'slow' }, mapping: { id: 'id', email: 'email' }, mode: 'append' })
    for (let i = 0; i < 600; i++) {
      const { body } = await call('GET', `/api/loads/${again.body.id}`)
      if (body.status === 'PROCESSING' && body.rowsDone > 0) break
      await sleep(20)
    }
    expect((await call('DELETE', `/api/imports/${imp.id}`)).status).toBe(204)
    expect((await call('GET', `/api/loads/${again.body.id}`)).status).toBe(404)
    for (let i = 0; i < 100 && (await t.db.query("SELECT 1 FROM pg_stat_activity WHERE application_name = 'sluice-load:' || $1", [again.body.id])).rowCount; i++) await sleep(50)
    expect(await hashOf('public.slow')).toEqual(before)
  }, 120_000)
})

describe('who may load where', () => {
  it("keeps a non-admin to LOAD_SCHEMAS, never offers Sluice's own tables, and hides another person's imports and loads", async () => {
    const adminTables = (await call('GET', '/api/load-targets')).body.tables.map((x: { schema: string; name: string }) => `${x.schema}.${x.name}`)
    expect(adminTables).toEqual(['public.balances', 'public.countries', 'public.customers', 'public.guarded', 'public.slow', 'public.typed', 'staging.people'])
    const bobTables = (await call('GET', '/api/load-targets', undefined, bobKey)).body.tables.map((x: { schema: string; name: string }) => `${x.schema}.${x.name}`)
    expect(bobTables).toEqual(['staging.people'])

    const bobImport = await (async () => {
      const body = Buffer.from('id,label\n1,one\n')
      const res = await fetch(`${t.app.url}/api/uploads`, {
        method: 'POST',
        headers: { Authorization: `Bearer ${bobKey}`, 'Tus-Resumable': '1.0.0', 'Upload-Length': String(body.length), 'Upload-Metadata': `filename ${Buffer.from('bob.csv').toString('base64')}`, 'Content-Type': 'application/offset+octet-stream' },
        body,
      })
      expect(res.status).toBe(201)
      const uploadId = res.headers.get('Location')!.split('/').pop()!
      for (let i = 0; i < 500; i++) {
        const list = (await call('GET', `/api/imports?upload=${uploadId}`, undefined, bobKey)).body.imports as ImportDto[]
        if (list[0]?.status === 'PROCESSED') return list[0]
        await sleep(20)
      }
      throw new Error("Bob's import did not finish")
    })()

    const toPublic = await call('POST', `/api/imports/${bobImport.id}/loads/check`, { table: customers, mapping: { id: 'id' }, mode: 'append' }, bobKey)
    expect(toPublic.status).toBe(403)
    expect(toPublic.body.error.message).toBe('You may not load into the schema public: you may load into staging')
    const toSluice = await call('POST', `/api/imports/${customersImport.id}/loads/check`, { table: { schema: 'sluice', name: 'users' }, mapping: { id: 'id' }, mode: 'append' })
    expect(toSluice.status).toBe(403)
    expect((await call('GET', `/api/imports/${customersImport.id}/loads/mapping?table=sluice.users`)).status).toBe(403)
    const missing = await call('POST', `/api/imports/${bobImport.id}/loads/check`, { table: { schema: 'staging', name: 'nothing' }, mapping: { id: 'id' }, mode: 'append' }, bobKey)
    expect(missing.status).toBe(404)

    const bobs = await call('POST', `/api/imports/${bobImport.id}/loads`, { table: { schema: 'staging', name: 'people' }, mapping: { person_id: 'id', label: 'label' }, mode: 'upsert' }, bobKey)
    expect(bobs.status).toBe(202)
    expect((await waitForLoad(bobs.body.id)).status).toBe('PROCESSED')
    expect((await rowsOf('staging.people', 'person_id')).find((r) => r.person_id === '1')).toMatchObject({ label: 'one' })

    // Someone else's import and load answer as if they did not exist.
    expect((await call('POST', `/api/imports/${customersImport.id}/loads/check`, { table: { schema: 'staging', name: 'people' }, mapping: { person_id: 'id' }, mode: 'append' }, bobKey)).status).toBe(404)
    expect((await call('GET', `/api/imports/${customersImport.id}/loads/mapping?table=staging.people`, undefined, bobKey)).status).toBe(404)
    expect((await call('POST', `/api/imports/${customersImport.id}/loads`, { table: { schema: 'staging', name: 'people' }, mapping: { person_id: 'id' }, mode: 'append' }, bobKey)).status).toBe(404)
    const adminsLoad = (await call('GET', `/api/imports/${customersImport.id}/loads`)).body.loads[0] as LoadDto
    expect((await call('GET', `/api/loads/${adminsLoad.id}`, undefined, bobKey)).status).toBe(404)
    expect((await call('POST', `/api/loads/${adminsLoad.id}/stop`, undefined, bobKey)).status).toBe(404)
    expect((await call('GET', `/api/loads/${adminsLoad.id}/left-out`, undefined, bobKey)).status).toBe(404)
    expect((await call('GET', `/api/loads/${bobs.body.id}`)).status).toBe(200) // an admin sees everyone's
  })

  it('answers a mapping that cannot work with 422 and what to change', async () => {
    const check = (body: unknown) => call('POST', `/api/imports/${customersImport.id}/loads/check`, body)
    const unknownColumn = await check({ table: customers, mapping: { nope: 'id' }, mode: 'append' })
    expect([unknownColumn.status, unknownColumn.body.error.message]).toEqual([422, 'public.customers has no column "nope"'])
    const unknownSource = await check({ table: customers, mapping: { id: 'nope', full_name: 'full_name' }, mode: 'append' })
    expect(unknownSource.status).toBe(422)
    expect(unknownSource.body.error.message).toMatch(/^The import has no column "nope" \(mapped to id\): its columns are id, e_mail, /)
    const required = await check({ table: customers, mapping: { id: 'id' }, mode: 'append' })
    expect([required.status, required.body.error.message]).toEqual([422, 'full_name is NOT NULL without a default: map a column of the file to it'])
    const badKey = await check({ table: customers, mapping: CUSTOMERS_MAPPING, mode: 'upsert', key: ['full_name'] })
    expect([badKey.status, badKey.body.error.message]).toEqual([422, '(full_name) is not the primary key or a unique index of public.customers: its keys are (id), (email)'])
  })
})

describe('attacks', () => {
  it('a table and columns named like SQL load as they are named', async () => {
    await t.db.query(`CREATE TABLE public."Odd ""Table""; DROP TABLE public.customers; --" ("select" bigint PRIMARY KEY, "a-b c" text)`)
    const imp = await importCsv('odd.csv', 'select,a-b c\n1,one\n2,two\n')
    const table = { schema: 'public', name: 'Odd "Table"; DROP TABLE public.customers; --' }
    const suggestion = (await call('GET', `/api/imports/${imp.id}/loads/mapping?table=${encodeURIComponent(`public.${table.name}`)}`)).body as MappingSuggestion
    expect(suggestion.mapping.map((m) => [m.column, m.source, m.how])).toEqual([
      ['select', 'select', 'name'],
      ['a-b c', 'a_b_c', 'name'],
    ])
    const load = await waitForLoad((await call('POST', `/api/imports/${imp.id}/loads`, { table, mapping: { select: 'select', 'a-b c': 'a_b_c' }, mode: 'upsert' })).body.id)
    expect(load).toMatchObject({ status: 'PROCESSED', rowsInserted: 2 })
    expect((await t.db.query(`SELECT * FROM public."Odd ""Table""; DROP TABLE public.customers; --" ORDER BY 1`)).rows).toEqual([
      { select: '1', 'a-b c': 'one' },
      { select: '2', 'a-b c': 'two' },
    ])
    expect((await t.db.query("SELECT to_regclass('public.customers') IS NOT NULL AS kept")).rows[0].kept).toBe(true)
  })

  it("a batch session's records load once it is finished, and one still open is refused with 409", async () => {
    const session = (await call('POST', '/api/sessions', { name: 'notes', columns: ['id', 'note'] })).body as { id: string; importId: string }
    expect((await call('POST', `/api/sessions/${session.id}/batches`, { sequence: 0, records: [{ id: '7', note: 'seven' }, { id: 'x', note: 'bad' }] })).status).toBe(200)
    const request = { table: { schema: 'public', name: 'guarded' }, mapping: { id: 'id', note: 'note' }, mode: 'append' }
    const open = await call('POST', `/api/imports/${session.importId}/loads/check`, request)
    expect([open.status, open.body.error.message]).toEqual([409, 'This import is receiving: only a processed import can be loaded into a table'])
    expect((await call('POST', `/api/sessions/${session.id}/finish`, { totalRecords: 2 })).status).toBe(200)
    await waitFor(session.importId, (i) => i.status === 'PROCESSED')
    const load = await waitForLoad((await call('POST', `/api/imports/${session.importId}/loads`, request)).body.id)
    expect(load).toMatchObject({ status: 'PROCESSED', rowsInserted: 1, rowsLeftOut: 1 })
    // Records of a batch session have no line in a file.
    expect((await call('GET', `/api/loads/${load.id}/left-out`)).body.leftOut).toEqual([{ line: null, column: 'id', value: 'x', reason: 'invalid input syntax for type bigint: "x"' }])
    expect((await t.db.query('SELECT note FROM public.guarded WHERE id = 7')).rows).toEqual([{ note: 'seven' }])
  })

  it('two appends of the same rows racing into one table put them in once', async () => {
    await t.db.query('CREATE TABLE public.raced (id bigint PRIMARY KEY, note text)')
    const imp = await importCsv('raced.csv', 'id,note\n1,a\n2,b\n3,c\n')
    const request = { table: { schema: 'public', name: 'raced' }, mapping: { id: 'id', note: 'note' }, mode: 'append' }
    const started = await Promise.all([call('POST', `/api/imports/${imp.id}/loads`, request), call('POST', `/api/imports/${imp.id}/loads`, request)])
    const loads = await Promise.all(started.map((s) => waitForLoad(s.body.id)))
    expect((await rowsOf('public.raced')).map((r) => r.id)).toEqual(['1', '2', '3'])
    const winner = loads.find((l) => l.status === 'PROCESSED' && l.rowsInserted === 3)
    expect(winner).toBeDefined()
    const other = loads.find((l) => l !== winner)!
    // The second found the keys there at its check (all left out), or met them at its insert.
    if (other.status === 'PROCESSED') expect(other).toMatchObject({ rowsInserted: 0, rowsLeftOut: 3 })
    else expect(other).toMatchObject({ status: 'FAILED', errorLine: 2 })
  })

  it('a request body far too large is refused with 413 and nothing is loaded', async () => {
    const mapping = Object.fromEntries(Array.from({ length: 60_000 }, (_, i) => [`column_${i}`, `column_${i}`]))
    const loadsBefore = (await call('GET', `/api/imports/${customersImport.id}/loads`)).body.loads.length
    const res = await call('POST', `/api/imports/${customersImport.id}/loads`, { table: customers, mapping, mode: 'append' })
    expect(res.status).toBe(413)
    expect((await call('GET', `/api/imports/${customersImport.id}/loads`)).body.loads).toHaveLength(loadsBefore)
  })

  it('the left-out rows download as CSV, every one, in file order', async () => {
    const load = ((await call('GET', `/api/imports/${customersImport.id}/loads`)).body.loads as LoadDto[]).find((l) => l.status === 'PROCESSED' && l.table.name === 'customers')!
    const res = await appFetch(`${t.app.url}/api/loads/${load.id}/left-out.csv`)
    expect(res.status).toBe(200)
    expect(res.headers.get('content-disposition')).toBe('attachment; filename=customers-left-out.csv')
    expect(await res.text()).toBe(
      [
        'line,column,value,reason',
        '2,id,1,the table has a row with this key already',
        '4,full_name,Carolinexxxx,value too long for type character varying(10)',
        '5,balance,123456789012,numeric field overflow',
        '6,mood,angry,"invalid input value for enum public.mood: ""angry"""',
        '7,full_name,,"no value, and the column is NOT NULL without a default"',
        '8,country,ZZ,no row of public.countries has this code (customers_country_fkey)',
        '9,id,2,"the same key as line 3, which goes in"',
        '10,email,b@x.io,"the same key as line 3, which goes in"',
      ].join('\n') + '\n',
    )
  })
})
