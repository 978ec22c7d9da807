import fs from 'node:fs/promises'
import path from 'node:path'
import { uploadsDir } from '../config'

/** Where @tus/file-store keeps an upload's bytes: the tus id is the file name. */
export const uploadFilePath = (uploadId: string) => path.join(uploadsDir(), uploadId)

/** Deletes an upload's bytes and @tus/file-store's metadata file beside them; a missing file is fine. */
export async function deleteUploadFile(uploadId: string): Promise<void> {
  const file = uploadFilePath(uploadId)
  await Promise.all([fs.rm(file, { force: true }), fs.rm(`${file}.json`, { force: true })])
}

/**
 * True when the file of upload `whole` begins with every byte of upload `prefix`'s file (the
 * same file, when both are complete): read side by side, stopping at the first difference.
 */
export async function fileStartsWith(whole: string, prefix: string): Promise<boolean> {
  const [fa, fb] = await Promise.all([fs.open(uploadFilePath(whole)), fs.open(uploadFilePath(prefix))])
  try {
    const [sa, sb] = await Promise.all([fa.stat(), fb.stat()])
    if (sb.size > sa.size) return false
    const size = 4 * 1024 * 1024
    const ba = Buffer.allocUnsafe(size)
    const bb = Buffer.allocUnsafe(size)
    for (let pos = 0; pos < sb.size; pos += size) {
      const length = Math.min(size, sb.size - pos)
      const [ra, rb] = await Promise.all([fa.read(ba, 0, length, pos), fb.read(bb, 0, length, pos)])
      if (ra.bytesRead !== length || rb.bytesRead !== length || !ba.subarray(0, length).equals(bb.subarray(0, length))) return false
    }
    return true
  } finally {
    await Promise.all([fa.close(), fb.close()])
  }
}
