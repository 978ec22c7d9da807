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

/** True when both uploads' files hold the same bytes (read side by side, stopping at the first difference). */
export async function sameFileContent(a: string, b: string): Promise<boolean> {
  const [fa, fb] = await Promise.all([fs.open(uploadFilePath(a)), fs.open(uploadFilePath(b))])
  try {
    const [sa, sb] = await Promise.all([fa.stat(), fb.stat()])
    if (sa.size !== sb.size) return false
    const size = 4 * 1024 * 1024
    const ba = Buffer.allocUnsafe(size)
    const bb = Buffer.allocUnsafe(size)
    for (let pos = 0; pos < sa.size; pos += size) {
      const [ra, rb] = await Promise.all([fa.read(ba, 0, size, pos), fb.read(bb, 0, size, pos)])
      if (ra.bytesRead !== rb.bytesRead || !ba.subarray(0, ra.bytesRead).equals(bb.subarray(0, rb.bytesRead))) return false
      if (ra.bytesRead === 0) break
    }
    return true
  } finally {
    await Promise.all([fa.close(), fb.close()])
  }
}
