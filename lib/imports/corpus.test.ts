import fs from 'node:fs/promises'
import path from 'node:path'
import { parse } from 'csv-parse/sync'
import { stringify } from 'csv-stringify/sync'
import fc from 'fast-check'
import pg from 'pg'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { freePort } from '../server/free-port'
import { appFetch, createDatabase, health, signInForTests, sleep, startApp, tempDir, uploadFile, type AppProcess } from '../../test/app-process'
import type { ImportDto } from './schemas'
import { SLUICE_SEARCH_PATH } from '../db/sluice-schema'

// A corpus of small files, one per case the importer must read (or refuse), each driven
// through the app as a person drops it: tus upload, import, then the export and the rejects.
// Batches of 64 KiB put a value past the type sample (and the sniffer's first read) in a
// file of a few thousand lines.

let dir: string
let db: pg.Pool
let app: AppProcess

beforeAll(async () => {
  dir = await tempDir('sluice-corpus-')
  const databaseUrl = await createDatabase('sluice_corpus_test')
  db = new pg.Pool({ connectionString: databaseUrl, options: SLUICE_SEARCH_PATH })
  app = startApp({
    PORT: String(await freePort()),
    DATA_DIR: path.join(dir, 'data'),
    DATABASE_URL: databaseUrl,
    IMPORT_BATCH_BYTES: String(64 * 1024),
    MAX_FIELD_BYTES: '1000',
    MAX_LINE_BYTES: String(128 * 1024),
  })
  await health(app.url)
  await signInForTests(app.url)
}, 120_000)

afterAll(async () => {
  app?.child.kill('SIGTERM')
  await app?.exited
  await db?.end()
  await fs.rm(dir, { recursive: true, force: true })
})

let files = 0
/** Uploads the bytes as a file and waits for its import to settle. */
async function importBytes(bytes: Buffer | string, name = `file-${++files}.csv`): Promise<ImportDto> {
  const file = path.join(dir, name)
  await fs.writeFile(file, bytes)
  const uploadId = await uploadFile(app.url, file)
  const deadline = Date.now() + 60_000
  for (;;) {
    const { imports } = (await (await appFetch(`${app.url}/api/imports?upload=${uploadId}`)).json()) as { imports: ImportDto[] }
    const imp = imports[0]
    if (imp && !['QUEUED', 'PROCESSING'].includes(imp.status)) return imp
    if (Date.now() > deadline) throw new Error(`import of ${name} did not settle`)
    await sleep(25)
  }
}

const text = async (route: string) => {
  const res = await appFetch(`${app.url}${route}`)
  expect(res.status).toBe(200)
  return res.text()
}
const exported = (imp: ImportDto, query = '') => text(`/api/imports/${imp.id}/export.csv${query}`)
const rejectsCsv = (imp: ImportDto) => text(`/api/imports/${imp.id}/rejects.csv`)

/** The table's columns and their PostgreSQL types, the batch and row number left out. */
async function tableColumns(tableName: string): Promise<string[]> {
  const [schema, table] = tableName.split('.')
  const { rows } = await db.query(
    `SELECT column_name || ' ' || data_type AS c FROM information_schema.columns
     WHERE table_schema = $1 AND table_name = $2 AND column_name NOT IN ('_sluice_batch', '_sluice_row') ORDER BY ordinal_position`,
    [schema, table],
  )
  return rows.map((r) => r.c)
}

const tableExists = async (imp: ImportDto) =>
  (await db.query(`SELECT to_regclass($1) IS NOT NULL AS e`, [imp.tableName.replace(/^imported\./, 'imported."') + '"'])).rows[0].e as boolean

const names = (imp: ImportDto) => imp.columns.map((c) => `${c.name}:${c.type}`)

