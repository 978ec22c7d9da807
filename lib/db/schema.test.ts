import fs from 'node:fs/promises'
import internals from '@prisma/internals'
import pg from 'pg'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { SLUICE_SEARCH_PATH } from './sluice-schema'

// The migrated test database must hold exactly what schema.prisma describes: every model's
// table, every field's column with its type and nullability, and every enum's values. The
// migrations are hand-written SQL (Prisma's schema engine cannot be downloaded everywhere),
// so this is what keeps the two from drifting.

type Column = { table: string; column: string; type: string; nullable: boolean }

// Prisma's default PostgreSQL column type for each scalar, and for the native types used here.
const SCALAR_TYPE: Record<string, string> = {
  String: 'text',
  Int: 'integer',
  BigInt: 'bigint',
  Boolean: 'boolean',
  Float: 'double precision',
  Decimal: 'numeric',
  DateTime: 'timestamp(3) without time zone',
  Json: 'jsonb',
  Bytes: 'bytea',
}
const NATIVE_TYPE: Record<string, (args: string[]) => string> = {
  Timestamptz: ([p = '6']) => `timestamp(${p}) with time zone`,
  Timestamp: ([p = '6']) => `timestamp(${p}) without time zone`,
  Date: () => 'date',
  Text: () => 'text',
  Uuid: () => 'uuid',
  VarChar: ([n]) => (n ? `character varying(${n})` : 'character varying'),
  Integer: () => 'integer',
  BigInt: () => 'bigint',
}

const client = new pg.Client({ connectionString: process.env.DATABASE_URL, options: SLUICE_SEARCH_PATH })
let dmmf: Awaited<ReturnType<typeof internals.getDMMF>>

beforeAll(async () => {
  dmmf = await internals.getDMMF({ datamodel: await fs.readFile('prisma/schema.prisma', 'utf8') })
  await client.connect()
})
afterAll(() => client.end())

function expectedColumns(): Column[] {
  return dmmf.datamodel.models.flatMap((model) =>
    model.fields
      .filter((f) => f.kind !== 'object')
      .map((f) => {
        const native = f.nativeType as [string, string[]] | null | undefined
        const type = native
          ? NATIVE_TYPE[native[0]]!(native[1])
          : f.kind === 'enum'
            ? `"${dmmf.datamodel.enums.find((e) => e.name === f.type)!.dbName ?? f.type}"`
            : SCALAR_TYPE[f.type]!
        // A list is an array of its type (Prisma's lists are never null).
        return { table: model.dbName ?? model.name, column: f.dbName ?? f.name, type: f.isList ? `${type}[]` : type, nullable: !f.isRequired && !f.isList }
      }),
  )
}

describe('the migrated database matches schema.prisma', () => {
  it('has every model as a table and every field as a column of the right type', async () => {
    const { rows } = await client.query<Column>(`
      SELECT c.relname AS table, a.attname AS column, format_type(a.atttypid, a.atttypmod) AS type, NOT a.attnotnull AS nullable
      FROM pg_attribute a JOIN pg_class c ON c.oid = a.attrelid JOIN pg_namespace n ON n.oid = c.relnamespace
      WHERE n.nspname = 'sluice' AND c.relkind = 'r' AND c.relname <> '_prisma_migrations' AND a.attnum > 0 AND NOT a.attisdropped`)
    const key = (c: Column) => `${c.table}.${c.column}`
    const sort = (cs: Column[]) => [...cs].sort((a, b) => key(a).localeCompare(key(b)))
    expect(sort(rows)).toEqual(sort(expectedColumns()))
  })

  it('has every enum with its values in order', async () => {
    const { rows } = await client.query<{ name: string; values: string[] }>(`
      SELECT t.typname AS name, array_agg(e.enumlabel::text ORDER BY e.enumsortorder) AS values
      FROM pg_type t JOIN pg_enum e ON e.enumtypid = t.oid JOIN pg_namespace n ON n.oid = t.typnamespace
      WHERE n.nspname = 'sluice' GROUP BY t.typname ORDER BY t.typname`)
    expect(rows).toEqual(
      dmmf.datamodel.enums
        .map((e) => ({ name: e.dbName ?? e.name, values: e.values.map((v) => v.dbName ?? v.name) }))
        .sort((a, b) => a.name.localeCompare(b.name)),
    )
  })

  it('has every @id as the primary key and every @@index and @@unique as an index', async () => {
    const { rows } = await client.query<{ table: string; columns: string[]; primary: boolean; unique: boolean }>(`
      SELECT c.relname AS table, i.indisprimary AS primary, i.indisunique AS unique,
             array_agg(a.attname::text ORDER BY k.ord) AS columns
      FROM pg_index i JOIN pg_class c ON c.oid = i.indrelid JOIN pg_namespace n ON n.oid = c.relnamespace
      CROSS JOIN LATERAL unnest(i.indkey) WITH ORDINALITY AS k(attnum, ord)
      JOIN pg_attribute a ON a.attrelid = c.oid AND a.attnum = k.attnum
      WHERE n.nspname = 'sluice' AND c.relname <> '_prisma_migrations'
      GROUP BY c.relname, i.indexrelid, i.indisprimary, i.indisunique`)
    const expected = dmmf.datamodel.models.flatMap((m) => {
      const table = m.dbName ?? m.name
      const column = (name: string) => m.fields.find((f) => f.name === name)!.dbName ?? name
      const ids = m.fields.filter((f) => f.isId).map((f) => ({ table, columns: [column(f.name)], primary: true, unique: true }))
      if (m.primaryKey) ids.push({ table, columns: m.primaryKey.fields.map(column), primary: true, unique: true })
      const uniques = m.fields.filter((f) => f.isUnique).map((f) => ({ table, columns: [column(f.name)], primary: false, unique: true }))
      const indexes = dmmf.datamodel.indexes
        .filter((i) => i.model === m.name && (i.type === 'normal' || i.type === 'unique'))
        .map((i) => ({ table, columns: i.fields.map((f) => column(f.name)), primary: false, unique: i.type === 'unique' }))
      return [...ids, ...uniques, ...indexes]
    })
    const key = (i: { table: string; columns: string[]; primary: boolean }) => `${i.table}(${i.columns.join(',')})${i.primary}`
    const dedupe = <T extends { table: string; columns: string[]; primary: boolean }>(xs: T[]) =>
      [...new Map(xs.map((x) => [key(x), x])).values()].sort((a, b) => key(a).localeCompare(key(b)))
    expect(dedupe(rows)).toEqual(dedupe(expected))
  })
})
