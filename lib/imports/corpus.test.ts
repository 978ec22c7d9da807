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

/** Each value of the table's column as PostgreSQL writes it (NULL as null), in file order. */
async function valuesOf(imp: ImportDto, column: string): Promise<Array<string | null>> {
  const [schema, table] = imp.tableName.split('.')
  const { rows } = await db.query(`SELECT ${pg.escapeIdentifier(column)}::text AS v FROM ${pg.escapeIdentifier(schema!)}.${pg.escapeIdentifier(table!)} ORDER BY ${imp.fileOrder}`)
  return rows.map((r) => r.v)
}

describe('conventions: numbers, dates and missing values as people write them', () => {
  it.each([
    ['a decimal comma with dots for thousands', ';', ['1.234.567,89', '12,5', '-0,25'], 'numeric', ['1234567.89', '12.5', '-0.25']],
    ['a decimal point with commas for thousands (quoted)', ',', ['"1,234,567.89"', '12.5', '"-1,000.00"'], 'numeric', ['1234567.89', '12.5', '-1000.00']],
    ['a decimal comma with spaces for thousands', ';', ['1 234 567,89', '3,5', '999'], 'numeric', ['1234567.89', '3.5', '999']],
    ['a decimal comma with no-break spaces for thousands', '\t', ['1\u00a0234,5', '7,25', '10'], 'numeric', ['1234.5', '7.25', '10']],
    ['whole numbers grouped with dots', ';', ['1.234.567', '12', '-5.000'], 'bigint', ['1234567', '12', '-5000']],
    ['a leading plus', ',', ['+5', '+12', '-3'], 'bigint', ['5', '12', '-3']],
  ] as const)('reads %s', async (_, delimiter, written, type, read) => {
    const imp = await importBytes(['n' + delimiter + 'amount', ...written.map((v, i) => `${i + 1}${delimiter}${v}`)].join('\n') + '\n')
    expect(imp).toMatchObject({ status: 'PROCESSED', rowsImported: 3, rowsRejected: 0 })
    expect(names(imp)).toEqual(['n:bigint', `amount:${type}`])
    expect(await valuesOf(imp, 'amount')).toEqual(read)
  })

  it.each([
    ['day.month.year', ['31.01.2024', '01.02.2024', '29.02.2024'], 'date', 'DMY', ['2024-01-31', '2024-02-01', '2024-02-29']],
    ['day/month/year', ['31/01/2024', '01/02/2024', '15/12/1999'], 'date', 'DMY', ['2024-01-31', '2024-02-01', '1999-12-15']],
    ['day-month-year', ['31-01-2024', '1-2-2024', '15-12-1999'], 'date', 'DMY', ['2024-01-31', '2024-02-01', '1999-12-15']],
    ['month/day/year', ['01/31/2024', '02/01/2024', '12/15/1999'], 'date', 'MDY', ['2024-01-31', '2024-02-01', '1999-12-15']],
    ['two-digit years', ['31.01.24', '01.02.99', '15.12.69'], 'date', 'DMY', ['2024-01-31', '1999-02-01', '2069-12-15']],
    ['a time after the date', ['31.01.2024 14:30', '01.02.2024 00:05', '15.12.1999 23:59'], 'timestamptz', 'DMY', ['2024-01-31 14:30:00+00', '2024-02-01 00:05:00+00', '1999-12-15 23:59:00+00']],
  ] as const)('reads dates written %s', async (_, written, type, order, read) => {
    const imp = await importBytes(['n;day', ...written.map((v, i) => `${i + 1};${v}`)].join('\n') + '\n')
    expect(imp).toMatchObject({ status: 'PROCESSED', rowsImported: 3, rowsRejected: 0, dialect: { dateOrder: order } })
    expect(names(imp)).toEqual(['n:bigint', `day:${type}`])
    expect(await valuesOf(imp, 'day')).toEqual(read)
  })

  it('keeps dates it cannot order as text, and says which readings they have', async () => {
    const imp = await importBytes('n;day\n1;03.04.2024\n2;05.06.2024\n')
    expect(imp).toMatchObject({ status: 'PROCESSED', rowsImported: 2, dialect: { delimiter: ';' } })
    expect(imp.dialect).not.toHaveProperty('dateOrder')
    expect(imp.columns[1]).toEqual({ name: 'day', header: 'day', type: 'text', dateReadings: ['DMY', 'MDY'], dateShape: { separator: '.', yearDigits: 4, padded: true, time: '' } })
    expect(await valuesOf(imp, 'day')).toEqual(['03.04.2024', '05.06.2024'])
  })

  it('orders a column whose days are all 12 or less by another column of the file', async () => {
    const imp = await importBytes('n;born;seen\n1;03.04.1990;31.01.2024\n2;05.06.1991;01.02.2024\n')
    expect(names(imp)).toEqual(['n:bigint', 'born:date', 'seen:date'])
    expect(await valuesOf(imp, 'born')).toEqual(['1990-04-03', '1991-06-05'])
  })

  it.each(['NULL', 'null', 'N/A', 'NA', 'n/a', '#N/A', '-', '\\N', 'None', 'NaN'])('reads the marker %s as NULL in a typed column, and leaves text alone', async (marker) => {
    const imp = await importBytes(`n,amount,note\n1,2.5,${marker}\n2,${marker},x\n3,-4,${marker}\n`)
    expect(imp).toMatchObject({ status: 'PROCESSED', rowsImported: 3, rowsRejected: 0 })
    expect(names(imp)).toEqual(['n:bigint', 'amount:numeric', 'note:text'])
    expect(imp.columns[1]!.format).toEqual({ missing: marker })
    expect(await valuesOf(imp, 'amount')).toEqual(['2.5', null, '-4'])
    expect(await valuesOf(imp, 'note')).toEqual([marker, 'x', marker])
  })

  it.each([
    ['two number conventions', ['1.234,5', '1,234.5']],
    ['two date orders', ['31.01.2024', '01/31/2024']],
    ['ISO and day-month-year dates', ['2024-01-31', '31.01.2024']],
    ['two markers', ['5', 'N/A', 'NULL']],
    ['NaN in dates', ['31.01.2024', 'NaN']],
  ])('keeps a column of %s as text, as written', async (_, written) => {
    const imp = await importBytes(['n;v', ...written.map((v, i) => `${i + 1};"${v}"`)].join('\n') + '\n')
    expect(names(imp)).toEqual(['n:bigint', 'v:text'])
    expect(await valuesOf(imp, 'v')).toEqual(written)
  })

  it('rejects a late value that breaks the convention, with its line, and converts every other one', async () => {
    // About 150 KiB: the bad values come after the first 64 KiB read, past the type sample.
    const lines = ['id;day;amount', ...Array.from({ length: 8000 }, (_, i) => `${i + 1};${String((i % 28) + 1).padStart(2, '0')}.01.2024;${(i + 1000).toLocaleString('de-DE')},25`)]
    lines[7001] = '7001;30.02.2024;1,25' // line 7002: no 30 February
    lines[7501] = '7501;01.01.2024;12.34,5' // line 7502: a group of two digits
    lines[7601] = '7601;01.01.2024;N/A' // a marker the sample never used
    const imp = await importBytes(lines.join('\n') + '\n')
    expect(imp).toMatchObject({ status: 'PROCESSED', rowsImported: 7997, rowsRejected: 3 })
    expect(names(imp)).toEqual(['id:bigint', 'day:date', 'amount:numeric'])
    expect(await rejectsCsv(imp)).toBe(
      [
        'line,reason,record',
        '7002,"day: ""30.02.2024"" is not a date","7001;30.02.2024;1,25"',
        '7502,"amount: ""12.34,5"" is not a decimal number","7501;01.01.2024;12.34,5"',
        '7602,"amount: ""N/A"" is not a decimal number",7601;01.01.2024;N/A',
      ].join('\n') + '\n',
    )
    const { rows } = await db.query(`SELECT sum(amount)::text AS s, min(day)::text AS first, max(day)::text AS last FROM ${imp.tableName.replace(/^imported\.(.*)$/, 'imported."$1"')}`)
    const kept = Array.from({ length: 8000 }, (_, i) => i).filter((i) => ![7001, 7501, 7601].includes(i + 1))
    expect(rows[0]).toEqual({ s: kept.reduce((sum, i) => sum + (i + 1000) + 0.25, 0).toFixed(2), first: '2024-01-01', last: '2024-01-28' })
  })
})

