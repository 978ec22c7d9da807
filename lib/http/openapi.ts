import { z } from 'zod'
import { createDocument, type CreateDocumentOptions, type oas31, type ZodOpenApiOperationObject, type ZodOpenApiResponsesObject } from 'zod-openapi'
import packageJson from '../../package.json'
import {
  CreateExportBody,
  ExportListQuery,
  ExportListSchema,
  ExportParams,
  ExportPreviewQuery,
  ExportPreviewSchema,
  ExportQuery,
  ExportSchema,
} from '../exports/schemas'
import { IMPORT_COMMANDS } from '../imports/import-status'
import {
  ImportCommandParams,
  ImportListQuery,
  ImportListSchema,
  ColumnParams,
  ImportParams,
  RetypeColumnBody,
  RetypeResultSchema,
  ImportSchema,
  RejectSchema,
  RejectsPageSchema,
  RowsPageSchema,
  RowsQuery,
} from '../imports/schemas'
import {
  CheckResultSchema,
  LeftOutSchema,
  LoadListSchema,
  LoadParams,
  LoadRequestSchema,
  LoadSchema,
  MappingQuery,
  MappingSuggestionSchema,
  TargetListQuery,
  TargetListSchema,
} from '../loads/schemas'
import { BatchBody, BatchQuery, BatchResultSchema, CreateSessionBody, FinishSessionBody, SessionParams, SessionSchema } from '../sessions/schemas'
import { UPLOAD_EXPIRY_MS } from '../uploads/tus-server'
import {
  AccountDtoSchema,
  AccountListSchema,
  AccountParams,
  ApiKeyDtoSchema,
  CreateAccountBody,
  CreatedInviteSchema,
  CreatedKeySchema,
  CreateInviteBody,
  CreateKeyBody,
  InstanceSettingsSchema,
  InviteListSchema,
  InviteParams,
  KeyListSchema,
  KeyParams,
  MeSchema,
  SetupBody,
  UpdateAccountBody,
} from '../auth/schemas'
import { ErrorBodySchema, statusOf, type ErrorCode } from './errors'

// The OpenAPI 3.1 document of every route under app/api, built from the zod schemas the
// handlers parse their input with and type their answers with (lib/<noun>/schemas.ts).
// lib/http/openapi.test.ts fails when a route handler is missing here or an operation here
// has no handler.

const json = (schema: z.ZodType) => ({ 'application/json': { schema } })
const csv = { 'text/csv': { schema: z.string().describe('CSV (RFC 4180), UTF-8, with a header line') } }
const text = { 'text/plain': { schema: z.string() } }

const ok = (description: string, schema: z.ZodType) => ({ description, content: json(schema) })

// Operations anyone may call: they are how a credential is had (or need none).
const PUBLIC = { security: [] }

const LinkParams = z.object({ token: z.string().describe('The token in the link') })

/** Error answers in the `{"error": {...}}` envelope, keyed by their code's status. */
function errors(reasons: Partial<Record<ErrorCode, string>>): ZodOpenApiResponsesObject {
  return Object.fromEntries(
    Object.entries(reasons).map(([code, description]) => [statusOf(code as ErrorCode), { description, content: json(ErrorBodySchema) }]),
  )
}

/** An error envelope whose `details` has a known shape. */
const errorWithDetails = (code: ErrorCode, details: z.ZodType) =>
  z.object({ error: z.object({ code: z.literal(code), message: z.string(), details }) })

const location = (description: string) => z.object({ Location: z.string().describe(description) })

// ---- imports ---------------------------------------------------------------------------------

// The handler takes any text as the action and answers 404 for one it does not know; the
// document names the four it knows.
const ImportCommandPath = ImportCommandParams.extend({ action: z.enum(IMPORT_COMMANDS).describe('The command') })

