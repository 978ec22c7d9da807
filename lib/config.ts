import os from 'node:os'
import path from 'node:path'
import { z } from 'zod'

const MiB = 1024 ** 2
const GiB = 1024 ** 3

const integer = (name: string, min: number, max: number) =>
  z
    .string()
    .trim()
    .regex(/^\d+$/, `${name} must be a whole number`)
    .transform(Number)
    .refine((n) => Number.isSafeInteger(n) && n >= min && n <= max, `${name} must be between ${min} and ${max}`)

const hours = (name: string) =>
  z
    .string()
    .trim()
    .regex(/^\d+(\.\d+)?$/, `${name} must be a number of hours, like 24 or 0.5`)
    .transform(Number)
    .refine((n) => n > 0 && n <= 24 * 366, `${name} must be more than 0 and at most a year`)

const Settings = z.object({
  PORT: integer('PORT', 1, 65_535).default(3000),
  DATABASE_URL: z
    .string()
    .trim()
    .refine((v) => /^postgres(ql)?:\/\/./.test(v) && URL.canParse(v), 'DATABASE_URL must be a postgres:// or postgresql:// URL')
    .optional(),
  DATA_DIR: z.string().trim().min(1, 'DATA_DIR must not be empty').default('.data'),
  MAX_UPLOAD_BYTES: integer('MAX_UPLOAD_BYTES', 1, Number.MAX_SAFE_INTEGER).default(10 * GiB),
  PAUSE_TIMEOUT_SECONDS: integer('PAUSE_TIMEOUT_SECONDS', 0, 365 * 24 * 3600).default(300),
  // 16 MiB: PostgreSQL copies it in about a quarter of a second here, so a batch boundary (and
  // a checkpoint) comes several times a second, while the commit per batch costs next to nothing.
  IMPORT_BATCH_BYTES: integer('IMPORT_BATCH_BYTES', 64 * 1024, 1024 * MiB).default(16 * MiB),
  IMPORT_WORKERS: integer('IMPORT_WORKERS', 0, 64).default(2),
  // One COPY keeps about one core busy in PostgreSQL: more connections than cores only wait.
  IMPORT_PARALLELISM: integer('IMPORT_PARALLELISM', 1, 64).default(Math.min(64, os.availableParallelism())),
  EXPORT_TTL_HOURS: hours('EXPORT_TTL_HOURS').default(24),
  // A batch of the batch API is parsed whole (it is one JSON document), so both bound memory.
  MAX_BATCH_RECORDS: integer('MAX_BATCH_RECORDS', 1, 1_000_000).default(10_000),
  MAX_BATCH_BYTES: integer('MAX_BATCH_BYTES', 1024, 1024 * MiB).default(16 * MiB),
  // A longer field rejects its record; a longer record fails the import (the reader must hold
  // a whole record in memory to find its end).
  MAX_FIELD_BYTES: integer('MAX_FIELD_BYTES', 1, 1024 * MiB).default(MiB),
  MAX_LINE_BYTES: integer('MAX_LINE_BYTES', 1024, 1024 * MiB).default(64 * MiB),
  // Each streamed export holds a PostgreSQL connection for as long as its client reads; about
  // 95 stalled downloads once exhausted the server's 100. Export jobs do not count: they queue.
  MAX_EXPORT_STREAMS: integer('MAX_EXPORT_STREAMS', 1, 1000).default(20),
  // Failed sign-ins an account may have in the window before sign-in waits for the window's end.
  SIGN_IN_MAX_FAILURES: integer('SIGN_IN_MAX_FAILURES', 1, 1000).default(5),
  SIGN_IN_WINDOW_SECONDS: integer('SIGN_IN_WINDOW_SECONDS', 1, 24 * 3600).default(60),
  // Keep the uploaded file of a finished import (by default it is deleted once the rows are in).
  KEEP_UPLOADED_FILES: z.enum(['0', '1', 'true', 'false'], { error: 'KEEP_UPLOADED_FILES must be 1 or 0' }).optional(),
  // Schemas whose tables everyone may load imports into (admins may load into any table).
  LOAD_SCHEMAS: z
    .string()
    .trim()
    .regex(/^[^,\s]+(\s*,\s*[^,\s]+)*$/, 'LOAD_SCHEMAS must be schema names separated by commas, like staging,reports')
    .optional(),
  // Create the first admin at start (Docker, scripts); ignored once any account exists.
  ADMIN_EMAIL: z.string().trim().email('ADMIN_EMAIL must be an email address').optional(),
  ADMIN_PASSWORD: z.string().min(12, 'ADMIN_PASSWORD must have at least 12 characters').optional(),
})