describe('a type changed after the import, across batches', () => {
  it('sets aside exactly the rows whose value does not fit, each with its line, in whichever batch it is', async () => {
    // About 190 KiB in batches of 64 KiB; a quoted line break every 1,000 records moves every later line.
    const lines = ['id,amount,note', ...Array.from({ length: 8000 }, (_, i) => `${i + 1},"${i},5",${i % 1000 === 0 ? '"two\nlines"' : 'x'}`)]
    lines[2500] = '2500,n/a,x' // line 2504: line 2501 after three quoted line breaks
    lines[7900] = '7900,"7.899,5",x' // line 7909, after eight: a thousands separator the change does not name
    const imp = await importBytes(lines.join('\n') + '\n')
    expect(imp).toMatchObject({ status: 'PROCESSED', rowsImported: 8000, rowsRejected: 0 })
    expect(names(imp)).toEqual(['id:bigint', 'amount:text', 'note:text'])
    const res = await appFetch(`${app.url}/api/imports/${imp.id}/columns/amount`, {
      method: 'PATCH',
      headers: { 'Content-Type': 'application/json' },
      body: JSON.stringify({ type: 'numeric', format: { number: { decimal: ',', thousands: '', plus: false } } }),
    })
    expect(res.status, await res.clone().text()).toBe(200)
    expect(await res.json()).toMatchObject({ converted: 7998, rejected: 2, import: { rowsImported: 7998, rowsRejected: 2 } })
    expect(await rejectsCsv(imp)).toBe(
      ['line,reason,record', '2504,"amount: ""n/a"" is not a decimal number","2500,n/a,x"', '7909,"amount: ""7.899,5"" is not a decimal number","7900,""7.899,5"",x"'].join('\n') + '\n',
    )
    expect(await valuesOf(imp, 'amount').then((v) => v.slice(0, 3))).toEqual(['0.5', '1.5', '2.5'])
  })
})

