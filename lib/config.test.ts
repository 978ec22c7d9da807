import os from 'node:os'
import path from 'node:path'
import { describe, expect, it } from 'vitest'
import { ConfigError, parseConfig } from './config'

describe('parseConfig', () => {
  it('uses the documented defaults', () => {
    expect(parseConfig({})).toEqual({
      port: 3000,
      databaseUrl: undefined,
      dataDir: path.resolve('.data'),
      maxUploadBytes: 10 * 1024 ** 3,
      pauseTimeoutSeconds: 300,
      importBatchBytes: 16 * 1024 ** 2,
      importWorkers: 2,
      importParallelism: os.availableParallelism(),
      exportTtlHours: 24,
      maxBatchRecords: 10_000,
      maxBatchBytes: 16 * 1024 * 1024,
      maxFieldBytes: 1024 * 1024,
      maxLineBytes: 64 * 1024 * 1024,
      maxExportStreams: 20,
      signInMaxFailures: 5,
      signInWindowSeconds: 60,
      keepUploadedFiles: false,
      loadSchemas: [],
      admin: undefined,
    })
  })

  it('reads every setting', () => {
    expect(
      parseConfig({
        PORT: '8080',
        DATABASE_URL: 'postgresql://u:p@db:5432/sluice',
        DATA_DIR: '/srv/sluice',
        MAX_UPLOAD_BYTES: '1048576',
        PAUSE_TIMEOUT_SECONDS: '0',
        IMPORT_BATCH_BYTES: '65536',
        IMPORT_WORKERS: '0',
        IMPORT_PARALLELISM: '4',
        EXPORT_TTL_HOURS: '0.5',
        MAX_BATCH_RECORDS: '500',
        MAX_BATCH_BYTES: '65536',
        MAX_FIELD_BYTES: '100',
        MAX_LINE_BYTES: '2048',
        SIGN_IN_MAX_FAILURES: '3',
        SIGN_IN_WINDOW_SECONDS: '2',
        ADMIN_EMAIL: 'root@example.com',
        ADMIN_PASSWORD: 'twelve chars',
        KEEP_UPLOADED_FILES: '1',
        LOAD_SCHEMAS: 'staging, reports',
      }),
    ).toEqual({
      port: 8080,
      databaseUrl: 'postgresql://u:p@db:5432/sluice',
      dataDir: '/srv/sluice',
      maxUploadBytes: 1_048_576,
      pauseTimeoutSeconds: 0,
      importBatchBytes: 65_536,
      importWorkers: 0,
      importParallelism: 4,
      exportTtlHours: 0.5,
      maxBatchRecords: 500,
      maxBatchBytes: 65536,
      maxFieldBytes: 100,
      maxLineBytes: 2048,
      maxExportStreams: 20,
      signInMaxFailures: 3,
      signInWindowSeconds: 2,
      keepUploadedFiles: true,
      loadSchemas: ['staging', 'reports'],
      admin: { email: 'root@example.com', password: 'twelve chars' },
    })
  })

  it('treats an empty variable as unset', () => {
    expect(parseConfig({ PORT: '', DATABASE_URL: ' ' }).port).toBe(3000)
  })

  it('names every bad value in one message', () => {
    const bad = () => parseConfig({ PORT: 'eighty', DATABASE_URL: 'mysql://x', MAX_UPLOAD_BYTES: '-5' })
    expect(bad).toThrow(ConfigError)
    expect(bad).toThrow(
      [
        'Invalid settings:',
        '  PORT="eighty": PORT must be a whole number',
        '  DATABASE_URL="mysql://x": DATABASE_URL must be a postgres:// or postgresql:// URL',
        '  MAX_UPLOAD_BYTES="-5": MAX_UPLOAD_BYTES must be a whole number',
      ].join('\n'),
    )
  })

  it('refuses an export lifetime that is not a positive number of hours', () => {
    expect(() => parseConfig({ EXPORT_TTL_HOURS: '0' })).toThrow('EXPORT_TTL_HOURS="0": EXPORT_TTL_HOURS must be more than 0 and at most a year')
    expect(() => parseConfig({ EXPORT_TTL_HOURS: '1d' })).toThrow('EXPORT_TTL_HOURS="1d": EXPORT_TTL_HOURS must be a number of hours, like 24 or 0.5')
  })

  it('never prints an admin password, not even a wrong one', () => {
    const bad = () => parseConfig({ ADMIN_EMAIL: 'root@example.com', ADMIN_PASSWORD: 'short-pw' })
    expect(bad).toThrow('  ADMIN_PASSWORD=(hidden): ADMIN_PASSWORD must have at least 12 characters')
    expect(bad).not.toThrow(/short-pw/)
  })

  it('wants ADMIN_EMAIL and ADMIN_PASSWORD together', () => {
    expect(() => parseConfig({ ADMIN_EMAIL: 'root@example.com' })).toThrow('ADMIN_PASSWORD is not set: set ADMIN_EMAIL and ADMIN_PASSWORD together')
    expect(() => parseConfig({ ADMIN_PASSWORD: 'long enough password' })).toThrow('ADMIN_EMAIL is not set: set ADMIN_EMAIL and ADMIN_PASSWORD together')
  })

  it('refuses a port out of range', () => {
    expect(() => parseConfig({ PORT: '70000' })).toThrow('PORT="70000": PORT must be between 1 and 65535')
  })
})