export type Config = {
  port: number
  /** Set when the user brings their own PostgreSQL; unset means the embedded one. */
  databaseUrl: string | undefined
  /** Absolute path; holds `postgres/` (embedded database) and `uploads/` (tus files). */
  dataDir: string
  maxUploadBytes: number
  /** A pause longer than this ends the import as kill does (rows kept); 0 means never. */
  pauseTimeoutSeconds: number
  /** Bytes of the file read, scanned and copied per transaction. */
  importBatchBytes: number
  /** Imports this process runs at once; 0 leaves the work to `npm run worker` processes. */
  importWorkers: number
  /** Connections one import loads its batches on at once. */
  importParallelism: number
  /** A finished export's file is deleted this long after it finished. */
  exportTtlHours: number
  /** Records one batch of the batch API may hold. */
  maxBatchRecords: number
  /** Bytes one request of the batch API may carry. */
  maxBatchBytes: number
  /** Bytes one field of an imported file may have; a record with a longer one is rejected. */
  maxFieldBytes: number
  /** Bytes one record of an imported file may have; a longer one fails the import. */
  maxLineBytes: number
  /** Streamed exports (GET …/export.csv) this process serves at once; more answer 503. */
  maxExportStreams: number
  /** Failed sign-ins per account (4 times as many per address) before sign-in waits. */
  signInMaxFailures: number
  /** The window those failures are counted in. */
  signInWindowSeconds: number
  /** Whether a finished (PROCESSED) import keeps its uploaded file; by default it is deleted. */
  keepUploadedFiles: boolean
  /** Schemas whose tables anyone signed in may load into; an admin may load into any table. */
  loadSchemas: string[]
  /** The first admin, created at start when no account exists; both or neither. */
  admin: { email: string; password: string } | undefined
}

export class ConfigError extends Error {}

/** Reads and validates Sluice's settings; throws one ConfigError that names every bad value. */
export function parseConfig(env: Record<string, string | undefined>): Config {
  // An empty variable (`PORT=`) means "not set", as in most shells' intent.
  const present = Object.fromEntries(Object.entries(env).filter(([, v]) => v !== undefined && v.trim() !== ''))
  const result = Settings.safeParse(present)
  if (!result.success) {
    const lines = result.error.issues.map((issue) => {
      const key = String(issue.path[0])
      // A password is never printed, not even a wrong one.
      const value = /PASSWORD|SECRET/.test(key) ? '(hidden)' : JSON.stringify(env[key])
      return `  ${key}=${value}: ${issue.message}`
    })
    throw new ConfigError(`Invalid settings:\n${lines.join('\n')}`)
  }
  const s = result.data
  if (!s.ADMIN_EMAIL !== !s.ADMIN_PASSWORD) {
    throw new ConfigError(`Invalid settings:\n  ${s.ADMIN_EMAIL ? 'ADMIN_PASSWORD' : 'ADMIN_EMAIL'} is not set: set ADMIN_EMAIL and ADMIN_PASSWORD together`)
  }
  return {
    port: s.PORT,
    databaseUrl: s.DATABASE_URL,
    dataDir: path.resolve(s.DATA_DIR),
    maxUploadBytes: s.MAX_UPLOAD_BYTES,
    pauseTimeoutSeconds: s.PAUSE_TIMEOUT_SECONDS,
    importBatchBytes: s.IMPORT_BATCH_BYTES,
    importWorkers: s.IMPORT_WORKERS,
    importParallelism: s.IMPORT_PARALLELISM,
    exportTtlHours: s.EXPORT_TTL_HOURS,
    maxBatchRecords: s.MAX_BATCH_RECORDS,
    maxBatchBytes: s.MAX_BATCH_BYTES,
    maxFieldBytes: s.MAX_FIELD_BYTES,
    maxLineBytes: s.MAX_LINE_BYTES,
    maxExportStreams: s.MAX_EXPORT_STREAMS,
    signInMaxFailures: s.SIGN_IN_MAX_FAILURES,
    signInWindowSeconds: s.SIGN_IN_WINDOW_SECONDS,
    keepUploadedFiles: s.KEEP_UPLOADED_FILES === '1' || s.KEEP_UPLOADED_FILES === 'true',
    loadSchemas: s.LOAD_SCHEMAS?.split(',').map((name) => name.trim()) ?? [],
    admin: s.ADMIN_EMAIL && s.ADMIN_PASSWORD ? { email: s.ADMIN_EMAIL, password: s.ADMIN_PASSWORD } : undefined,
  }
}

let cached: Config | undefined
/** The settings of this process, parsed once from `process.env`. */
export function config(): Config {
  cached ??= parseConfig(process.env)
  return cached
}

export const uploadsDir = () => path.join(config().dataDir, 'uploads')
export const exportsDir = () => path.join(config().dataDir, 'exports')
