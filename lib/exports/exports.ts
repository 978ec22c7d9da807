import { ANY_OWNER, ownedBy, type OwnerScope, type Principal } from '../auth/owner-scope'
import { randomBytes, randomUUID } from 'node:crypto'
import { config } from '../config'
import type { Export, Import } from '../db/generated/client'
import { prisma } from '../db/pool'
import { cutInput, SluiceError } from '../http/errors'
import { isUuid } from '../http/ids'
import { getImport } from '../imports/imports'
import { buildExportQuery } from './export-query'
import type { ExportFormat } from './export-format'
import { ADD_RUN_EXPORT_JOB, cancelExportCopy, deleteExportFiles } from './export-jobs'
import type { ExportDto, ExportFilter } from './schemas'

/** The import's rows can be read: its table exists and it was not stopped. */
export function assertExportable(imp: Import): void {
  if (imp.status === 'STOPPED') throw new SluiceError('INVALID_TRANSITION', 'This import was stopped: its rows were removed, so there is nothing to export')
  if (imp.columns === null) throw new SluiceError('INVALID_TRANSITION', `This import is ${imp.status.toLowerCase()} and has not read its header yet: there is nothing to export`)
}

/** An export of an import that is not PROCESSED holds only the rows imported so far. */
export const isPartialExport = (imp: Import) => imp.status !== 'PROCESSED'

/** The suggested file name of an export: the source's name, the range when there is one, and _partial for an unfinished import. */
export function exportFileName(imp: Import, filter: ExportFilter): string {
  const stem = imp.fileName.replace(/\.csv$/i, '') || 'export'
  const range = filter.column === undefined ? '' : `_${filter.column}_${filter.from ?? 'start'}_to_${filter.to ?? 'end'}`
  const format = filter.format === 'excel' ? '_excel' : ''
  return `${stem}${range.replace(/[:]/g, '-')}${format}${isPartialExport(imp) ? '_partial' : ''}.csv`
}

/** Finished and not yet past its lifetime: its file can be downloaded. */
export const isDownloadable = (exp: Export, now = Date.now()) =>
  exp.status === 'PROCESSED' && exp.expiresAt !== null && exp.expiresAt.getTime() > now

/** The export as the API answers it. */
export function toExportDto(exp: Export): ExportDto {
  const iso = (d: Date | null) => d?.toISOString() ?? null
  return {
    id: exp.id,
    importId: exp.importId,
    status: exp.status,
    column: exp.column,
    from: exp.rangeFrom,
    to: exp.rangeTo,
    protectFormulas: exp.protectFormulas,
    format: exp.format as ExportFormat,
    partial: exp.partial,
    fileName: exp.fileName,
    rowsTotal: exp.rowsTotal === null ? null : Number(exp.rowsTotal),
    rowsWritten: Number(exp.rowsWritten),
    bytesWritten: Number(exp.bytesWritten),
    error: exp.error,
    createdAt: exp.createdAt.toISOString(),
    startedAt: iso(exp.startedAt),
    finishedAt: iso(exp.finishedAt),
    expiresAt: iso(exp.expiresAt),
    downloadUrl: isDownloadable(exp) ? `/api/exports/${exp.id}/download` : null,
    linkUrl: isDownloadable(exp) && exp.linkToken ? linkPath(exp.linkToken) : null,
  }
}

const notFound = (id: string) => new SluiceError('NOT_FOUND', `No export with id ${cutInput(id)}`)

/** The path of an export's send-able download link. */
export const linkPath = (token: string) => `/api/links/${token}`

/**
 * The export's send-able link: made at the first ask (an unguessable 256-bit token), the same
 * one after that until revoked. Only for a finished file that can still be downloaded.
 */
export async function shareExport(exp: Export): Promise<Export> {
  if (!isDownloadable(exp)) throw new SluiceError('INVALID_TRANSITION', `This export is ${exp.status.toLowerCase()}: only a finished export that has not expired can be shared`)
  if (exp.linkToken) return exp
  await prisma().export.updateMany({ where: { id: exp.id, linkToken: null }, data: { linkToken: randomBytes(32).toString('base64url') } })
  return prisma().export.findUniqueOrThrow({ where: { id: exp.id } })
}

/** Revokes the export's link: it answers 404 from now on (a new one can be made). */
export async function revokeExportLink(exp: Export): Promise<Export> {
  return prisma().export.update({ where: { id: exp.id }, data: { linkToken: null } })
}