const imports = {
  '/api/imports': {
    get: {
      tags: ['Imports'],
      operationId: 'listImports',
      summary: 'List imports',
      description: 'Imports, newest first. `upload` filters to the import of one tus upload.',
      requestParams: { query: ImportListQuery },
      responses: { 200: ok('The imports', ImportListSchema), ...errors({ BAD_REQUEST: 'An empty `upload`' }) },
    },
  },
  '/api/imports/{id}': {
    get: {
      tags: ['Imports'],
      operationId: 'getImport',
      summary: 'Get an import',
      description: 'Status, progress (`bytesProcessed` of `totalBytes`, rows imported and rejected) and columns. Poll it to follow an import.',
      requestParams: { path: ImportParams },
      responses: { 200: ok('The import', ImportSchema), ...errors({ NOT_FOUND: 'No import with this id' }) },
    },
    delete: {
      tags: ['Imports'],
      operationId: 'deleteImport',
      summary: 'Delete an import',
      description:
        'The import is gone for good: one still under way is stopped first, then its table, its uploaded file, its rejects and its exports (their files and download links) are deleted. There is no undo.',
      requestParams: { path: ImportParams },
      responses: { 204: { description: 'Deleted: the next request for it answers 404' }, ...errors({ NOT_FOUND: 'No import of yours with this id' }) },
    },
  },
  '/api/imports/{id}/{action}': {
    post: {
      tags: ['Imports'],
      operationId: 'commandImport',
      summary: 'Pause, resume, stop or kill an import',
      description: [
        '- `pause`: a running import stops after its current batch and waits; after `PAUSE_TIMEOUT_SECONDS` it is ended as kill does (its rows kept, resumable).',
        '- `resume`: a paused, killed or failed import continues from its checkpoint.',
        '- `stop`: the import ends and every row it wrote is removed (its table is dropped).',
        '- `kill`: the batch in flight is aborted now; committed rows and the checkpoint stay, so resume continues.',
      ].join('\n'),
      requestParams: { path: ImportCommandPath },
      responses: {
        200: ok('The import as it is after the command', ImportSchema),
        ...errors({
          NOT_FOUND: 'No import with this id, or no such command',
          INVALID_TRANSITION: 'The import is in a status the command does not apply to',
        }),
      },
    },
  },
  '/api/imports/{id}/rows': {
    get: {
      tags: ['Imports'],
      operationId: 'listImportRows',
      summary: 'A page of imported rows',
      description: 'Rows in file order, keyed by column name; empty before the first batch and after stop.',
      requestParams: { path: ImportParams, query: RowsQuery },
      responses: {
        200: ok('The page', RowsPageSchema),
        ...errors({ BAD_REQUEST: '`limit` or `offset` out of range', NOT_FOUND: 'No import with this id' }),
      },
    },
  },
  '/api/imports/{id}/rejects': {
    get: {
      tags: ['Imports'],
      operationId: 'listImportRejects',
      summary: 'A page of rejected records',
      description: 'Records that could not be imported (for example a wrong number of fields), with their line and the reason, in file order.',
      requestParams: { path: ImportParams, query: RowsQuery },
      responses: {
        200: ok('The page', RejectsPageSchema),
        ...errors({ BAD_REQUEST: '`limit` or `offset` out of range', NOT_FOUND: 'No import with this id' }),
      },
    },
  },
  '/api/imports/{id}/columns/{column}': {
    patch: {
      tags: ['Imports'],
      operationId: 'retypeImportColumn',
      summary: "Change a column's type",
      description:
        "Converts a finished file import's column to another type in one transaction, reading its values as `format` says (`1.234,56`, `31.01.2024`, a missing marker). A value that does not fit becomes a reject with its line, and its row leaves the table; when more than a tenth of the values (and more than ten) do not fit, nothing changes (422).",
      requestParams: { path: ColumnParams },
      requestBody: { required: true, content: json(RetypeColumnBody) },
      responses: {
        200: ok('The import with its new column, and what the change did', RetypeResultSchema),
        ...errors({
          BAD_REQUEST: 'The body is not a type and a format',
          NOT_FOUND: 'No import with this id, or no such column',
          INVALID_TRANSITION: 'The import has not finished, or is a batch session',
          UNPROCESSABLE: 'More than a tenth of the values do not fit',
        }),
      },
    },
  },
  '/api/imports/{id}/rejects.csv': {
    get: {
      tags: ['Imports'],
      operationId: 'downloadImportRejects',
      summary: 'Download the rejected records as CSV',
      description: 'Every rejected record (`line`, `reason`, `record`: the record as it was in the file), in file order, streamed.',
      requestParams: { path: ImportParams },
      responses: {
        200: {
          description: 'The CSV, sent as it is read (chunked)',
          content: { 'text/csv': { schema: z.string().describe('CSV (RFC 4180), UTF-8, with the header line `line,reason,record`') } },
          headers: z.object({ 'Content-Disposition': z.string().describe('attachment, named after the file: `<name>-rejects.csv`') }),
        },
        ...errors({ NOT_FOUND: 'No import with this id' }),
      },
    },
  },
  '/api/imports/{id}/export.csv': {
    get: {
      tags: ['Imports', 'Exports'],
      operationId: 'streamImportCsv',
      summary: 'Stream the rows as CSV',
      description:
        'The rows (all, or those whose `column` lies from `from` to `to`) streamed as CSV while PostgreSQL reads them; nothing is stored on the server and a client that goes away cancels the query, and one that stops reading for two minutes is cut off. For a file that can be resumed, create an export job instead.',
      requestParams: { path: ImportParams, query: ExportQuery },
      responses: {
        200: { description: 'The CSV, sent as it is read (chunked)', content: csv, headers: z.object({ 'Content-Disposition': z.string() }) },
        ...errors({
          BAD_REQUEST: 'A bad range, or a column the import does not have',
          NOT_FOUND: 'No import with this id',
          INVALID_TRANSITION: 'The import was stopped, or has not read its header yet',
          UNAVAILABLE: 'MAX_EXPORT_STREAMS exports are streaming already; `Retry-After` says when to try again (or create an export job)',
        }),
      },
    },
  },
  '/api/imports/{id}/export-preview': {
    get: {
      tags: ['Imports', 'Exports'],
      operationId: 'previewImportExport',
      summary: 'Count the rows an export would write',
      description:
        'How many rows an export of all rows, or of those whose `column` lies from `from` to `to`, writes now; with a column, the first and last day its values hold. Counts without writing anything.',
      requestParams: { path: ImportParams, query: ExportPreviewQuery },
      responses: {
        200: ok('The count, and the column\'s days', ExportPreviewSchema),
        ...errors({
          BAD_REQUEST: 'A bad range, or a column the import does not have or that holds no dates',
          NOT_FOUND: 'No import with this id',
          INVALID_TRANSITION: 'The import was stopped, or has not read its header yet',
        }),
      },
    },
  },
}

// ---- exports ---------------------------------------------------------------------------------

const RangeNotSatisfiableSchema = z.object({
  error: z.object({ code: z.literal('RANGE_NOT_SATISFIABLE'), message: z.string() }),
})

