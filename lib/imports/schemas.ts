import { z } from 'zod'
import { COLUMN_TYPES } from '../csv/column-types'
import { THOUSANDS_SEPARATORS } from '../csv/conventions'
import { ENCODINGS } from '../csv/encoding'

const STATUSES = ['QUEUED', 'RECEIVING', 'PROCESSING', 'PAUSED', 'PROCESSED', 'STOPPED', 'KILLED', 'FAILED'] as const

const DATE_ORDERS = ['DMY', 'MDY'] as const

const DateShapeSchema = z.object({
  separator: z.enum(['/', '.', '-']),
  yearDigits: z.union([z.literal(2), z.literal(4)]),
  padded: z.boolean().describe('Day and month always have two digits'),
  time: z.enum(['', 'HH:MM', 'HH:MM:SS']),
})

const ColumnFormatSchema = z
  .object({
    number: z
      .object({
        decimal: z.enum(['.', ',']),
        thousands: z.enum(['', ...THOUSANDS_SEPARATORS]).describe('Groups thousands; empty when the values do not group them'),
        plus: z.boolean().describe('Every positive value is written with a leading +'),
      })
      .optional(),
    date: DateShapeSchema.extend({ order: z.enum(DATE_ORDERS) }).optional(),
    missing: z.string().optional().describe('The value that marks a missing one (NULL, N/A, -, …): read as NULL'),
  })
  .describe("How the file writes the column's values, when that is not ISO")

export const ImportColumnSchema = z.object({
  name: z.string().describe('Column name in the table (safe, unique)'),
  header: z.string().describe('The header as it was in the file'),
  type: z.enum(COLUMN_TYPES).describe('PostgreSQL type of the column, inferred from the start of the file'),
  format: ColumnFormatSchema.optional(),
  dateReadings: z
    .array(z.enum(DATE_ORDERS))
    .optional()
    .describe('For a text column of dates whose day-month order the start of the file cannot tell (every day is 12 or less): the orders it could be read in'),
  dateShape: DateShapeSchema.optional().describe('With dateReadings: the rest of the dates\' pattern, for the format of the reading chosen'),
})

export const DialectSchema = z
  .object({
    encoding: z.enum(ENCODINGS),
    bom: z.number().int().describe('Bytes of the byte-order mark at the start of the file'),
    delimiter: z.enum([',', ';', '\t', '|']),
    quote: z.enum(['"', "'"]),
    escape: z.enum(['"', "'", '\\']).describe('Escapes a quote inside quotes: the quote itself or a backslash'),
    newline: z.enum(['\n', '\r\n', '\r']),
    header: z.boolean().describe('Whether the first line names the columns'),
    dateOrder: z.enum(DATE_ORDERS).optional().describe('The order of dates that are not ISO (31.01.2024 is DMY); absent when the file has none'),
  })
  .describe('How the file is written, detected on its first bytes')

/** An import as the API answers it. */
export const ImportSchema = z.object({
  id: z.uuid(),
  uploadId: z.string().nullable().describe('The tus upload it reads; null for an import fed by a batch session'),
  fileName: z.string(),
  status: z.enum(STATUSES),
  rowsImported: z.number().int(),
  rowsRejected: z.number().int(),
  bytesProcessed: z.number().int().describe('Byte offset of the next unread record: the checkpoint'),
  totalBytes: z.number().int().describe('The file\'s size; for a batch session, the CSV bytes its records came to so far'),
  bytesUploaded: z
    .number()
    .int()
    .nullable()
    .optional()
    .describe(
      'Bytes of the file the server has received so far: the import starts with its upload and reads no further. Null for a batch session; in lists and when an import is read, not in a command\'s answer',
    ),
  columns: z.array(ImportColumnSchema),
  dialect: DialectSchema.nullable().describe('Null until the file is read, and for a batch session'),
  tableName: z.string().describe('Schema-qualified table that holds the rows, e.g. imported.sales_3f9a1c2e'),
  fileOrder: z.string().describe("The columns that order the table's rows as the file had them, for ORDER BY, e.g. _sluice_batch, COALESCE(_sluice_row, sluice.sluice_place(ctid))"),
  error: z.string().nullable(),
  failedOn: z
    .enum(['file', 'server'])
    .nullable()
    .describe("For a FAILED import: 'file' when the file itself cannot be imported (resume would fail again: upload a corrected file), 'server' when resume retries from the checkpoint"),
  createdAt: z.iso.datetime(),
  startedAt: z.iso.datetime().nullable(),
  pausedAt: z.iso.datetime().nullable(),
  pauseExpiresAt: z.iso.datetime().nullable().describe('When the pause timeout will end this paused import as kill does (its rows kept)'),
  finishedAt: z.iso.datetime().nullable(),
  storage: z
    .object({
      tableBytes: z.number().int().describe("What the import's table takes in PostgreSQL, its indexes included"),
      fileBytes: z.number().int().describe('What its uploaded file takes on disk: 0 once it is deleted (after a finished import, unless KEEP_UPLOADED_FILES)'),
    })
    .optional()
    .describe('What the import occupies; when an import is read, not in lists or a command\'s answer'),
  owner: z
    .object({ name: z.string(), email: z.string() })
    .nullable()
    .optional()
    .describe('Who made it (an admin sees everyone\'s imports); in lists and when an import is read, not in a command\'s answer'),
})
export type ImportDto = z.infer<typeof ImportSchema>

/** The answer of `GET /api/imports`. */
export const ImportListSchema = z.object({ imports: z.array(ImportSchema).describe('Newest first, at most 200') })
export type ImportList = z.infer<typeof ImportListSchema>

export const ImportParams = z.object({ id: z.string() })

export const ImportListQuery = z.object({ upload: z.string().min(1).optional() })

export const RowsQuery = z.object({
  limit: z.coerce.number().int().min(1).max(1000).default(50),
  offset: z.coerce.number().int().min(0).default(0),
})

export const RejectSchema = z.object({ line: z.number().int(), reason: z.string(), record: z.string() })
export type RejectDto = z.infer<typeof RejectSchema>

/** The answer of `GET /api/imports/:id/rejects`: a page of rejected records, in file order. */
export const RejectsPageSchema = z.object({ rejects: z.array(RejectSchema), limit: z.number().int(), offset: z.number().int() })
export type RejectsPage = z.infer<typeof RejectsPageSchema>

export const RowsPageSchema = z.object({
  columns: z.array(ImportColumnSchema),
  rows: z.array(z.record(z.string(), z.string().nullable())),
  limit: z.number().int(),
  offset: z.number().int(),
})
export type RowsPage = z.infer<typeof RowsPageSchema>

export const ImportCommandParams = z.object({ id: z.string(), action: z.string() })

export const ColumnParams = z.object({ id: z.string(), column: z.string().describe("The column's name in the table") })

/** The body of `PATCH /api/imports/:id/columns/:column`. */
export const RetypeColumnBody = z.object({
  type: z.enum(COLUMN_TYPES).describe('The type the column becomes'),
  format: ColumnFormatSchema.optional().describe(
    'How the file writes the values, when not as ISO: `number` (decimal and thousands separators), `date` (the order, and the rest of the pattern for exports as written), `missing` (a marker read as NULL)',
  ),
})

/** What a type change did: the values converted, and the rows set aside as rejects. */
export const RetypeResultSchema = z.object({
  import: ImportSchema,
  converted: z.number().int().describe('Rows whose value was converted (or was empty)'),
  rejected: z.number().int().describe('Rows whose value did not fit: they left the table for the rejects, with their line'),
})
