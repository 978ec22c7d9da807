import { z } from 'zod'

/** A table of the person's own, named by schema and name as PostgreSQL spells them. */
export const TableRefSchema = z.object({
  schema: z.string().min(1).max(63),
  name: z.string().min(1).max(63),
})
export type TableRef = z.infer<typeof TableRefSchema>

export const LOAD_MODES = ['append', 'upsert', 'replace'] as const
export type LoadMode = (typeof LOAD_MODES)[number]

/** What a load does, as the check and the load are asked for. */
export const LoadRequestSchema = z.object({
  table: TableRefSchema.describe('The table the rows go into'),
  mapping: z
    .record(z.string(), z.string().nullable())
    .describe("For each column of the table, the import's column (its name in the import's table) that fills it; a column left out or null is not written (its default applies)"),
  mode: z
    .enum(LOAD_MODES)
    .describe('append: insert every row; upsert: update the rows whose key is in the table, insert the rest; replace: empty the table and insert every row, as one step'),
  key: z
    .array(z.string().min(1))
    .min(1)
    .optional()
    .describe("Upsert only: the columns of the table's primary key or of one of its unique indexes (the primary key when left out)"),
  duplicates: z
    .enum(['first', 'last'])
    .default('last')
    .describe('Upsert only: when the file has the same key on several lines, which line wins (the others are not loaded)'),
  misfits: z
    .enum(['leave-out', 'block'])
    .default('leave-out')
    .describe('What a row that cannot go in does: leave-out loads the others and lists it; block loads nothing while there is one'),
})
export type LoadRequest = z.infer<typeof LoadRequestSchema>

export const PROBLEM_KINDS = ['type', 'missing', 'duplicate-key', 'existing-key', 'foreign-key'] as const
export type ProblemKind = (typeof PROBLEM_KINDS)[number]

export const ProblemExampleSchema = z.object({
  line: z.number().int().nullable().describe("The file's line the record starts on (the header is line 1); null when it cannot be told (a batch with quoted line breaks), then see lines"),
  lines: z.tuple([z.number().int(), z.number().int()]).nullable().describe('When line is null: the first and last line of the part of the file the record is in'),
  column: z.string().nullable().describe("The table's column, or the key's columns joined with commas"),
  value: z.string().nullable().describe('The value as the import holds it (cut at 200 characters)'),
  reason: z.string(),
})
export type ProblemExample = z.infer<typeof ProblemExampleSchema>

export const ProblemSchema = z.object({
  kind: z.enum(PROBLEM_KINDS).describe(
    "type: a value the column's type refuses; missing: no value for a NOT NULL column without default; duplicate-key: the same key on several lines; existing-key (append): the key is in the table already; foreign-key: no row of the referenced table has the value",
  ),
  column: z.string().nullable(),
  rows: z.number().int().describe('Rows with this problem'),
  examples: z.array(ProblemExampleSchema).describe('The first few, in file order'),
})
export type Problem = z.infer<typeof ProblemSchema>

export const CheckResultSchema = z.object({
  rows: z.number().int().describe("Rows in the import's table"),
  problems: z.array(ProblemSchema),
  rowsLeftOut: z.number().int().describe('Rows that cannot go in (with misfits: block, these stop the load)'),
  rowsSuperseded: z.number().int().describe('Upsert: rows whose key comes again on a line that wins'),
  effect: z.object({
    insert: z.number().int(),
    update: z.number().int(),
    unchanged: z.number().int().describe('Upsert: rows whose key is in the table with the same values'),
    delete: z.number().int().describe("Replace: the table's rows that go first"),
  }),
  blocked: z.boolean().describe('True when the load would not run: misfits is block and some row cannot go in'),
})
export type CheckResult = z.infer<typeof CheckResultSchema>

export const TargetColumnSchema = z.object({
  name: z.string(),
  type: z.string().describe('As PostgreSQL writes it, e.g. numeric(10,2)'),
  notNull: z.boolean(),
  default: z.string().nullable().describe('The default expression, if any'),
  generated: z.boolean().describe('Written by the database (a generated or GENERATED ALWAYS identity column): it cannot be mapped'),
  key: z.enum(['primary', 'unique']).nullable().describe('Whether the column is the primary key or a unique index by itself, or part of one'),
})

export const TargetSchema = z.object({
  table: TableRefSchema,
  columns: z.array(TargetColumnSchema),
  keys: z.array(z.object({ name: z.string(), primary: z.boolean(), columns: z.array(z.string()) })).describe('Primary key and unique indexes an upsert can match on'),
  rowsEstimate: z.number().int().describe("PostgreSQL's estimate of the table's rows"),
})
export type TargetDto = z.infer<typeof TargetSchema>

export const MappingSuggestionSchema = z.object({
  target: TargetSchema,
  mapping: z.array(
    z.object({
      column: z.string().describe("The table's column"),
      source: z.string().nullable().describe("The import's column suggested for it"),
      how: z.enum(['name', 'remembered', 'guess']).nullable().describe('name: the same name ignoring case, spaces, _ and -; remembered: your last load into this table from a file with these headers; guess: a similar name'),
    }),
  ),
  skipped: z.array(z.string()).describe("The import's columns no column of the table takes"),
})
export type MappingSuggestion = z.infer<typeof MappingSuggestionSchema>

export const TargetListSchema = z.object({
  tables: z.array(z.object({ schema: z.string(), name: z.string(), rowsEstimate: z.number().int() })).describe('At most 100, by schema and name'),
})

export const TargetListQuery = z.object({ search: z.string().max(200).optional() })
export const MappingQuery = z.object({ table: z.string().min(3).max(200).describe('schema.name') })

const LOAD_STATUSES = ['QUEUED', 'PROCESSING', 'PROCESSED', 'STOPPED', 'FAILED'] as const

export const LoadSchema = z.object({
  id: z.uuid(),
  importId: z.uuid(),
  table: TableRefSchema,
  mode: z.enum(LOAD_MODES),
  mapping: z.record(z.string(), z.string()),
  key: z.array(z.string()).nullable(),
  duplicates: z.enum(['first', 'last']),
  misfits: z.enum(['leave-out', 'block']),
  status: z.enum(LOAD_STATUSES).describe('PROCESSED: committed; STOPPED and FAILED: the table is as it was'),
  rowsTotal: z.number().int().nullable().describe('Rows to write, once checked'),
  rowsDone: z.number().int().describe('Rows written so far (in the load transaction, so not visible to others until it commits)'),
  rowsInserted: z.number().int(),
  rowsUpdated: z.number().int(),
  rowsUnchanged: z.number().int(),
  rowsDeleted: z.number().int(),
  rowsLeftOut: z.number().int(),
  error: z.string().nullable(),
  errorLine: z.number().int().nullable().describe("The file's line a failing constraint named, when it could be told"),
  createdAt: z.iso.datetime(),
  startedAt: z.iso.datetime().nullable(),
  finishedAt: z.iso.datetime().nullable(),
})
export type LoadDto = z.infer<typeof LoadSchema>

export const LoadListSchema = z.object({ loads: z.array(LoadSchema).describe('Newest first') })

export const LeftOutSchema = z.object({
  leftOut: z.array(
    z.object({
      line: z.number().int().nullable(),
      column: z.string().nullable(),
      reason: z.string(),
      value: z.string().nullable(),
    }),
  ),
  limit: z.number().int(),
  offset: z.number().int(),
})

export const LoadParams = z.object({ id: z.string() })