/** GET and HEAD of an export's file: the same answers, HEAD without the body. */
function download(method: 'GET' | 'HEAD', via: 'export' | 'link' = 'export'): ZodOpenApiOperationObject {
  const body = method === 'GET' ? { content: csv } : {}
  const fileHeaders = z.object({
    'Content-Length': z.int().describe('Bytes of this answer (of the range, for 206)'),
    'Content-Disposition': z.string().describe('attachment, with the export\'s file name'),
    'Accept-Ranges': z.literal('bytes'),
    ETag: z.string().describe('Strong: the file never changes'),
    'Last-Modified': z.string(),
  })
  const link = via === 'link'
  return {
    ...(link && PUBLIC),
    tags: ['Exports'],
    operationId: link ? (method === 'GET' ? 'downloadLink' : 'headLink') : method === 'GET' ? 'downloadExport' : 'headExport',
    summary: link
      ? method === 'GET'
        ? 'Download an export\'s file by its link, without signing in'
        : 'The link\'s download headers, without the file'
      : method === 'GET'
        ? 'Download the export\'s file'
        : 'The download\'s headers, without the file',
    description: `${link ? 'The link an export\'s owner made (`POST /api/exports/{id}/link`) and sent: its token is the credential. ' : ''}A download that resumes: one byte \`Range\` (several are answered with the whole file), \`If-Range\`, and \`ETag\` with \`If-None-Match\`.`,
    requestParams: {
      path: link ? LinkParams : ExportParams,
      header: z.object({
        Range: z.string().optional().describe('One byte range, e.g. `bytes=1000-`'),
        'If-Range': z.string().optional().describe('The ETag of the file the client has part of: the range holds only for that file'),
        'If-None-Match': z.string().optional().describe('An ETag the client has: 304 when it is this file'),
      }),
    },
    responses: {
      200: { description: 'The whole file', headers: fileHeaders, ...body },
      206: { description: 'The requested range', headers: fileHeaders.extend({ 'Content-Range': z.string().describe('e.g. `bytes 1000-1999/2000`') }), ...body },
      304: { description: 'The client has this file (If-None-Match)', headers: fileHeaders.pick({ ETag: true }) },
      ...(link
        ? errors({ NOT_FOUND: 'No such link: it was revoked, or its file expired' })
        : errors({
            NOT_FOUND: 'No export with this id',
            INVALID_TRANSITION: 'The export has not finished (or was stopped or failed)',
            GONE: 'The export expired and its file was deleted',
          })),
      416: {
        description: 'The range lies outside the file',
        headers: z.object({ 'Content-Range': z.string().describe('`bytes */<size>`') }),
        content: json(RangeNotSatisfiableSchema),
      },
    },
  }
}

const exports = {
  '/api/exports': {
    get: {
      tags: ['Exports'],
      operationId: 'listExports',
      summary: 'List export jobs',
      description: 'Export jobs, newest first; `import` filters to one import\'s.',
      requestParams: { query: ExportListQuery },
      responses: { 200: ok('The export jobs', ExportListSchema), ...errors({ BAD_REQUEST: 'An empty `import`' }) },
    },
    post: {
      tags: ['Exports'],
      operationId: 'createExport',
      summary: 'Start an export job',
      description: 'Writes the rows (all, or a date range on one column) to a file on the server, with progress and stop. Poll the export until `downloadUrl` is set.',
      requestBody: { required: true, content: json(CreateExportBody) },
      responses: {
        201: { ...ok('The export, queued', ExportSchema), headers: location('The export: `/api/exports/{id}`') },
        ...errors({
          BAD_REQUEST: 'Malformed JSON, an invalid body, or a column the import does not have',
          NOT_FOUND: 'No import with this id',
          INVALID_TRANSITION: 'The import was stopped, or has not read its header yet',
          UNSUPPORTED_MEDIA_TYPE: 'The body is not sent as application/json, application/x-ndjson or text/csv',
        }),
      },
    },
  },
  '/api/exports/{id}': {
    get: {
      tags: ['Exports'],
      operationId: 'getExport',
      summary: 'Get an export job',
      requestParams: { path: ExportParams },
      responses: { 200: ok('The export', ExportSchema), ...errors({ NOT_FOUND: 'No export with this id' }) },
    },
  },
  '/api/exports/{id}/stop': {
    post: {
      tags: ['Exports'],
      operationId: 'stopExport',
      summary: 'Stop an export job',
      description: 'The query in flight is cancelled and the partial file removed.',
      requestParams: { path: ExportParams },
      responses: {
        200: ok('The export, stopped', ExportSchema),
        ...errors({ NOT_FOUND: 'No export with this id', INVALID_TRANSITION: 'The export is no longer queued or running' }),
      },
    },
  },
  '/api/exports/{id}/download': { get: download('GET'), head: download('HEAD') },
  '/api/exports/{id}/link': {
    post: {
      tags: ['Exports'],
      operationId: 'shareExport',
      summary: 'Make (or get) the export\'s send-able download link',
      description: 'A link to this one file that works without signing in, until the file expires or the link is revoked. Made at the first call; the same link after that.',
      requestParams: { path: ExportParams },
      responses: {
        200: ok('The export, with `linkUrl` set', ExportSchema),
        ...errors({ NOT_FOUND: 'No export with this id', INVALID_TRANSITION: 'The export has not finished, or it expired' }),
      },
    },
    delete: {
      tags: ['Exports'],
      operationId: 'revokeExportLink',
      summary: 'Revoke the export\'s download link',
      description: 'The link answers 404 from now on; a new call to POST makes a new one.',
      requestParams: { path: ExportParams },
      responses: { 200: ok('The export, with `linkUrl` null', ExportSchema), ...errors({ NOT_FOUND: 'No export with this id' }) },
    },
  },
  '/api/links/{token}': { get: download('GET', 'link'), head: download('HEAD', 'link') },
}


// ---- uploads (tus 1.0.0, answered by @tus/server) ---------------------------------------------

const TusResumable = z.literal('1.0.0').describe('The tus protocol version')
const UploadOffset = z.int().min(0).describe('Bytes of the upload the server has')
const UploadExpires = z.string().describe(`When an unfinished upload is removed (RFC 9110 date): ${UPLOAD_EXPIRY_MS / 3_600_000} hours after its creation`)
const UploadId = z.object({ id: z.string().describe('The upload\'s id: the last segment of the Location answered at creation') })
const tusHeaders = z.object({ 'Tus-Resumable': TusResumable })
const tusRequest = { header: tusHeaders.describe('Required on every request but OPTIONS') }
const binary = { 'application/offset+octet-stream': { schema: z.string().meta({ contentMediaType: 'application/octet-stream' }) } }

/** A tus refusal: plain text, with the protocol version. */
const tusError = (description: string) => ({ description, content: text, headers: tusHeaders })