describe('dialects', () => {
  it.each([
    { delimiter: ',', newline: '\n' },
    { delimiter: ';', newline: '\r\n' },
    { delimiter: '\t', newline: '\r' },
    { delimiter: '|', newline: '\n' },
  ] as const)('reads $delimiter-separated records ending in $newline, quoted line breaks included', async ({ delimiter, newline }) => {
    const d = delimiter
    const lines = [`id${d}name${d}note`, `1${d}Ann${d}"one${newline}two"`, `2${d}"B${d}o"${d}plain`, `3${d}Cy${d}"say ""hi"""`]
    const imp = await importBytes(lines.join(newline) + newline)
    expect(imp).toMatchObject({ status: 'PROCESSED', rowsImported: 3, rowsRejected: 0, error: null })
    expect(imp.dialect).toEqual({ encoding: 'utf-8', bom: 0, delimiter, quote: '"', escape: '"', newline, header: true })
    expect(names(imp)).toEqual(['id:bigint', 'name:text', 'note:text'])
    expect(await exported(imp)).toBe(`id,name,note\n1,Ann,"one${newline}two"\n2,B${d}o,plain\n3,Cy,"say ""hi"""\n`.replace(`B${d}o`, d === ',' ? `"B,o"` : `B${d}o`))
  })

  it('reads a backslash escape inside quotes', async () => {
    const imp = await importBytes('id,quote\n1,"she said \\"yes\\", twice"\n2,"plain"\n')
    expect(imp).toMatchObject({ status: 'PROCESSED', rowsImported: 2, dialect: { quote: '"', escape: '\\' } })
    expect(await exported(imp)).toBe('id,quote\n1,"she said ""yes"", twice"\n2,plain\n')
  })

  it('reads a file without a header, naming its columns by position', async () => {
    const imp = await importBytes('1,2024-01-05,true\n2,2024-01-06,false\n')
    expect(imp).toMatchObject({ status: 'PROCESSED', rowsImported: 2, dialect: { header: false } })
    expect(names(imp)).toEqual(['column_1:bigint', 'column_2:date', 'column_3:boolean'])
    expect(await exported(imp)).toBe('column_1,column_2,column_3\n1,2024-01-05,true\n2,2024-01-06,false\n')
  })
})

describe('encodings', () => {
  const rows = 'prénom,ville\r\nZoë,Zürich\r\n"Ça, va",Besançon\r\n'
  const back = 'prénom,ville\nZoë,Zürich\n"Ça, va",Besançon\n'
  it.each([
    ['UTF-8 with a BOM', Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf]), Buffer.from(rows)]), 'utf-8', 3],
    ['UTF-8 without a BOM', Buffer.from(rows), 'utf-8', 0],
    ['UTF-16 LE with a BOM', Buffer.concat([Buffer.from([0xff, 0xfe]), Buffer.from(rows, 'utf16le')]), 'utf-16le', 2],
    ['UTF-16 BE with a BOM', Buffer.concat([Buffer.from([0xff, 0xfe]), Buffer.from(rows, 'utf16le')]).swap16(), 'utf-16be', 2],
    ['Windows-1252', Buffer.from(rows, 'latin1'), 'windows-1252', 0],
  ] as const)('stores %s as UTF-8, with no BOM in a name or value', async (_, bytes, encoding, bom) => {
    const imp = await importBytes(bytes)
    expect(imp).toMatchObject({ status: 'PROCESSED', rowsImported: 2, rowsRejected: 0, dialect: { encoding, bom, newline: '\r\n' } })
    expect(imp.columns.map((c) => c.header)).toEqual(['prénom', 'ville'])
    expect(names(imp)).toEqual(['prénom:text', 'ville:text'])
    expect(await exported(imp)).toBe(back)
  })

  it('reads the Windows-1252 letters that Latin-1 lacks (€, curly quotes)', async () => {
    const bytes = Buffer.concat([Buffer.from('item;price\r\n'), Buffer.from([0x93]), Buffer.from('Caf'), Buffer.from([0xe9, 0x94]), Buffer.from(';'), Buffer.from([0x80]), Buffer.from('5\r\n')])
    const imp = await importBytes(bytes)
    expect(imp).toMatchObject({ status: 'PROCESSED', rowsImported: 1, dialect: { encoding: 'windows-1252', delimiter: ';' } })
    expect(await exported(imp)).toBe('item,price\n“Café”,€5\n')
  })

  it('reads a long UTF-16 file across batches, every row once', async () => {
    const lines = ['n,word', ...Array.from({ length: 5000 }, (_, i) => `${i + 1},ünïcödé ${'✓'.repeat(i % 7)} 𝄞`)]
    const imp = await importBytes(Buffer.concat([Buffer.from([0xff, 0xfe]), Buffer.from(lines.join('\n') + '\n', 'utf16le')]))
    expect(imp).toMatchObject({ status: 'PROCESSED', rowsImported: 5000, rowsRejected: 0, bytesProcessed: imp.totalBytes })
    expect(await exported(imp)).toBe(lines.join('\n') + '\n')
  })
})

