import { ANY_OWNER, isAdminRole, ownedBy, type OwnerScope, type Principal } from '../auth/owner-scope'
import type { Import, Load } from '../db/generated/client'
import { pool, prisma } from '../db/pool'
import { cutInput, SluiceError } from '../http/errors'
import { isUuid } from '../http/ids'
import { columnsOf } from '../imports/column-names'
import { getImport } from '../imports/imports'
import { ADD_RUN_LOAD_JOB, cancelLoadStatement } from './load-jobs'
import { headersKey, suggestMapping } from './mapping'
import { planLoad, type LoadPlan } from './plan'
import { findProblems, LOAD_SETTINGS, summarize } from './problems'
import { LoadRequestSchema, type CheckResult, type LoadDto, type LoadRequest, type MappingSuggestion, type TableRef } from './schemas'
import { describeTarget, parseTableRef, toTargetDto } from './targets'

/** What the database role must be allowed on the target for each mode. */
const PRIVILEGES = {
  append: ['INSERT'],
  upsert: ['INSERT', 'UPDATE'],
  replace: ['INSERT', 'DELETE'],
} as const

/** Only a finished import's rows are loaded: an unfinished one's are still arriving. */
function assertLoadable(imp: Import): void {
  if (imp.status !== 'PROCESSED') {
    throw new SluiceError('INVALID_TRANSITION', `This import is ${imp.status.toLowerCase()}: only a processed import can be loaded into a table`)
  }
}

/** The request read against the import and the target as they are now (404, 403, 409 or 422 when it cannot work). */
export async function planFor(imp: Import, request: LoadRequest, who: Principal): Promise<LoadPlan> {
  assertLoadable(imp)
  const target = await describeTarget(who, request.table, PRIVILEGES[request.mode])
  return planLoad(imp, target, request)
}

/** What the load would do and what stands in its way, without writing anything. */
export async function checkLoad(importId: string, request: LoadRequest, who: Principal): Promise<CheckResult> {
  const plan = await planFor(await getImport(importId, ownedBy(who)), request, who)
  const client = await pool().connect()
  try {
    await client.query('BEGIN ISOLATION LEVEL REPEATABLE READ')
    await client.query(LOAD_SETTINGS)
    await findProblems(client, plan)
    return await summarize(client, plan)
  } finally {
    await client.query('ROLLBACK').catch(() => {})
    client.release()
  }
}

/** The mapping this person used last for this table and a file with the same headers. */
async function rememberedMapping(who: Principal, table: TableRef, sourceHeaders: string): Promise<Record<string, string | null> | null> {
  const last = await prisma().load.findFirst({
    where: { ownerId: who.userId, targetSchema: table.schema, targetTable: table.name, sourceHeaders },
    orderBy: { createdAt: 'desc' },
    select: { mapping: true },
  })
  return (last?.mapping as Record<string, string> | undefined) ?? null
}

/** The target's columns and keys, and which of the import's columns would fill each. */
export async function suggestLoad(importId: string, tableText: string, who: Principal): Promise<MappingSuggestion> {
  const imp = await getImport(importId, ownedBy(who))
  const target = await describeTarget(who, parseTableRef(tableText))
  const sources = columnsOf(imp.columns)
  const remembered = await rememberedMapping(who, target.table, headersKey(sources))
  return { target: toTargetDto(target), ...suggestMapping(target.columns, sources, remembered) }
}

/** Starts a load job (QUEUED): the request is checked against the catalog first. */
export async function createLoad(importId: string, request: LoadRequest, who: Principal): Promise<Load> {
  const imp = await getImport(importId, ownedBy(who))
  const plan = await planFor(imp, request, who)
  return prisma().$transaction(async (tx) => {
    const load = await tx.load.create({
      data: {
        importId: imp.id,
        ownerId: who.userId,
        targetSchema: request.table.schema,
        targetTable: request.table.name,
        mode: request.mode,
        mapping: Object.fromEntries(plan.mapped.map((m) => [m.target.name, m.source.name])),
        keyColumns: plan.key?.columns ?? undefined,
        duplicates: request.duplicates,
        misfits: request.misfits,
        sourceHeaders: headersKey(columnsOf(imp.columns)),
      },
    })
    await tx.$executeRawUnsafe(ADD_RUN_LOAD_JOB, load.id)
    return load
  })
}