/** What @tus/server checks before any handler: the headers' values, then Tus-Resumable's presence. */
const tusRefusals = {
  400: tusError('A header with an invalid value: a Tus-Resumable other than 1.0.0, an offset or length that is not a number, a PATCH Content-Type other than application/offset+octet-stream'),
  412: tusError('No Tus-Resumable header'),
}

const tusPreflight = (path: string): ZodOpenApiOperationObject => ({
  tags: ['Uploads (tus)'],
  operationId: path === '/api/uploads' ? 'tusOptions' : 'tusOptionsUpload',
  summary: path === '/api/uploads' ? 'The server\'s tus capabilities' : 'Preflight for an upload\'s HEAD, PATCH and DELETE',
  description: 'Answers CORS preflights with the headers tus clients need.',
  responses: {
    204: {
      description: 'The protocol versions, extensions and size limit',
      headers: tusHeaders.extend({
        'Tus-Version': z.literal('1.0.0'),
        'Tus-Extension': z.string().describe('`creation,creation-with-upload,termination,expiration`'),
        'Tus-Max-Size': z.int().describe('MAX_UPLOAD_BYTES'),
        'Access-Control-Allow-Methods': z.string(),
        'Access-Control-Allow-Headers': z.string(),
        'Access-Control-Expose-Headers': z.string(),
      }),
    },
  },
})

const uploads = {
  '/api/uploads': {
    options: tusPreflight('/api/uploads'),
    post: {
      tags: ['Uploads (tus)'],
      operationId: 'createUpload',
      summary: 'Create an upload (tus creation, creation-with-upload)',
      description:
        'Starts a resumable upload of `Upload-Length` bytes; send the bytes with PATCH to the answered Location, or (creation-with-upload) the first of them in this request\'s body. When the last byte arrives, the file\'s import is queued: find it with `GET /api/imports?upload=<id>`. Sluice does not offer creation-defer-length: the size must be known.',
      requestParams: {
        header: tusHeaders.extend({
          'Upload-Length': z.int().min(0).describe('The file\'s size in bytes'),
          'Upload-Metadata': z
            .string()
            .describe('Comma-separated `key base64(value)` pairs: `filename` (required: the import is named after it) and `filetype`'),
        }),
      },
      requestBody: { required: false, description: 'creation-with-upload: the first bytes of the file', content: binary },
      responses: {
        201: {
          description: 'Created',
          headers: tusHeaders.extend({
            Location: z.string().describe('The upload\'s URL, relative: `/api/uploads/{id}`'),
            'Upload-Offset': UploadOffset.optional().describe('With creation-with-upload: the bytes received'),
            'Upload-Expires': UploadExpires,
          }),
        },
        ...tusRefusals,
        400: tusError('A header with an invalid value, no Upload-Length, or Upload-Metadata without `filename`'),
        413: tusError('Upload-Length is over MAX_UPLOAD_BYTES'),
        501: tusError('Upload-Defer-Length or Upload-Concat: extensions Sluice does not offer'),
      },
    },
  },
  '/api/uploads/{id}': {
    options: tusPreflight('/api/uploads/{id}'),
    head: {
      tags: ['Uploads (tus)'],
      operationId: 'getUploadOffset',
      summary: 'How much of an upload arrived',
      description: 'A client resumes an interrupted upload by asking for its offset, then PATCHing from there.',
      requestParams: { path: UploadId, ...tusRequest },
      responses: {
        200: {
          description: 'The upload\'s offset, size and metadata (no body)',
          headers: tusHeaders.extend({
            'Upload-Offset': UploadOffset,
            'Upload-Length': z.int().min(0),
            'Upload-Metadata': z.string(),
            'Cache-Control': z.literal('no-store'),
          }),
        },
        ...tusRefusals,
        404: tusError('No upload with this id'),
        410: tusError('The upload expired'),
      },
    },
    patch: {
      tags: ['Uploads (tus)'],
      operationId: 'appendToUpload',
      summary: 'Send bytes of an upload',
      description: 'Appends the body at `Upload-Offset`, which must be the server\'s offset.',
      requestParams: { path: UploadId, header: tusHeaders.extend({ 'Upload-Offset': UploadOffset.describe('Where these bytes start') }) },
      requestBody: { required: true, content: binary },
      responses: {
        204: { description: 'The bytes were stored', headers: tusHeaders.extend({ 'Upload-Offset': UploadOffset, 'Upload-Expires': UploadExpires }) },
        ...tusRefusals,
        403: tusError('No Upload-Offset or no Content-Type header'),
        404: tusError('No upload with this id'),
        409: tusError('Upload-Offset is not the server\'s offset: ask with HEAD and resume from there'),
        410: tusError('The upload expired'),
        413: tusError('The bytes go beyond Upload-Length'),
      },
    },
    delete: {
      tags: ['Uploads (tus)'],
      operationId: 'deleteUpload',
      summary: 'Remove an upload (tus termination)',
      requestParams: { path: UploadId, ...tusRequest },
      responses: {
        204: { description: 'Removed', headers: tusHeaders },
        ...tusRefusals,
        404: tusError('No upload with this id'),
        409: tusError('An import still reads this upload: stop the import to remove it'),
        410: tusError('The upload expired'),
      },
    },
  },
}

// ---- batch sessions --------------------------------------------------------------------------