describe('exports in each format', () => {
  const asBytes = async (imp: ImportDto, format: string) => {
    const res = await appFetch(`${app.url}/api/imports/${imp.id}/export.csv?format=${format}`)
    expect(res.status).toBe(200)
    return { bytes: Buffer.from(await res.arrayBuffer()), type: res.headers.get('content-type') }
  }
  const files: Array<[string, Buffer]> = [
    ['a European file: Windows-1252, semicolons, CRLF, 1.234,56, D.M.Y, a dash for missing', Buffer.from('id;betrag;datum;notiz\r\n1;1.234,56;31.01.2024;Müller\r\n2;-;01.02.2024;"a; b"\r\n3;12,50;15.12.1999;\r\n', 'latin1')],
    ['a US file: UTF-8 with a BOM, 1,234.50, M/D/Y with times, NULL for missing', Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf]), Buffer.from('id,amount,day,at\n1,"1,234.50",01/31/2024,01/31/2024 14:30\n2,-7.25,12/01/1999,12/01/1999 00:05\n3,NULL,02/29/2024,NULL\n')])],
    ["a Swiss file: UTF-16 with a BOM, tabs, apostrophes for thousands", Buffer.concat([Buffer.from([0xff, 0xfe]), Buffer.from("n\tbetrag\n1\t1'234.5\n2\t12\n", 'utf16le')])],
    ['spaces for thousands and a decimal comma', Buffer.from('n;x\n1;1 234 567,89\n2;5,5\n')],
    ['a leading plus', Buffer.from('n,x\n1,+5\n2,-3\n3,+12\n')],
    ['two-digit years', Buffer.from('d\n31.01.24\n01.02.99\n')],
    ['days and months without a leading zero', Buffer.from('n;d\n1;1.2.2024\n2;31.12.2024\n')],
    ['ISO values, quoted text and a file without a header', Buffer.from('1,2024-01-05,"x, y",12.50\n2,2024-01-06,"say ""hi""",-3\n3,2024-01-07,z,0.5\n')],
  ]
  it.each(files)('gives %s back byte for byte, as written', async (_, file) => {
    const imp = await importBytes(file)
    expect(imp).toMatchObject({ status: 'PROCESSED', rowsRejected: 0 })
    // Every column but the text ones is typed: the conventions were read, not kept as text.
    expect(imp.columns.filter((c) => c.type === 'text').map((c) => c.name)).toEqual(imp.columns.filter((c) => ['notiz', 'column_3'].includes(c.name)).map((c) => c.name))
    expect((await asBytes(imp, 'as-written')).bytes).toEqual(file)
  })

  it('writes a European file as a careful converter would (standard), and for Excel with a BOM and CRLF', async () => {
    const imp = await importBytes(files[0]![1])
    const standard = await asBytes(imp, 'standard')
    expect(standard.type).toBe('text/csv; charset=utf-8')
    expect(standard.bytes.toString()).toBe('id,betrag,datum,notiz\n1,1234.56,2024-01-31,Müller\n2,,2024-02-01,a; b\n3,12.50,1999-12-15,\n')
    const excel = await asBytes(imp, 'excel')
    expect(excel.bytes).toEqual(Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf]), Buffer.from('id,betrag,datum,notiz\r\n1,1234.56,2024-01-31,Müller\r\n2,,2024-02-01,a; b\r\n3,12.50,1999-12-15,\r\n')]))
    expect((await asBytes(imp, 'as-written')).type).toBe('text/csv; charset=windows-1252')
  })

  it('keeps a line break inside a quoted value as it is, for Excel and as written', async () => {
    const file = Buffer.from('id;note\r\n1;"two\nlines"\r\n2;"x\r\ny"\r\n')
    const imp = await importBytes(file)
    expect((await asBytes(imp, 'as-written')).bytes).toEqual(file)
    expect((await asBytes(imp, 'excel')).bytes.toString()).toBe('\ufeffid,note\r\n1,"two\nlines"\r\n2,"x\r\ny"\r\n')
  })

  it('writes an export job in the format asked for, and refuses a format it does not know', async () => {
    const imp = await importBytes(files[0]![1])
    const created = await appFetch(`${app.url}/api/exports`, { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify({ importId: imp.id, format: 'as-written' }) })
    expect(created.status).toBe(201)
    const job = (await created.json()) as { id: string; format: string }
    expect(job.format).toBe('as-written')
    for (let i = 0; ; i++) {
      const got = (await (await appFetch(`${app.url}/api/exports/${job.id}`)).json()) as { status: string; downloadUrl: string | null }
      if (got.status === 'PROCESSED') {
        expect(Buffer.from(await (await appFetch(`${app.url}${got.downloadUrl}`)).arrayBuffer())).toEqual(files[0]![1])
        break
      }
      expect(got.status).not.toBe('FAILED')
      if (i > 500) throw new Error('the export job did not finish')
      await sleep(20)
    }
    const bad = await appFetch(`${app.url}/api/imports/${imp.id}/export.csv?format=xlsx`)
    expect(bad.status).toBe(400)
    expect((await bad.json()).error.message).toContain('format')
  })
})