describe('types', () => {
  it('types each column and gives every value back as written (timestamps in PostgreSQL ISO form)', async () => {
    const imp = await importBytes(
      [
        'ok,count,price,day,at,zip,label,empty',
        'true,1,12.50,2024-02-29,2024-01-15T10:30:00Z,007,a,',
        'FALSE,-20,0.5,2024-03-01,2024-01-15 12:00:00+02:00,12345,b,',
        ',"",,"",,,,',
      ].join('\n') + '\n',
    )
    expect(imp).toMatchObject({ status: 'PROCESSED', rowsImported: 3, rowsRejected: 0 })
    expect(names(imp)).toEqual(['ok:boolean', 'count:bigint', 'price:numeric', 'day:date', 'at:timestamptz', 'zip:text', 'label:text', 'empty:text'])
    expect(await tableColumns(imp.tableName)).toEqual([
      'ok boolean',
      'count bigint',
      'price numeric',
      'day date',
      'at timestamp with time zone',
      'zip text',
      'label text',
      'empty text',
    ])
    expect(await exported(imp)).toBe(
      [
        'ok,count,price,day,at,zip,label,empty',
        'true,1,12.50,2024-02-29,2024-01-15 10:30:00+00,007,a,',
        'false,-20,0.5,2024-03-01,2024-01-15 10:00:00+00,12345,b,',
        ',,,,,,,',
      ].join('\n') + '\n',
    )
    // The date filter works on the real dates.
    expect(await exported(imp, '?column=day&from=2024-03-01&to=2024-03-31')).toBe(
      'ok,count,price,day,at,zip,label,empty\nfalse,-20,0.5,2024-03-01,2024-01-15 10:00:00+00,12345,b,\n',
    )
  })

  it('rejects a late value that breaks its column type, with line, column and reason; every other record lands', async () => {
    // About 150 KiB: the bad values come after the first 64 KiB read, past the type sample.
    const lines = ['id,day,amount', ...Array.from({ length: 8000 }, (_, i) => `${i + 1},2024-01-${String((i % 28) + 1).padStart(2, '0')},${i}.25`)]
    lines[7001] = '7001,2024-02-30,1.25' // line 7002: no 30 February
    lines[7501] = '7501,2024-01-01,12abc' // line 7502
    lines[7601] = 'n/a,2024-01-01,1.00' // line 7602
    const imp = await importBytes(lines.join('\n') + '\n')
    expect(imp).toMatchObject({ status: 'PROCESSED', rowsImported: 7997, rowsRejected: 3 })
    expect(imp.rowsImported + imp.rowsRejected).toBe(8000)
    expect(names(imp)).toEqual(['id:bigint', 'day:date', 'amount:numeric'])
    expect(await rejectsCsv(imp)).toBe(
      [
        'line,reason,record',
        '7002,"day: ""2024-02-30"" is not a date","7001,2024-02-30,1.25"',
        '7502,"amount: ""12abc"" is not a decimal number","7501,2024-01-01,12abc"',
        '7602,"id: ""n/a"" is not a whole number","n/a,2024-01-01,1.00"',
      ].join('\n') + '\n',
    )
  })

  it('counts lines right for a late reject after quoted line breaks and a ragged record', async () => {
    // About 140 KiB, so that both come after the first read (and the type sample).
    const lines = ['id,note', ...Array.from({ length: 6000 }, (_, i) => (i % 1000 === 0 ? `${i + 1},"two\nlines"` : `${i + 1},${'x'.repeat(20)}`))]
    lines[5500] = '5500,y,extra' // ragged: 3 fields
    lines[5800] = 'five,z' // not a whole number
    const imp = await importBytes(lines.join('\n') + '\n')
    expect(imp).toMatchObject({ status: 'PROCESSED', rowsImported: 5998, rowsRejected: 2 })
    // Six quoted line breaks come before both (records 1, 1001, …, 5001).
    const rejects = (await (await appFetch(`${app.url}/api/imports/${imp.id}/rejects`)).json()).rejects
    expect(rejects).toEqual([
      { line: 5507, reason: 'expected 2 fields, found 3', record: '5500,y,extra' },
      { line: 5807, reason: 'id: "five" is not a whole number', record: 'five,z' },
    ])
  })
})