const sessions = {
  '/api/load-targets': {
    get: {
      tags: ['Loads'],
      operationId: 'listLoadTargets',
      summary: 'List the tables you may load into',
      description: "An admin may load into any table outside Sluice's own schemas that the database role can insert into; anyone else into the tables of the schemas in `LOAD_SCHEMAS`. `search` keeps the tables whose `schema.name` contains it.",
      requestParams: { query: TargetListQuery },
      responses: { 200: ok('The tables, by schema and name', TargetListSchema) },
    },
  },
  '/api/imports/{id}/loads/mapping': {
    get: {
      tags: ['Loads'],
      operationId: 'suggestLoadMapping',
      summary: "Describe a table and match the import's columns to it",
      description: "The table's columns (type, nullability, default, key) as the catalog has them, and for each the import's column that would fill it: the same name ignoring case, spaces, `_` and `-`; else the one you mapped last for this table from a file with these headers; else a similar name (a guess).",
      requestParams: { path: ImportParams, query: MappingQuery },
      responses: {
        200: ok('The table and the suggested mapping', MappingSuggestionSchema),
        ...errors({ NOT_FOUND: 'No import with this id, or no such table', FORBIDDEN: 'A schema you may not load into' }),
      },
    },
  },
  '/api/imports/{id}/loads/check': {
    post: {
      tags: ['Loads'],
      operationId: 'checkLoad',
      summary: 'Check a load without writing anything',
      description: "What the load would do (rows to insert, update, leave unchanged, delete) and what stands in its way, with counts and the first examples with the file's line: values the column's exact type refuses, missing values for NOT NULL columns, the same key on several lines, keys the table has already (append), values a foreign key refuses.",
      requestParams: { path: ImportParams },
      requestBody: { required: true, content: json(LoadRequestSchema) },
      responses: {
        200: ok('The check', CheckResultSchema),
        ...errors({
          BAD_REQUEST: 'Malformed JSON or an invalid body',
          FORBIDDEN: "A schema you may not load into, one of Sluice's own, or a table the database role may not write",
          NOT_FOUND: 'No import with this id, or no such table',
          INVALID_TRANSITION: 'The import is not processed',
          UNPROCESSABLE: 'A mapping that cannot work: an unknown column, a NOT NULL column without a default left unmapped, a key that is not unique',
          UNSUPPORTED_MEDIA_TYPE: 'The body is not sent as application/json, application/x-ndjson or text/csv',
        }),
      },
    },
  },
  '/api/imports/{id}/loads': {
    get: {
      tags: ['Loads'],
      operationId: 'listLoads',
      summary: "List an import's loads",
      requestParams: { path: ImportParams },
      responses: { 200: ok('The loads, newest first', LoadListSchema), ...errors({ NOT_FOUND: 'No import with this id' }) },
    },
    post: {
      tags: ['Loads'],
      operationId: 'createLoad',
      summary: 'Load the import into a table',
      description: 'Starts a load job: the check, then every write, in one transaction. Rows that cannot go in are left out (listed with line, column and reason) or, with `misfits: block`, stop the load. A stop or any error leaves the table exactly as it was. Poll the load for progress.',
      requestParams: { path: ImportParams },
      requestBody: { required: true, content: json(LoadRequestSchema) },
      responses: {
        202: { ...ok('The load, queued', LoadSchema), headers: location('The load: `/api/loads/{id}`') },
        ...errors({
          BAD_REQUEST: 'Malformed JSON or an invalid body',
          FORBIDDEN: "A schema you may not load into, one of Sluice's own, or a table the database role may not write",
          NOT_FOUND: 'No import with this id, or no such table',
          INVALID_TRANSITION: 'The import is not processed',
          UNPROCESSABLE: 'A mapping that cannot work',
          UNSUPPORTED_MEDIA_TYPE: 'The body is not sent as application/json, application/x-ndjson or text/csv',
        }),
      },
    },
  },
  '/api/loads/{id}': {
    get: {
      tags: ['Loads'],
      operationId: 'getLoad',
      summary: 'Get a load',
      requestParams: { path: LoadParams },
      responses: { 200: ok('The load', LoadSchema), ...errors({ NOT_FOUND: 'No load with this id' }) },
    },
  },
  '/api/loads/{id}/stop': {
    post: {
      tags: ['Loads'],
      operationId: 'stopLoad',
      summary: 'Stop a load',
      description: 'Its transaction rolls back: the table is exactly as it was.',
      requestParams: { path: LoadParams },
      responses: {
        200: ok('The load, stopped', LoadSchema),
        ...errors({ NOT_FOUND: 'No load with this id', INVALID_TRANSITION: 'The load is no longer queued or running' }),
      },
    },
  },
  '/api/loads/{id}/left-out': {
    get: {
      tags: ['Loads'],
      operationId: 'listLeftOut',
      summary: 'The rows a load left out',
      description: "One entry per problem of each row left out, in the file's order, with its line, column and reason.",
      requestParams: { path: LoadParams, query: RowsQuery },
      responses: { 200: ok('A page of them', LeftOutSchema), ...errors({ NOT_FOUND: 'No load with this id' }) },
    },
  },
  '/api/loads/{id}/left-out.csv': {
    get: {
      tags: ['Loads'],
      operationId: 'downloadLeftOut',
      summary: 'The rows a load left out, as CSV',
      description: 'Every one, in file order: line, column, value, reason.',
      requestParams: { path: LoadParams },
      responses: { 200: { description: 'The rows left out', content: csv }, ...errors({ NOT_FOUND: 'No load with this id' }) },
    },
  },
  '/api/sessions': {
    post: {
      tags: ['Batch sessions'],
      operationId: 'createSession',
      summary: 'Open a batch session',
      description: 'Opens a session and its import. Send records with `/batches`, then `/finish` with the total you sent.',
      requestBody: { required: true, content: json(CreateSessionBody) },
      responses: {
        201: { ...ok('The session, open', SessionSchema), headers: location('The session: `/api/sessions/{id}`') },
        ...errors({ BAD_REQUEST: 'Malformed JSON or an invalid body', UNSUPPORTED_MEDIA_TYPE: 'The body is not sent as application/json' }),
      },
    },
  },
  '/api/sessions/{id}': {
    get: {
      tags: ['Batch sessions'],
      operationId: 'getSession',
      summary: 'Get a batch session',
      requestParams: { path: SessionParams },
      responses: { 200: ok('The session, with the records and batches that arrived so far', SessionSchema), ...errors({ NOT_FOUND: 'No session with this id' }) },
    },
  },
  '/api/sessions/{id}/batches': {
    post: {
      tags: ['Batch sessions'],
      operationId: 'appendBatch',
      summary: 'Send a batch of records',
      description:
        'Appends the records atomically: all or none. A batch sent again with the same `sequence` and the same body is not applied twice (`applied: false`). The columns are those given at opening, or else the keys (or the CSV header) of the first batch.\n\n' +
        'Three body formats: `application/json` (`{"records": [...], "sequence": 3}`); `application/x-ndjson` (one record object per line) and `text/csv` (a header line naming columns, in any order, then records; an unquoted empty field is NULL, `""` an empty string), both with the sequence as `?sequence=3` and read as they arrive, never held whole, so that a large batch streams into the database. A body that ends short of its Content-Length applies nothing.',
      requestParams: { path: SessionParams, query: BatchQuery },
      requestBody: {
        required: true,
        content: {
          ...json(BatchBody),
          'application/x-ndjson': { schema: z.string().describe('One JSON object per line, keyed by column: {"id": 1, "name": "Ada"}') },
          'text/csv': { schema: z.string().describe('A header line naming columns, then one record per line') },
        },
      },
      responses: {
        200: ok('The batch was applied, or had been before', BatchResultSchema),
        ...errors({
          BAD_REQUEST: 'Malformed JSON or an invalid body',
          NOT_FOUND: 'No session with this id',
          INVALID_TRANSITION: 'The session is not open (finished, or its import stopped), or this sequence was applied before with other records',
          UNSUPPORTED_MEDIA_TYPE: 'The body is not sent as application/json, application/x-ndjson or text/csv',
        }),
        413: {
          description: 'More records than MAX_BATCH_RECORDS (10,000 by default), or a request over MAX_BATCH_BYTES (16 MiB by default); nothing was applied',
          content: json(
            errorWithDetails(
              'TOO_LARGE',
              z.union([z.object({ maxRecords: z.int(), records: z.int().optional().describe('Absent when a streamed body was refused before its end') }), z.object({ maxBytes: z.int() })]).describe('The limit that was passed'),
            ),
          ),
        },
        422: {
          description:
            'A record is not an object of strings, numbers, booleans and nulls, has a key that is not a column (or the first batch names none), or a line of an NDJSON or CSV body is malformed (not JSON, not UTF-8, the wrong number of fields); the message names it, and nothing was applied',
          content: json(
            errorWithDetails(
              'UNPROCESSABLE',
              z
                .object({
                  record: z.int().optional().describe('Index in `records` (a JSON body)'),
                  line: z.int().optional().describe('Line of the body (NDJSON or CSV)'),
                  key: z.string().optional(),
                })
                .optional(),
            ),
          ),
        },
      },
    },
  },
  '/api/sessions/{id}/finish': {
    post: {
      tags: ['Batch sessions'],
      operationId: 'finishSession',
      summary: 'Finish a batch session',
      description:
        'Checks `totalRecords` against the records that arrived. When they match, the session is FINISHED and its import PROCESSED; when they differ, the session stays open so that the missing batches can be sent.',
      requestParams: { path: SessionParams },
      requestBody: { required: true, content: json(FinishSessionBody) },
      responses: {
        200: ok('The session, finished', SessionSchema),
        ...errors({
          BAD_REQUEST: 'Malformed JSON or an invalid body',
          NOT_FOUND: 'No session with this id',
          INVALID_TRANSITION: 'The session\'s import was stopped',
          UNSUPPORTED_MEDIA_TYPE: 'The body is not sent as application/json, application/x-ndjson or text/csv',
        }),
        422: {
          description: 'The total differs from the records that arrived; the session stays open',
          content: json(errorWithDetails('UNPROCESSABLE', z.object({ totalRecords: z.int(), recordsReceived: z.int() }))),
        },
      },
    },
  },
}

