import { EVENTS, Server, type Upload } from '@tus/server'
import { FileStore } from '@tus/file-store'
import { config, uploadsDir } from '../config'
import { formatBytes } from '../format'
import {
  recordBytesReceived,
  recordUploadCreated,
  recordUploadFinished,
  recordUploadTerminated,
  recordUploadsExpired,
} from './upload-records'

export const UPLOADS_PATH = '/api/uploads'

/** tus 1.0.0 expiration extension: an unfinished upload is removed a day after it was created. */
export const UPLOAD_EXPIRY_MS = 24 * 60 * 60 * 1000

// How often a running PATCH reports its offset to the database: often enough for a page that
// polls the upload, rare enough that a 1 GB upload costs a handful of UPDATEs, not thousands.
const PROGRESS_INTERVAL_MS = 1000

const MAX_FILENAME_LENGTH = 1024

/** What the tus hooks throw: @tus/server sends it as the response status and plain-text body. */
const reject = (status_code: number, body: string) => ({ status_code, body })

function createTusServer(): Server {
  const datastore = new FileStore({ directory: uploadsDir(), expirationPeriodInMilliseconds: UPLOAD_EXPIRY_MS })
  // Sluice refuses deferred lengths (see onUploadCreate), so it must not advertise them.
  datastore.extensions = datastore.extensions.filter((e) => e !== 'creation-defer-length')
  const server = new Server({
    path: UPLOADS_PATH,
    datastore,
    maxSize: config().maxUploadBytes,
    // Relative, so the Location stays right behind any proxy or TLS terminator.
    relativeLocation: true,
    postReceiveInterval: PROGRESS_INTERVAL_MS,
    // The file on disk is named by tus's random id; `filename` is only ever stored as data.
    async onUploadCreate(_req, upload) {
      const fileName = upload.metadata?.filename?.trim()
      if (!fileName) throw reject(400, 'Upload-Metadata must include a non-empty "filename"')
      if (fileName.length > MAX_FILENAME_LENGTH) throw reject(400, `"filename" is longer than ${MAX_FILENAME_LENGTH} characters`)
      // Sluice needs the size up front (for the 413 check, progress and the import that follows).
      if (upload.size === undefined) throw reject(400, 'Upload-Length is required: deferred lengths are not supported')
      await recordUploadCreated({ id: upload.id, fileName, fileType: upload.metadata?.filetype ?? null, size: upload.size })
      return {}
    },
    async onUploadFinish(_req, upload) {
      await recordUploadFinished(upload.id, upload.size ?? upload.offset)
      return {}
    },
    onResponseError(_req, err) {
      if (err instanceof Error) console.error('tus request failed:', err)
      // A size over the limit is refused with a message a person can act on.
      if (!(err instanceof Error) && err.status_code === 413) {
        return { status_code: 413, body: `File is larger than the limit of ${formatBytes(config().maxUploadBytes)} (MAX_UPLOAD_BYTES)\n` }
      }
      return undefined
    },
  })
  server.on(EVENTS.POST_RECEIVE, (_req, upload: Upload) => {
    recordBytesReceived(upload.id, upload.offset).catch((e) => console.error('could not record upload progress:', e))
  })
  return server
}

const globals = globalThis as unknown as { sluiceTus?: Server }
const tus = () => (globals.sluiceTus ??= createTusServer())

/** Answers one tus request (creation, HEAD, PATCH, DELETE, OPTIONS). */
export async function handleUploadRequest(req: Request): Promise<Response> {
  const res = await tus().handleWeb(req)
  // @tus/server emits POST_TERMINATE without awaiting listeners; recording the termination
  // here means the row says TERMINATED by the time the client hears 204.
  if (req.method === 'DELETE' && res.status === 204) {
    await recordUploadTerminated(new URL(req.url).pathname.split('/').pop() ?? '')
  }
  return res
}

/** Removes the files of expired unfinished uploads and marks their rows; returns how many files went. */
export async function removeExpiredUploads(): Promise<number> {
  const removed = await tus().cleanUpExpiredUploads()
  await recordUploadsExpired(UPLOAD_EXPIRY_MS)
  return removed
}
