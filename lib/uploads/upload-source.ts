import fs from 'node:fs/promises'
import { uploadFilePath } from './upload-files'

/**
 * An upload's bytes as an import reads them, possibly while they still arrive: how many are
 * there so far, and a range of them. The import never reads past `available()`. One small
 * interface, so that a store other than the local disk (S3) can stand behind it.
 */
export interface UploadSource {
  /** Bytes of the upload the server has confirmed so far, from its start. */
  available(): Promise<number>
  /** Reads up to `length` bytes at `position` into `buf` (at its start); how many it read. */
  read(buf: Buffer, length: number, position: number): Promise<number>
  close(): Promise<void>
}

/** Thrown by openUploadSource when the upload's bytes are gone (stopped, expired, removed). */
export class UploadGoneError extends Error {}

/**
 * The upload's file as @tus/file-store writes it. FileStore answers a HEAD with the file's size
 * as the upload's offset and appends every PATCH at that offset, so the bytes in the file are
 * exactly those the server has confirmed, and never change once written.
 */
export async function openUploadSource(uploadId: string): Promise<UploadSource> {
  const file = await fs.open(uploadFilePath(uploadId)).catch((e: NodeJS.ErrnoException) => {
    throw e.code === 'ENOENT' ? new UploadGoneError('The uploaded file is no longer on the server') : e
  })
  return {
    available: async () => (await file.stat()).size,
    read: async (buf, length, position) => (await file.read(buf, 0, length, position)).bytesRead,
    close: () => file.close(),
  }
}