// ---- the service -----------------------------------------------------------------------------

const HealthSchema = z.object({ ok: z.literal(true) })

// ---- accounts --------------------------------------------------------------------------------


const SignInBody = z.object({ email: z.string(), password: z.string(), rememberMe: z.boolean().optional() })
const UserSchema = z.looseObject({ id: z.string(), name: z.string(), email: z.string(), role: z.string().nullable().optional() })
const authError = (description: string) => ({ description, content: json(z.looseObject({ message: z.string(), code: z.string().optional() })) })

const accounts = {
  '/api/me': {
    get: {
      tags: ['Accounts'],
      operationId: 'me',
      summary: 'Who the credential belongs to',
      responses: { 200: ok('The account', MeSchema) },
    },
  },
  '/api/keys': {
    get: {
      tags: ['Accounts'],
      operationId: 'listKeys',
      summary: 'List your API keys',
      description: 'Without their secrets: each key is shown once, when it is made.',
      responses: { 200: ok('The keys, newest first', KeyListSchema) },
    },
    post: {
      tags: ['Accounts'],
      operationId: 'createKey',
      summary: 'Make an API key',
      description: 'Send it as `Authorization: Bearer <key>` on any route, the tus endpoint included. It works until it is revoked or its account is deactivated.',
      requestBody: { required: true, content: json(CreateKeyBody) },
      responses: { 201: ok('The key, shown this once', CreatedKeySchema), ...errors({ BAD_REQUEST: 'No name', UNSUPPORTED_MEDIA_TYPE: 'Not JSON' }) },
    },
  },
  '/api/keys/{id}': {
    delete: {
      tags: ['Accounts'],
      operationId: 'revokeKey',
      summary: 'Revoke one of your API keys',
      requestParams: { path: KeyParams },
      responses: { 204: { description: 'Revoked: the next request with it answers 401' }, ...errors({ NOT_FOUND: 'No key of yours with this id' }) },
    },
  },
  '/api/setup': {
    post: {
      ...PUBLIC,
      tags: ['Accounts'],
      operationId: 'setUp',
      summary: 'Create the first account (an admin) with the setup link\'s token',
      description: '`npm start` prints the setup link while no account exists; each start replaces its token.',
      requestBody: { required: true, content: json(SetupBody) },
      responses: {
        201: ok('The admin account', z.object({ id: z.string(), email: z.string() })),
        ...errors({ UNAUTHORIZED: 'The token is not the current setup token', BAD_REQUEST: 'A password under 12 characters, or a bad email', INVALID_TRANSITION: 'An account exists already' }),
      },
    },
  },
  '/api/auth/sign-in/email': {
    post: {
      ...PUBLIC,
      tags: ['Accounts'],
      operationId: 'signIn',
      summary: 'Sign in (sets the session cookie)',
      description: 'better-auth\'s route. A few failed tries per minute per account and per address, then 429 until the window ends (`Retry-After`).',
      requestBody: { required: true, content: json(SignInBody) },
      responses: {
        200: { description: 'Signed in: the session cookie is set (httpOnly, SameSite=Lax, Secure behind HTTPS)', content: json(z.looseObject({ user: UserSchema })) },
        401: authError('Wrong email or password (one answer for both)'),
        403: authError('The account is deactivated'),
        429: authError('Too many failed sign-ins: wait for Retry-After seconds'),
      },
    },
  },
  '/api/auth/sign-out': {
    post: {
      tags: ['Accounts'],
      operationId: 'signOut',
      summary: 'Sign out (ends the session)',
      requestBody: { required: false, content: json(z.object({})) },
      responses: { 200: { description: 'Signed out', content: json(z.looseObject({ success: z.boolean() })) } },
    },
  },
  '/api/auth/get-session': {
    get: {
      ...PUBLIC,
      tags: ['Accounts'],
      operationId: 'getAuthSession',
      summary: 'The session of the cookie, or null',
      responses: { 200: { description: 'The session and its user, or null', content: json(z.looseObject({}).nullable()) } },
    },
  },
  '/api/auth/admin/create-user': {
    post: {
      tags: ['Accounts'],
      operationId: 'createUser',
      summary: 'Create an account (admin, with a session)',
      description: 'better-auth\'s admin route: it takes the session cookie of an admin, not an API key.',
      requestBody: { required: true, content: json(z.object({ email: z.string(), password: z.string().min(12), name: z.string(), role: z.enum(['user', 'admin']).optional() })) },
      responses: {
        200: { description: 'The account', content: json(z.looseObject({ user: UserSchema })) },
        400: authError('A password under 12 characters, or an email in use'),
      },
    },
  },
}