describe('limits', () => {
  it('rejects a record with a field over MAX_FIELD_BYTES and keeps the others', async () => {
    const imp = await importBytes(`id,text\n1,short\n2,${'x'.repeat(1500)}\n3,short\n`)
    expect(imp).toMatchObject({ status: 'PROCESSED', rowsImported: 2, rowsRejected: 1 })
    const rejects = (await (await appFetch(`${app.url}/api/imports/${imp.id}/rejects`)).json()).rejects
    expect(rejects.map((r: { line: number; reason: string }) => [r.line, r.reason])).toEqual([[3, 'field 2 is longer than 1000 bytes (MAX_FIELD_BYTES)']])
  })

  it('fails on a record over MAX_LINE_BYTES with a message', async () => {
    const imp = await importBytes(`id,text\n1,short\n2,"${'x'.repeat(200 * 1024)}"\n`)
    expect(imp).toMatchObject({ status: 'FAILED', error: 'The record on line 3 is longer than 128.0 KiB (MAX_LINE_BYTES)' })
  })

  it('refuses more than 1,598 columns before creating anything', async () => {
    const header = Array.from({ length: 1599 }, (_, i) => `c${i}`).join(',')
    const imp = await importBytes(`${header}\n${header}\n`)
    expect(imp).toMatchObject({ status: 'FAILED', rowsImported: 0, error: 'The file has 1,599 columns; a table holds at most 1,598' })
    expect(await tableExists(imp)).toBe(false)
  })
})

describe('files that are not CSV', () => {
  it.each([
    ['an empty file', Buffer.alloc(0), 'The file is empty: there is no header and no data'],
    ['blank lines', Buffer.from('\n\n\r\n'), 'The file has no records: it holds only blank lines'],
    ['a PNG image', Buffer.concat([Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]), Buffer.alloc(64, 7)]), 'This file is a PNG image, not a CSV file'],
    ['a ZIP archive', Buffer.concat([Buffer.from('PK\x03\x04'), Buffer.alloc(64, 1)]), 'This file is a ZIP archive (or an Excel workbook: save it as CSV first), not a CSV file'],
    ['an executable', Buffer.concat([Buffer.from('\x7fELF'), Buffer.alloc(64, 0)]), 'This file is an executable program, not a CSV file'],
    ['random bytes', Buffer.from(Array.from({ length: 4096 }, (_, i) => (i * 7919) % 256)), 'This file holds binary data, not text: it is not a CSV file'],
    [
      'prose whose lines never agree on a column count',
      Buffer.from('Dear team,\nthe report, as promised, is late.\nSorry\nBest, regards, and thanks, Ann\nP.S. one, two\n'),
      'The lines of this file do not agree on a number of columns (line 1 has 2, line 2 has 3, line 3 has 1, line 4 has 4, line 5 has 2, …): it does not look like CSV',
    ],
  ])('fails %s with a message and leaves nothing in the database', async (_, bytes, message) => {
    const imp = await importBytes(bytes)
    expect(imp).toMatchObject({ status: 'FAILED', rowsImported: 0, rowsRejected: 0, error: message, columns: [] })
    expect(await tableExists(imp)).toBe(false)
    expect((await db.query('SELECT count(*)::int AS n FROM import_rejects WHERE import_id = $1', [imp.id])).rows[0].n).toBe(0)
  })

  it('imports a header-only file as zero rows', async () => {
    const imp = await importBytes('a;b;c\r\n')
    expect(imp).toMatchObject({ status: 'PROCESSED', rowsImported: 0, rowsRejected: 0, dialect: { delimiter: ';', header: true } })
    expect(await exported(imp)).toBe('a,b,c\n')
  })
})

