import fs from 'node:fs'
import path from 'node:path'
import * as tus from 'tus-js-client'
import { startProgressBar, type ProgressBar } from '../../lib/cli/progress'
import { formatBytes, formatCount } from '../../lib/format'
import { describeNetworkError, InterruptedError, UnreachableError } from './api'
import { osFolder } from './os-folders'

// Backoff between retries after a dropped connection or a 5xx, about a minute and a half in
// all (a server restarting comes back within that). After that the command ends, and running
// it again resumes where the server stopped.
const RETRY_DELAYS_MS = [0, 1_000, 3_000, 5_000, 10_000, 20_000, 30_000]
// The server removes an unfinished upload 24 hours after it was created (tus expiration).
const UPLOAD_LIFETIME_MS = 24 * 60 * 60 * 1000

// tus-js-client's Node build exports FileUrlStorage (a JSON file, locked while written), but
// its type definitions do not declare it.
const { FileUrlStorage } = tus as unknown as { FileUrlStorage: new (file: string) => tus.UrlStorage }

/** The server refused the file (a 4xx): its own words, e.g. the size limit. */
export class UploadRefusedError extends Error {
  name = 'UploadRefusedError'
}

/**
 * Where the command keeps the address of each unfinished upload, by the file's fingerprint
 * (path, size, modification time and the server's address), so that running it again resumes:
 * the OS's cache folder (XDG_CACHE_HOME or ~/.cache on Linux, ~/Library/Caches on macOS,
 * %LOCALAPPDATA% on Windows), in sluice/uploads.json.
 */
export const resumeStateFile = () => path.join(osFolder('cache'), 'sluice', 'uploads.json')

/**
 * Uploads the file over tus with a progress bar, streaming it from the disk (tus-js-client
 * opens a ranged read stream for what is left to send), and resumes an earlier unfinished
 * upload of the same file to the same server. Resolves with the tus upload id.
 */
export async function uploadFile(base: string, file: string, signal: AbortSignal, key: string): Promise<string> {
  const { size } = await fs.promises.stat(file)
  const name = path.basename(file)
  const urlStorage = new FileUrlStorage(resumeStateFile())
  await fs.promises.mkdir(path.dirname(resumeStateFile()), { recursive: true })
  await forgetExpiredUploads(urlStorage)

  let bar: ProgressBar | undefined
  let resumedFrom = 0
  let sent = 0
  const uploadId = () => new URL(upload.url!).pathname.split('/').pop()!
  const upload: tus.Upload = new tus.Upload(fs.createReadStream(file), {
    endpoint: `${base}/api/uploads`,
    headers: { Authorization: `Bearer ${key}` },
    metadata: { filename: name, filetype: 'text/csv' },
    urlStorage,
    // Forget the address once the server has every byte: the file is then imported, and the
    // same file uploaded again later is a new upload.
    removeFingerprintOnSuccess: true,
    retryDelays: RETRY_DELAYS_MS,
    onAfterResponse(req, res) {
      // A HEAD answers where the server stopped: the upload continues from there.
      if (req.getMethod() === 'HEAD' && res.getStatus() === 200) resumedFrom = Number(res.getHeader('Upload-Offset'))
    },
    onUploadUrlAvailable() {
      if (bar) return // a retry: the bar goes on
      console.log(
        resumedFrom > 0
          ? `Resuming upload ${uploadId()} of ${name} from byte ${formatCount(resumedFrom)} of ${formatCount(size)} (${Math.floor((resumedFrom / size) * 100)}%)`
          : `Uploading ${name} (${formatBytes(size)}) as upload ${uploadId()}`,
      )
      sent = resumedFrom
      bar = startProgressBar({ label: 'Uploading', total: size, start: resumedFrom, unit: 'bytes' })
    },
    onProgress(bytesSent) {
      sent = bytesSent
      bar?.update(bytesSent, '')
    },
    onShouldRetry(error, attempt) {
      const status = error.originalResponse?.getStatus() ?? 0
      // tus-js-client's own rule: not on a refusal (4xx), except a conflict or a locked upload.
      const retry = (status < 400 || status >= 500 || status === 409 || status === 423) && !signal.aborted
      if (retry) bar?.update(sent, `${status ? `answer ${status}` : 'connection lost'}, retry ${attempt + 1} of ${RETRY_DELAYS_MS.length}`)
      return retry
    },
  })

  const previous = await upload.findPreviousUploads()
  // creationTime is Date#toString() ("Mon Nov 23 2026 14:33:54 GMT…"): compared as dates, not as text.
  const latest = previous.sort((a, b) => Date.parse(b.creationTime) - Date.parse(a.creationTime))[0]
  if (latest) upload.resumeFromPreviousUpload(latest)

  try {
    await new Promise<void>((resolve, reject) => {
      const onAbort = () => {
        void upload.abort().finally(() => reject(new InterruptedError(`Interrupted after ${formatBytes(sent)} of ${formatBytes(size)}: run the same command again to resume`)))
      }
      signal.addEventListener('abort', onAbort, { once: true })
      upload.options.onSuccess = () => {
        signal.removeEventListener('abort', onAbort)
        resolve()
      }
      upload.options.onError = (error) => {
        signal.removeEventListener('abort', onAbort)
        reject(describeTusError(error, base))
      }
      upload.start()
    })
  } finally {
    bar?.stop()
  }
  return uploadId()
}

/** Removes remembered uploads the server has removed by now (older than a day). */
async function forgetExpiredUploads(storage: tus.UrlStorage) {
  for (const upload of await storage.findAllUploads()) {
    if (Date.now() - Date.parse(upload.creationTime) > UPLOAD_LIFETIME_MS) await storage.removeUpload(upload.urlStorageKey)
  }
}

function describeTusError(error: Error, base: string): Error {
  if (!(error instanceof tus.DetailedError)) return error
  const res = error.originalResponse
  if (res) {
    const body = res.getBody()?.trim() || '(no message)'
    const status = res.getStatus()
    return status >= 400 && status < 500 ? new UploadRefusedError(`The server refused the upload (${status}): ${body}`) : new Error(`The server answered ${status}: ${body}`)
  }
  return new UnreachableError(`Cannot reach Sluice at ${base} (${describeNetworkError({ cause: error.causingError })})`)
}