const admin = {
  '/api/admin/accounts': {
    get: { tags: ['Admin'], operationId: 'listAccounts', summary: 'Every account', responses: { 200: ok('The accounts, oldest first', AccountListSchema), ...errors({ FORBIDDEN: 'Not an admin' }) } },
    post: {
      tags: ['Admin'],
      operationId: 'createAccount',
      summary: 'Create an account',
      requestBody: { required: true, content: json(CreateAccountBody) },
      responses: {
        201: ok('The account', AccountDtoSchema),
        ...errors({ BAD_REQUEST: 'A password under 12 characters, or a bad email', FORBIDDEN: 'Not an admin', INVALID_TRANSITION: 'An account with this email exists' }),
      },
    },
  },
  '/api/admin/accounts/{id}': {
    patch: {
      tags: ['Admin'],
      operationId: 'updateAccount',
      summary: 'Deactivate, reactivate or promote an account',
      description: 'A deactivated account\'s sessions end at once and its keys answer 401 from their next request.',
      requestParams: { path: AccountParams },
      requestBody: { required: true, content: json(UpdateAccountBody) },
      responses: {
        200: ok('The account', AccountDtoSchema),
        ...errors({ FORBIDDEN: 'Not an admin', NOT_FOUND: 'No account with this id', INVALID_TRANSITION: 'Your own account: deactivating or demoting it is refused' }),
      },
    },
  },
  '/api/admin/invites': {
    get: { tags: ['Admin'], operationId: 'listInvites', summary: 'Open invites', responses: { 200: ok('Not used and not expired, newest first', InviteListSchema), ...errors({ FORBIDDEN: 'Not an admin' }) } },
    post: {
      tags: ['Admin'],
      operationId: 'createInvite',
      summary: 'Make an invite link',
      description: 'The link makes one account within 7 days. Its token is answered this once.',
      requestBody: { required: false, content: json(CreateInviteBody) },
      responses: { 201: ok('The invite and its link', CreatedInviteSchema), ...errors({ FORBIDDEN: 'Not an admin' }) },
    },
  },
  '/api/admin/invites/{id}': {
    delete: {
      tags: ['Admin'],
      operationId: 'revokeInvite',
      summary: 'Revoke an open invite',
      requestParams: { path: InviteParams },
      responses: { 204: { description: 'Revoked' }, ...errors({ FORBIDDEN: 'Not an admin', NOT_FOUND: 'No open invite with this id' }) },
    },
  },
  '/api/admin/settings': {
    get: { tags: ['Admin'], operationId: 'getInstanceSettings', summary: 'The instance\'s settings', responses: { 200: ok('The settings', InstanceSettingsSchema), ...errors({ FORBIDDEN: 'Not an admin' }) } },
    put: {
      tags: ['Admin'],
      operationId: 'putInstanceSettings',
      summary: 'Open or close sign-up without an invite',
      requestBody: { required: true, content: json(InstanceSettingsSchema) },
      responses: { 200: ok('The settings', InstanceSettingsSchema), ...errors({ FORBIDDEN: 'Not an admin' }) },
    },
  },
  '/api/invites/accept': {
    post: {
      ...PUBLIC,
      tags: ['Accounts'],
      operationId: 'acceptInvite',
      summary: 'Create your account with an invite link\'s token',
      requestBody: { required: true, content: json(SetupBody) },
      responses: {
        201: ok('The account: now sign in', AccountDtoSchema),
        ...errors({ UNAUTHORIZED: 'No token, or one that was used, expired or revoked', BAD_REQUEST: 'A password under 12 characters, or a bad email', INVALID_TRANSITION: 'An account with this email exists' }),
      },
    },
  },
}

