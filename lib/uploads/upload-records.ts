import { prisma } from '../db/pool'

/**
 * The database row of each tus upload follows its life:
 * CREATED → RECEIVING → FINISHED, or TERMINATED (client cancelled) or EXPIRED (left unfinished).
 * Every write is guarded by the statuses it may leave, so a late progress event can never
 * move a finished upload backwards.
 */

export async function recordUploadCreated(u: { id: string; fileName: string; fileType: string | null; size: number; ownerId: string }) {
  await prisma().upload.create({ data: { id: u.id, fileName: u.fileName, fileType: u.fileType, size: BigInt(u.size), ownerId: u.ownerId } })
}

/** The upload's owner: a user id, null for an upload from before accounts, undefined when there is no such upload. */
export async function uploadOwner(id: string): Promise<string | null | undefined> {
  const upload = await prisma().upload.findUnique({ where: { id }, select: { ownerId: true } })
  return upload === null ? undefined : upload.ownerId
}

export async function recordBytesReceived(id: string, offset: number) {
  await prisma().upload.updateMany({
    where: { id, status: { in: ['CREATED', 'RECEIVING'] }, bytesReceived: { lt: BigInt(offset) } },
    data: { status: 'RECEIVING', bytesReceived: BigInt(offset) },
  })
}

/** Marks the upload FINISHED; true only for the one call that did (later ones find it finished). */
export async function recordUploadFinished(id: string, size: number): Promise<boolean> {
  const { count } = await prisma().upload.updateMany({
    where: { id, status: { in: ['CREATED', 'RECEIVING'] } },
    data: { status: 'FINISHED', bytesReceived: BigInt(size), finishedAt: new Date() },
  })
  return count > 0
}

export async function recordUploadTerminated(id: string) {
  await prisma().upload.updateMany({
    where: { id, status: { in: ['CREATED', 'RECEIVING', 'FINISHED'] } },
    data: { status: 'TERMINATED' },
  })
}

export async function recordUploadExpired(id: string) {
  await prisma().upload.updateMany({ where: { id, status: { in: ['CREATED', 'RECEIVING'] } }, data: { status: 'EXPIRED' } })
}

export function findUnfinishedUploadsCreatedBefore(cutoff: Date) {
  return prisma().upload.findMany({
    where: { status: { in: ['CREATED', 'RECEIVING'] }, createdAt: { lt: cutoff } },
    select: { id: true },
  })
}