describe('limits', () => {
  it('rejects a record with a field over MAX_FIELD_BYTES and keeps the others', async () => {
    const imp = await importBytes(`id,text\n1,short\n2,${'x'.repeat(1500)}\n3,short\n`)
    expect(imp).toMatchObject({ status: 'PROCESSED', rowsImported: 2, rowsRejected: 1 })
    const rejects = (await (await appFetch(`${app.url}/api/imports/${imp.id}/rejects`)).json()).rejects
    expect(rejects.map((r: { line: number; reason: string }) => [r.line, r.reason])).toEqual([[3, 'field 2 is longer than 1000 bytes, the longest this server takes']])
  })

  it('fails on a record over MAX_LINE_BYTES with a message', async () => {
    const imp = await importBytes(`id,text\n1,short\n2,"${'x'.repeat(200 * 1024)}"\n`)
    expect(imp).toMatchObject({ status: 'FAILED', error: 'The record on line 3 is longer than 128 KiB, the longest this server reads' })
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
    expect(imp).toMatchObject({ status: 'FAILED', failedOn: 'file', rowsImported: 0, rowsRejected: 0, error: message, columns: [] })
    expect(await tableExists(imp)).toBe(false)
    expect((await db.query('SELECT count(*)::int AS n FROM import_rejects WHERE import_id = $1', [imp.id])).rows[0].n).toBe(0)
    // A resume would only fail again: refused, with the reason and what to do.
    const resumed = await appFetch(`${app.url}/api/imports/${imp.id}/resume`, { method: 'POST' })
    expect(resumed.status).toBe(409)
    expect(await resumed.json()).toEqual({
      error: { code: 'INVALID_TRANSITION', message: `Cannot resume this import: the file itself cannot be imported (${message}). Remove it, and upload a corrected file` },
    })
  })

  it('resumes a failed import whose failure was the server\'s, not the file\'s', async () => {
    const imp = await importBytes(Buffer.from('Dear team,\nthe report, as promised, is late.\nSorry\n'))
    await db.query('UPDATE imports SET failure_final = false WHERE id = $1', [imp.id])
    const read = await (await appFetch(`${app.url}/api/imports/${imp.id}`)).json()
    expect(read).toMatchObject({ status: 'FAILED', failedOn: 'server' })
    const resumed = await appFetch(`${app.url}/api/imports/${imp.id}/resume`, { method: 'POST' })
    expect(resumed.status).toBe(200)
    expect(await resumed.json()).toMatchObject({ status: 'QUEUED', failedOn: null, error: null })
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