describe('headers', () => {
  it('takes a header that looks like SQL as plain column names, quoted, never spliced', async () => {
    const imp = await importBytes('"id""; DROP TABLE imports; --",select,"a/*b*/ OR 1=1",Name,Name,\n1,2,3,4,5,6\n')
    expect(imp).toMatchObject({ status: 'PROCESSED', rowsImported: 1 })
    expect(imp.columns.map((c) => [c.name, c.header])).toEqual([
      ['id_drop_table_imports', 'id"; DROP TABLE imports; --'],
      ['select', 'select'],
      ['a_b_or_1_1', 'a/*b*/ OR 1=1'],
      ['name', 'Name'],
      ['name_2', 'Name'],
      ['column_6', ''],
    ])
    expect((await db.query('SELECT count(*)::int AS n FROM imports WHERE id = $1', [imp.id])).rows[0].n).toBe(1)
    expect(await exported(imp)).toBe('"id""; DROP TABLE imports; --",select,a/*b*/ OR 1=1,Name,Name,\n1,2,3,4,5,6\n')
  })
})

describe('round trip (property)', () => {
  // The characters that break CSV readers: delimiters, quotes, line breaks, a backslash,
  // spaces, non-ASCII letters and a character outside the BMP; a few ordinary ones.
  const awkward = fc.string({
    unit: fc.constantFrom('a', 'Z', '0', '7', ' ', ',', ';', '|', '\t', '"', "'", '\\', '\r', '\n', 'é', 'ü', '中', '𝄞', '€', '-', '.', '='),
    maxLength: 12,
  })
  const table = fc.integer({ min: 2, max: 5 }).chain((columns) =>
    fc.record({
      headers: fc.array(awkward.map((h) => `h${h}`), { minLength: columns, maxLength: columns }),
      rows: fc.array(fc.array(awkward, { minLength: columns, maxLength: columns }), { minLength: 1, maxLength: 30 }),
    }),
  )
  const dialect = fc.record({
    delimiter: fc.constantFrom(',', ';', '\t', '|'),
    quote: fc.constantFrom('"', "'"),
    newline: fc.constantFrom('\n', '\r\n', '\r'),
    quoteAll: fc.boolean(),
    encoding: fc.constantFrom('utf-8', 'utf-8 with BOM', 'utf-16le'),
  })

  const encode = (csv: string, encoding: string) =>
    encoding === 'utf-16le'
      ? Buffer.concat([Buffer.from([0xff, 0xfe]), Buffer.from(csv, 'utf16le')])
      : Buffer.concat([Buffer.from(encoding === 'utf-8 with BOM' ? [0xef, 0xbb, 0xbf] : []), Buffer.from(csv)])

  it('imports random tables written in random dialects and exports the same values', async () => {
    await fc.assert(
      fc.asyncProperty(table, dialect, async ({ headers, rows }, d) => {
        const csv = stringify([headers, ...rows], {
          delimiter: d.delimiter,
          quote: d.quote,
          escape: d.quote,
          record_delimiter: d.newline,
          quoted: d.quoteAll,
          // A value with a line break of any kind is quoted, whatever the file's own line ending;
          // in a file quoted with ', so is a value with a " (bare, it reads as an open quote to
          // any reader, PostgreSQL's too).
          quoted_match: d.quote === "'" ? /[\r\n"]/ : /[\r\n]/,
        })
        const imp = await importBytes(encode(csv, d.encoding))
        expect(imp).toMatchObject({ status: 'PROCESSED', rowsImported: rows.length, rowsRejected: 0 })
        expect(imp.dialect).toMatchObject({ delimiter: d.delimiter, newline: d.newline, header: true })
        const back = parse(await exported(imp), { relax_column_count: false }) as string[][]
        expect(back).toEqual([headers, ...rows])
      }),
      { numRuns: Number(process.env.ROUND_TRIP_RUNS ?? 40) },
    )
  }, 180_000)
})