const service = {
  '/api/health': {
    get: {
      ...PUBLIC,
      tags: ['Service'],
      operationId: 'health',
      summary: 'Is the service up?',
      responses: { 200: ok('The app and its database answer', HealthSchema), ...errors({ UNAVAILABLE: 'The database does not answer' }) },
    },
  },
  '/api/openapi.json': {
    get: {
      tags: ['Service'],
      operationId: 'openApiDocument',
      summary: 'This API description',
      responses: { 200: ok('The OpenAPI 3.1 document', z.looseObject({ openapi: z.string() })) },
    },
  },
}

const DESCRIPTION = `Sluice takes CSV files of any size into PostgreSQL: upload a file over tus (or send records in batches), follow, pause, resume, stop or kill its import, and export the rows back as CSV.

Everything is JSON except the tus endpoint and the CSV downloads. A refusal answers the envelope \`{"error": {"code": "…", "message": "…"}}\` with a fitting status; any request may also answer 500 (\`INTERNAL\`) when something broke on the server. Timestamps are ISO 8601 strings.`

type JsonSchema = Parameters<NonNullable<CreateDocumentOptions['override']>>[0]['jsonSchema']

/** Shorter schemas that accept the same values, for a reader (and for Scalar, which warns about anyOf). */
function simplify(schema: JsonSchema): void {
  // zod writes its validation regex beside `format` (date-time, uuid): the format says it.
  if (schema.format && schema.pattern) delete schema.pattern
  // zod bounds every .int() by the safe integers: nothing a reader needs to see.
  if (schema.minimum === Number.MIN_SAFE_INTEGER) delete schema.minimum
  if (schema.maximum === Number.MAX_SAFE_INTEGER) delete schema.maximum
  // A nullable value as OpenAPI 3.1 writes it: `type: [T, "null"]` rather than anyOf.
  const [value, nothing, ...more] = schema.anyOf ?? []
  if (value && nothing?.type === 'null' && !more.length && typeof value.type === 'string' && !value.enum && value.const === undefined) {
    delete schema.anyOf
    Object.assign(schema, { ...value, ...schema, type: [value.type, 'null'] })
  }
  // Every JSON object's keys are strings, and any value is allowed unless said otherwise.
  const names = schema.propertyNames
  if (typeof names === 'object' && names.type === 'string' && Object.keys(names).length === 1) delete schema.propertyNames
  if (typeof schema.additionalProperties === 'object' && !Object.keys(schema.additionalProperties).length) delete schema.additionalProperties
}

type Paths = Record<string, Record<string, ZodOpenApiOperationObject>>

/**
 * Every operation but the public ones answers 401 without a credential, and one that changes
 * something answers 403 to a cookie request from another site; said once here, not in each.
 */
function withCredentialErrors<T extends Paths>(paths: T): T {
  const tus = (path: string) => path.startsWith('/api/uploads')
  for (const [path, item] of Object.entries(paths)) {
    for (const [method, op] of Object.entries(item)) {
      if (op.security?.length === 0 || method === 'options') continue
      const envelope = (description: string) => (tus(path) ? tusError(description) : (errors({ UNAUTHORIZED: description }) as Record<string, object>)['401']!)
      op.responses = { 401: envelope('No credential, or one that is revoked or expired'), ...op.responses }
      if (method !== 'get' && method !== 'head') {
        const forbidden = tus(path) ? tusError('A cookie request from another site') : { description: 'A cookie request from another site', content: json(ErrorBodySchema) }
        op.responses = { 403: forbidden, ...op.responses }
      }
    }
  }
  return paths
}

let document: oas31.OpenAPIObject | undefined

/** The OpenAPI 3.1 document of Sluice's HTTP API (built once). */
export function openApiDocument(): oas31.OpenAPIObject {
  return (document ??= createDocument(
    {
      openapi: '3.1.0',
      info: { title: 'Sluice', version: packageJson.version, description: DESCRIPTION },
      tags: [
        { name: 'Uploads (tus)', description: 'Resumable uploads, [tus 1.0.0](https://tus.io/protocols/resumable-upload). A finished upload is imported.' },
        { name: 'Imports', description: 'Follow and steer imports; read their rows.' },
        { name: 'Batch sessions', description: 'Send records as JSON, in batches, without a file.' },
        { name: 'Loads', description: 'The rows into a table of your own: mapped, checked, appended, upserted or replaced, all or nothing.' },
        { name: 'Exports', description: 'The rows back as CSV: streamed, or as a file with a resumable download.' },
        { name: 'Accounts', description: 'Sign-in, API keys, the first admin, invites.' },
        { name: 'Admin', description: 'Accounts, invites and sign-up, for admins (403 for anyone else).' },
        { name: 'Service' },
      ],
      security: [{ apiKey: [] }, { session: [] }],
      paths: withCredentialErrors({ ...uploads, ...imports, ...sessions, ...exports, ...accounts, ...admin, ...service }),
      components: {
        schemas: {
          Error: ErrorBodySchema,
          Import: ImportSchema,
          Reject: RejectSchema,
          Export: ExportSchema,
          Session: SessionSchema,
          ApiKey: ApiKeyDtoSchema,
        },
        securitySchemes: {
          apiKey: { type: 'http', scheme: 'bearer', description: 'An API key from the settings page (or `npm run login`)' },
          session: { type: 'apiKey', in: 'cookie', name: 'better-auth.session_token', description: 'The session cookie of a signed-in browser' },
        },
      },
    },
    { override: ({ jsonSchema }) => simplify(jsonSchema) },
  ))
}
