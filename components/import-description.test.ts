import { describe, expect, it } from 'vitest'
import type { ImportDto } from '@/lib/imports/schemas'
import { describeImport } from './import-description'

const queued = { status: 'QUEUED', bytesProcessed: 40, totalBytes: 100, rowsImported: 4, tableName: 'imported.t' } as ImportDto

describe("an import card's line", () => {
  it('says a queued import whose file is still arriving waits for a worker, and one whose upload stands still waits for the file', () => {
    expect(describeImport(queued, 40, { percent: 60, arriving: true })).toBe('Waiting for a worker · 40% imported, 60% uploaded')
    expect(describeImport(queued, 40, { percent: 60, arriving: false })).toBe('Waiting for the file to arrive · 40% imported, 60% uploaded')
  })

  it('says a queued import of a file already whole waits to continue, or for a worker before its first batch', () => {
    expect(describeImport(queued, 40, null)).toBe('Waiting to continue at 40%')
    expect(describeImport({ ...queued, bytesProcessed: 0 }, 0, null)).toBe('Waiting for a worker…')
  })
})
