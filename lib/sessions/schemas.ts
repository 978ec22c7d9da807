import { z } from 'zod'
import { COLUMN_TYPES } from '../csv/column-types'
import { UNPROCESSABLE_ISSUE } from '../http/errors'

const SESSION_STATUSES = ['OPEN', 'FINISHED', 'STOPPED'] as const

// PostgreSQL text cannot hold a NUL character.
const noNul = (s: string) => !s.includes('\0')
const NO_NUL = 'must not contain a NUL character (PostgreSQL text cannot hold it)'

/** A column as a record names it: any non-empty text (the table gets a safe name for it). */
const ColumnKey = z.string().min(1, 'must not be empty').max(1000).refine(noNul, NO_NUL)

// A PostgreSQL table has at most 1,600 columns; the import's own row number takes one.
export const MAX_SESSION_COLUMNS = 1599

/** A column given when a session opens: its key, or its key and its type (text unless said). */
const SessionColumn = z.union([
  ColumnKey,
  z.object({ name: ColumnKey, type: z.enum(COLUMN_TYPES).describe('The column\'s type in the table: a value that does not fit refuses its batch (422)') }),
])
const columnName = (c: z.infer<typeof SessionColumn>) => (typeof c === 'string' ? c : c.name)

/** The body of `POST /api/sessions`. */
export const CreateSessionBody = z.object({
  name: z.string().trim().min(1, 'must not be empty').max(200).refine(noNul, NO_NUL).describe('Shown as the import\'s name, like a file name'),
  columns: z
    .array(SessionColumn)
    .min(1)
    .max(MAX_SESSION_COLUMNS)
    .refine((cols) => new Set(cols.map(columnName)).size === cols.length, 'must not name a column twice')
    .optional()
    .describe('The keys records may have, in table order, each a name or {name, type}; without it, the keys of the first batch (text)'),
})
export type CreateSessionRequest = z.infer<typeof CreateSessionBody>

/** One field of a record: stored as text (numbers and booleans as JSON writes them), null as NULL. */
const FieldValue = z.union([
  z.string().refine(noNul, NO_NUL),
  z.number(),
  z.boolean(),
  z.null(),
])

/**
 * A record keyed `__proto__`: zod drops that key without a word (a guard against prototype
 * pollution), so the record would lose a field. It is refused like any key the session lacks.
 */
function refuseProtoKey(record: unknown, ctx: z.RefinementCtx): unknown {
  if (record !== null && typeof record === 'object' && Object.hasOwn(record, '__proto__')) {
    ctx.addIssue({ code: 'custom', message: 'the key "__proto__" cannot name a column; the batch was not applied', params: UNPROCESSABLE_ISSUE })
  }
  return record
}

/**
 * One record of a batch. The reference for what a record may be, and the OpenAPI document's;
 * the batch path checks records with the hand-written RecordColumns (batch-records.ts), which
 * its property test holds to this schema's answers.
 */
export const BatchRecord = z.preprocess(refuseProtoKey, z.record(z.string().refine(noNul, NO_NUL), FieldValue))

const Sequence = z
  .number()
  .int()
  .min(0)
  .max(Number.MAX_SAFE_INTEGER)
  .describe('The batch\'s number in the client\'s order: a batch sent again with the same sequence is not applied twice')

/** The body of `POST /api/sessions/:id/batches` as JSON. */
export const BatchBody = z.object({
  records: z.array(BatchRecord).describe('Records as objects keyed by column; a missing key is NULL'),
  sequence: Sequence.optional(),
})

/** A JSON batch as the route reads it: its records are checked one by one as they are written, not here. */
export const BatchEnvelope = z.object({ records: z.array(z.unknown()), sequence: Sequence.optional() })

/** The query of an NDJSON or CSV batch, whose body is only records. */
export const BatchQuery = z.object({
  sequence: z
    .string()
    .regex(/^\d{1,16}$/, 'must be a whole number, 0 or more')
    .transform(Number)
    .pipe(Sequence)
    .optional(),
})

/** The body of `POST /api/sessions/:id/finish`. */
export const FinishSessionBody = z.object({
  totalRecords: z.number().int().min(0).max(Number.MAX_SAFE_INTEGER).describe('Every record the client sent; the server checks it against what arrived'),
})

export const SessionParams = z.object({ id: z.string() })

/** A batch session as the API answers it. */
export const SessionSchema = z.object({
  id: z.uuid(),
  importId: z.uuid().describe('The import the records go into: steer and export it like any import'),
  name: z.string(),
  status: z.enum(SESSION_STATUSES).describe('OPEN takes batches; FINISHED once the total matched; STOPPED when its import was stopped'),
  columns: z.array(z.string()).describe('The keys records may have; empty until the first batch when none were given'),
  types: z.array(z.enum(COLUMN_TYPES)).describe('The type of each column, in the order of `columns`'),
  recordsReceived: z.number().int(),
  batchesReceived: z.number().int(),
  createdAt: z.iso.datetime(),
  finishedAt: z.iso.datetime().nullable(),
})
export type SessionDto = z.infer<typeof SessionSchema>

/** The answer to a batch: the session after it, and whether this request applied it. */
export const BatchResultSchema = z.object({
  session: SessionSchema,
  applied: z.boolean().describe('false when a batch with this sequence was applied before: nothing was added'),
  records: z.number().int().describe('Records in this batch'),
})
export type BatchResult = z.infer<typeof BatchResultSchema>
