import { z } from 'zod'
import { EXPORT_FORMATS, type ExportFormat } from './export-format'

const STATUSES = ['QUEUED', 'PROCESSING', 'PROCESSED', 'STOPPED', 'FAILED', 'EXPIRED'] as const

/** An end of a date range: a date, or a timestamp (with an offset, or UTC without one). */
const RangeEnd = z
  .union([z.iso.date(), z.iso.datetime({ offset: true, local: true })], {
    error: 'must be a date (2024-01-31) or an ISO 8601 timestamp (2024-01-31T12:00:00Z)',
  })
  // ISO 8601 has a year 0000; PostgreSQL's calendar goes from 1 BC to 1 AD without one.
  .refine((end) => !end.startsWith('0000'), 'must be in the year 0001 or later')

const MS_PER_DAY = 86_400_000
const isDate = (end: string) => /^\d{4}-\d{2}-\d{2}$/.test(end)
/** The first and last instant a range end covers (a date covers its whole day, in UTC). */
export const firstInstant = (end: string) => Date.parse(isDate(end) ? `${end}T00:00:00Z` : /[zZ]|[+-]\d\d:?\d\d$/.test(end) ? end : `${end}Z`)
export const lastInstant = (end: string) => (isDate(end) ? firstInstant(end) + MS_PER_DAY - 1 : firstInstant(end))
export const isDateOnly = isDate

const filterFields = {
  column: z.string().min(1).optional().describe("Column (its name in the table) the range filters on; rows whose value there is not a date or timestamp are left out"),
  from: RangeEnd.optional().describe('First date or instant included'),
  to: RangeEnd.optional().describe('Last date or instant included (a date includes its whole day)'),
}

type FilterFields = { column?: string | undefined; from?: string | undefined; to?: string | undefined }

/** from and to need a column, and from may not come after to (the object's own type is kept, for the OpenAPI document). */
function checkRange<S extends z.ZodType<FilterFields, Record<string, unknown>>>(schema: S): S {
  return schema
    .refine((f: FilterFields) => f.column !== undefined || (f.from === undefined && f.to === undefined), {
      message: 'is required with from or to: name the date column the range is on',
      path: ['column'],
    })
    .refine((f: FilterFields) => f.from === undefined || f.to === undefined || firstInstant(f.from) <= lastInstant(f.to), {
      message: 'must not be later than to',
      path: ['from'],
    })
}

const Format = z
  .enum(EXPORT_FORMATS)
  .default('standard')
  .describe(
    "`standard`: UTF-8, comma, LF, ISO dates and numbers (default). `as-written`: the file's own delimiter, quotes, line endings, encoding, byte-order mark, number and date conventions and missing markers. `excel`: standard values as UTF-8 with a byte-order mark and CRLF",
  )

/** The query of `GET /api/imports/:id/export.csv`. */
export const ExportQuery = checkRange(
  z.object({
    ...filterFields,
    protectFormulas: z
      .stringbool()
      .default(false)
      .describe('`true` to prefix values that a spreadsheet would run as a formula with a single quote (default `false`)'),
    format: Format,
  }),
)

/** The query of `GET /api/imports/:id/export-preview`. */
export const ExportPreviewQuery = checkRange(z.object(filterFields))
export type ExportPreviewQuery = z.infer<typeof ExportPreviewQuery>

/** The answer of `GET /api/imports/:id/export-preview`. */
export const ExportPreviewSchema = z.object({
  rows: z.number().int().describe('Rows the export of this range (or of all rows) writes now'),
  column: z
    .object({
      first: z.iso.date().nullable().describe("The column's first day among all rows (null when none holds a date)"),
      last: z.iso.date().nullable().describe("The column's last day among all rows"),
    })
    .optional()
    .describe('With a column: the days its values span, for choosing a range inside them'),
})
export type ExportPreview = z.infer<typeof ExportPreviewSchema>

/** The body of `POST /api/exports`. */
export const CreateExportBody = checkRange(
  z.object({
    importId: z.string().describe('The import whose rows are exported'),
    ...filterFields,
    protectFormulas: z.boolean().default(false).describe('Prefix values that a spreadsheet would run as a formula with a single quote'),
    format: Format,
  }),
)

/** What an export writes: which rows, whether formulas are defused, and in which format. */
export type ExportFilter = { column?: string | undefined; from?: string | undefined; to?: string | undefined; protectFormulas: boolean; format: ExportFormat }

/** An export job as the API answers it. */
export const ExportSchema = z.object({
  id: z.uuid(),
  importId: z.uuid(),
  status: z.enum(STATUSES),
  column: z.string().nullable(),
  from: z.string().nullable(),
  to: z.string().nullable(),
  protectFormulas: z.boolean(),
  format: z.enum(EXPORT_FORMATS),
  partial: z
    .boolean()
    .describe('true when the import was not yet PROCESSED: the file holds only the rows imported so far (rowsTotal of them), and its name ends in _partial'),
  fileName: z.string().describe('The name the download is saved under'),
  rowsTotal: z.number().int().nullable().describe('Rows that match, counted when the export starts'),
  rowsWritten: z.number().int(),
  bytesWritten: z.number().int(),
  error: z.string().nullable(),
  createdAt: z.iso.datetime(),
  startedAt: z.iso.datetime().nullable(),
  finishedAt: z.iso.datetime().nullable(),
  expiresAt: z.iso.datetime().nullable().describe('When the finished file is deleted'),
  downloadUrl: z.string().nullable().describe('Set while the finished file can be downloaded'),
  linkUrl: z
    .string()
    .nullable()
    .describe('The download link that works without signing in (POST …/link makes it), while the file can be downloaded; relative, like downloadUrl'),
})
export type ExportDto = z.infer<typeof ExportSchema>

/** The answer of `GET /api/exports`. */
export const ExportListSchema = z.object({ exports: z.array(ExportSchema).describe('Newest first, at most 100') })
export type ExportList = z.infer<typeof ExportListSchema>

export const ExportParams = z.object({ id: z.string() })

export const ExportListQuery = z.object({ import: z.string().min(1).optional() })