/** The request a load was made with, as a job reads it back. */
export const requestOf = (load: Load): LoadRequest =>
  LoadRequestSchema.parse({
    table: { schema: load.targetSchema, name: load.targetTable },
    mapping: load.mapping,
    mode: load.mode,
    key: load.keyColumns ?? undefined,
    duplicates: load.duplicates,
    misfits: load.misfits,
  })

/** The load's owner as they are now (an admin no longer one loads as anyone else does). */
export async function ownerOf(load: Load): Promise<Principal> {
  const user = load.ownerId ? await prisma().user.findUnique({ where: { id: load.ownerId } }) : null
  if (!user || user.banned) throw new SluiceError('FORBIDDEN', 'The account that made this load is gone or deactivated')
  return { userId: user.id, name: user.name, email: user.email, isAdmin: isAdminRole(user.role), via: 'key' }
}

const notFound = (id: string) => new SluiceError('NOT_FOUND', `No load with id ${cutInput(id)}`)

export async function getLoad(id: string, scope: OwnerScope): Promise<Load> {
  const load = isUuid(id) ? await prisma().load.findFirst({ where: { id, ...scope } }) : null
  if (!load) throw notFound(id)
  return load
}

export const listLoads = (importId: string, scope: OwnerScope) =>
  prisma().load.findMany({ where: { importId, ...scope }, orderBy: { createdAt: 'desc' }, take: 100 })

/** QUEUED or PROCESSING → STOPPED; a running load's statement is cancelled and its transaction rolls back. */
export async function stopLoad(id: string): Promise<Load> {
  if (!isUuid(id)) throw notFound(id)
  const [load] = await prisma().load.updateManyAndReturn({
    where: { id, status: { in: ['QUEUED', 'PROCESSING'] } },
    data: { status: 'STOPPED', finishedAt: new Date() },
  })
  if (!load) {
    const now = await getLoad(id, ANY_OWNER)
    throw new SluiceError('INVALID_TRANSITION', `Cannot stop this load: it is ${now.status.toLowerCase()}, and only a queued or processing load can be stopped`)
  }
  await cancelLoadStatement(id, load.backendPid)
  return load
}

/** Stops the loads of an import about to be deleted: their transactions roll back and let go of its table. */
export async function stopLoadsOfImport(importId: string): Promise<void> {
  const running = await prisma().load.updateManyAndReturn({
    where: { importId, status: { in: ['QUEUED', 'PROCESSING'] } },
    data: { status: 'STOPPED', finishedAt: new Date() },
  })
  for (const load of running) await cancelLoadStatement(load.id, load.backendPid)
}

/** The rows a finished load left out, in file order. */
export async function leftOutOf(load: Load, limit: number, offset: number) {
  const rows = await prisma().loadLeftOut.findMany({ where: { loadId: load.id }, orderBy: { n: 'asc' }, take: limit, skip: offset })
  return rows.map((r) => ({ line: r.line === null ? null : Number(r.line), column: r.column, reason: r.reason, value: r.value }))
}

export function toLoadDto(load: Load): LoadDto {
  const iso = (d: Date | null) => d?.toISOString() ?? null
  return {
    id: load.id,
    importId: load.importId,
    table: { schema: load.targetSchema, name: load.targetTable },
    mode: load.mode as LoadDto['mode'],
    mapping: load.mapping as Record<string, string>,
    key: (load.keyColumns as string[] | null) ?? null,
    duplicates: load.duplicates as LoadDto['duplicates'],
    misfits: load.misfits as LoadDto['misfits'],
    status: load.status,
    rowsTotal: load.rowsTotal === null ? null : Number(load.rowsTotal),
    rowsDone: Number(load.rowsDone),
    rowsInserted: Number(load.rowsInserted),
    rowsUpdated: Number(load.rowsUpdated),
    rowsUnchanged: Number(load.rowsUnchanged),
    rowsDeleted: Number(load.rowsDeleted),
    rowsLeftOut: Number(load.rowsLeftOut),
    error: load.error,
    errorLine: load.errorLine === null ? null : Number(load.errorLine),
    createdAt: load.createdAt.toISOString(),
    startedAt: iso(load.startedAt),
    finishedAt: iso(load.finishedAt),
  }
}