/** The export a link opens, for anyone holding it: 404 unless it is live (not revoked, not expired). */
export async function exportOfLink(token: string): Promise<Export> {
  const exp = token.length <= 100 ? await prisma().export.findUnique({ where: { linkToken: token } }) : null
  if (!exp || !isDownloadable(exp)) throw new SluiceError('NOT_FOUND', 'This download link does not work: it was revoked, or the file expired. Ask its sender for a new one.')
  return exp
}

/** One export within `scope`; NOT_FOUND when there is none with that id there. */
export async function getExport(id: string, scope: OwnerScope): Promise<Export> {
  const exp = isUuid(id) ? await prisma().export.findFirst({ where: { id, ...scope } }) : null
  if (!exp) throw notFound(id)
  return exp
}

/** Exports within `scope`, newest first; only those of one import when `importId` is given. */
export function listExports(filter: { importId?: string | undefined }, scope: OwnerScope): Promise<Export[]> {
  if (filter.importId !== undefined && !isUuid(filter.importId)) return Promise.resolve([])
  return prisma().export.findMany({
    where: { ...scope, ...(filter.importId && { importId: filter.importId }) },
    orderBy: { createdAt: 'desc' },
    take: 100,
  })
}

/**
 * Queues an export of the import's rows (all, or a date range on one column). The filter is
 * checked against the import now, so a bad column is a 400 here rather than a failed job.
 */
export async function createExport(importId: string, filter: ExportFilter, who: Principal): Promise<Export> {
  const imp = await getImport(importId, ownedBy(who))
  assertExportable(imp)
  buildExportQuery(imp, filter)
  const id = randomUUID()
  return prisma().$transaction(async (tx) => {
    const exp = await tx.export.create({
      data: {
        id,
        importId: imp.id,
        ownerId: who.userId,
        column: filter.column ?? null,
        rangeFrom: filter.from ?? null,
        rangeTo: filter.to ?? null,
        protectFormulas: filter.protectFormulas,
        format: filter.format,
        partial: isPartialExport(imp),
        fileName: exportFileName(imp, filter),
      },
    })
    await tx.$executeRawUnsafe(ADD_RUN_EXPORT_JOB, id)
    return exp
  })
}

/**
 * QUEUED or PROCESSING → STOPPED: the COPY in flight is cancelled and the partial file
 * removed. The worker's own finish is guarded by the status, so it cannot publish the file
 * after this; whatever it still holds open it deletes when its COPY fails.
 */
export async function stopExport(id: string): Promise<Export> {
  if (!isUuid(id)) throw notFound(id)
  const [exp] = await prisma().export.updateManyAndReturn({
    where: { id, status: { in: ['QUEUED', 'PROCESSING'] } },
    data: { status: 'STOPPED', finishedAt: new Date() },
  })
  if (!exp) {
    const now = await getExport(id, ANY_OWNER)
    throw new SluiceError('INVALID_TRANSITION', `Cannot stop this export: it is ${now.status.toLowerCase()}, and only a queued or processing export can be stopped`)
  }
  await cancelExportCopy(id, exp.backendPid)
  await deleteExportFiles(id)
  return exp
}

/**
 * Ends every export of an import about to be deleted: a running one is cancelled, and every
 * file is deleted (their rows go with the import's).
 */
export async function endExportsOfImport(importId: string): Promise<void> {
  const running = await prisma().export.updateManyAndReturn({
    where: { importId, status: { in: ['QUEUED', 'PROCESSING'] } },
    data: { status: 'STOPPED', finishedAt: new Date() },
  })
  for (const exp of running) await cancelExportCopy(exp.id, exp.backendPid)
  for (const { id } of await prisma().export.findMany({ where: { importId }, select: { id: true } })) await deleteExportFiles(id)
}

/** When a finished export expires: EXPORT_TTL_HOURS after it finished. */
export const expiryFrom = (finishedAt: Date) => new Date(finishedAt.getTime() + config().exportTtlHours * 3_600_000)

/** PROCESSED → EXPIRED for finished exports past their lifetime, and their files deleted. */
export async function expireExports(): Promise<number> {
  const expired = await prisma().export.updateManyAndReturn({
    where: { status: 'PROCESSED', expiresAt: { lte: new Date() } },
    data: { status: 'EXPIRED' },
    select: { id: true },
  })
  for (const { id } of expired) await deleteExportFiles(id)
  return expired.length
}
