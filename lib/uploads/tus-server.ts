import { ERRORS, EVENTS, Server, type Upload } from '@tus/server'
import { FileStore } from '@tus/file-store'
import { config, uploadsDir } from '../config'
import { formatBytes } from '../format'
import { startImportForUpload, stopImportsOfUpload, wakeImportOfUpload, whyUploadIsInUse } from '../imports/imports'
import { findPrincipal, isCrossSite, mayAccess, type Principal } from '../auth/principal'
import {
  uploadOwner,
  recordBytesReceived,
  recordUploadCreated,
  recordUploadFinished,
  findUnfinishedUploadsCreatedBefore,
  recordUploadExpired,
  recordUploadTerminated,
} from './upload-records'

export const UPLOADS_PATH = '/api/uploads'

/** tus 1.0.0 expiration extension: an unfinished upload is removed a day after it was created. */
export const UPLOAD_EXPIRY_MS = 24 * 60 * 60 * 1000

// How often a running PATCH reports its offset to the database: often enough for a page that
// polls the upload, rare enough that a 1 GB upload costs a handful of UPDATEs, not thousands.
const PROGRESS_INTERVAL_MS = 1000

// Far beyond any real file name or media type; keeps a hostile header out of the database.
const MAX_METADATA_LENGTH = 1024

/** What the tus hooks throw: @tus/server sends it as the response status and plain-text body. */
const reject = (status_code: number, body: string) => ({ status_code, body })

const UPLOAD_CANCELLED = 'The upload was cancelled before the whole file arrived, so its import was stopped'
const UPLOAD_EXPIRED = 'The upload was left unfinished for a day and expired, so its import was stopped'

// The principal of each request being handled, for tus's hooks (which receive the same Request).
const principals = new WeakMap<Request, Principal>()
const principalOf = (req: Request) => {
  const who = principals.get(req)
  if (!who) throw new Error('a tus hook ran for a request without a principal')
  return who
}

/**
 * FileStore that refuses to remove a file an import needs. The check runs inside tus's
 * DELETE, under its lock on the upload and after tus has decoded the id from the URL, so a
 * percent-encoded id or a DELETE racing the last PATCH cannot slip past it.
 */
class GuardedFileStore extends FileStore {
  override async remove(id: string): Promise<void> {
    const upload = await this.getUpload(id)
    const complete = upload.size !== undefined && upload.offset === upload.size
    // An import following an upload cancelled before its last byte can never finish: it stops,
    // and stop removes the file.
    if (!complete && (await stopImportsOfUpload(id, UPLOAD_CANCELLED))) return
    const inUse = await whyUploadIsInUse(id, { complete })
    if (inUse) throw reject(409, `${inUse}\n`)
    await super.remove(id)
  }
}

function createTusServer(): Server {
  const datastore = new GuardedFileStore({ directory: uploadsDir(), expirationPeriodInMilliseconds: UPLOAD_EXPIRY_MS })
  // Sluice needs each upload's size up front (the 413 check, progress, the import that
  // follows), so it does not offer deferred lengths; tus then answers such a creation 501.
  datastore.extensions = datastore.extensions.filter((e) => e !== 'creation-defer-length')
  const server = new Server({
    path: UPLOADS_PATH,
    datastore,
    maxSize: config().maxUploadBytes,
    // Relative, so the Location stays right behind any proxy or TLS terminator.
    relativeLocation: true,
    postReceiveInterval: PROGRESS_INTERVAL_MS,
    // HEAD, PATCH and DELETE (with the id tus decoded from the URL): another person's upload
    // answers exactly as one that does not exist.
    async onIncomingRequest(req, id) {
      if (req.method === 'POST') return
      const owner = await uploadOwner(id)
      if (owner === undefined || !mayAccess(principalOf(req), owner)) throw ERRORS.FILE_NOT_FOUND
    },
    // The file on disk is named by tus's random id; `filename` is only ever stored as data.
    async onUploadCreate(req, upload) {
      const fileName = upload.metadata?.filename?.trim()
      if (!fileName) throw reject(400, 'Upload-Metadata must include a non-empty "filename"')
      const fileType = upload.metadata?.filetype?.trim() || null
      for (const [key, value] of Object.entries({ filename: fileName, filetype: fileType })) {
        if (value && value.length > MAX_METADATA_LENGTH) throw reject(400, `"${key}" is longer than ${MAX_METADATA_LENGTH} characters`)
        // PostgreSQL text cannot hold NUL, and no file name needs a control character.
        if (value && /[\u0000-\u001f\u007f]/.test(value)) throw reject(400, `"${key}" must not contain control characters`)
      }
      // Unreachable while creation-defer-length is not offered (tus answers 501 first).
      if (upload.size === undefined) throw reject(400, 'Upload-Length is required')
      // The owner is whoever made the request: nothing in Upload-Metadata can name another.
      await recordUploadCreated({ id: upload.id, fileName, fileType, size: upload.size, ownerId: principalOf(req).userId })
      return {}
    },
    async onUploadFinish(_req, upload) {
      const size = upload.size ?? upload.offset
      // tus calls this for every PATCH that ends at the full offset, an empty one to a finished
      // upload included: only the call that moved the upload to FINISHED starts its import.
      if (!(await recordUploadFinished(upload.id, size))) return {}
      await startImportForUpload(await importableUpload(upload))
      return {}
    },
    onResponseError(_req, err) {
      // Refusals (4xx, or 501 for an extension not offered) are the client's business; only
      // what broke on our side (a plain exception, or tus's catch-all 500) is logged.
      if (!('status_code' in err) || Number(err.status_code) === 500) console.error('tus request failed:', err)
      // A size over the limit is refused with a message a person can act on. (Not every 413:
      // a PATCH beyond the declared Upload-Length is a client bug, and keeps tus's own words.)
      if (!(err instanceof Error) && err.body === ERRORS.ERR_MAX_SIZE_EXCEEDED.body) {
        return { status_code: 413, body: `File is larger than the limit of ${formatBytes(config().maxUploadBytes)}\n` }
      }
      return undefined
    },
  })
  server.on(EVENTS.POST_RECEIVE, (_req, upload: Upload) => {
    recordProgress(upload.id, upload.offset).catch((e) => console.error('could not record upload progress:', e))
  })
  return server
}

/** The upload as its import needs it: name, declared size and owner. */
async function importableUpload(upload: Upload) {
  const ownerId = (await uploadOwner(upload.id)) ?? null
  return { id: upload.id, fileName: upload.metadata?.filename?.trim() ?? upload.id, size: upload.size ?? upload.offset, ownerId }
}

/** Records how far the upload has come, and lets an import waiting for those bytes go on. */
async function recordProgress(id: string, offset: number) {
  await recordBytesReceived(id, offset)
  await wakeImportOfUpload(id)
}

const globals = globalThis as unknown as { sluiceTus?: Server }
const tus = () => (globals.sluiceTus ??= createTusServer())

const tusAnswer = (status: number, body: string) => new Response(body, { status, headers: { 'Tus-Resumable': '1.0.0', 'Content-Type': 'text/plain; charset=utf-8' } })

/** Answers one tus request (creation, HEAD, PATCH, DELETE, OPTIONS). */
export async function handleUploadRequest(req: Request): Promise<Response> {
  // OPTIONS stays open: a browser's CORS preflight carries no credential.
  if (req.method !== 'OPTIONS') {
    const who = await findPrincipal(req)
    if (!who) return tusAnswer(401, 'Sign in, or send an API key as Authorization: Bearer <key>\n')
    if (who.via === 'session' && isCrossSite(req)) return tusAnswer(403, 'This request came from another site: Sluice accepts uploads only from its own pages\n')
    principals.set(req, who)
  }
  // creation-with-upload: tus would create the upload before it finds the body too long, and
  // answer an error without its Location, leaving an upload nobody can reach.
  const declared = Number(req.headers.get('content-length') ?? 0)
  if (req.method === 'POST' && declared > Number(req.headers.get('upload-length') ?? Infinity)) {
    return tusAnswer(413, 'The body is longer than Upload-Length\n')
  }
  const res = await tus().handleWeb(req)
  if (!res.ok) return res
  const id = (res.headers.get('Location') ?? new URL(req.url).pathname).split('/').pop() ?? ''
  // @tus/server reports progress only on a timer (and emits POST_TERMINATE without awaiting
  // listeners); recording the outcome here means the row agrees with what the client was told
  // by the time it hears the answer.
  const offset = res.headers.get('Upload-Offset')
  if (offset !== null && (req.method === 'PATCH' || req.method === 'POST')) await recordProgress(id, Number(offset))
  // The import starts with the upload and reads its bytes as they arrive.
  if (req.method === 'POST') await startImportOfNewUpload(id)
  if (req.method === 'DELETE') await recordUploadTerminated(id)
  return res
}

/** The import of a new upload, started at once; should that fail, the upload's last byte starts it instead. */
async function startImportOfNewUpload(id: string) {
  try {
    const upload = await tus().datastore.getUpload(id)
    await startImportForUpload(await importableUpload(upload), { following: true })
  } catch (error) {
    console.error(`could not start the import of upload ${id} with it (it starts when the upload is complete):`, error)
  }
}

/**
 * Removes the files of unfinished uploads older than the expiry and marks their rows EXPIRED;
 * returns how many it removed. Driven by Sluice's own rows rather than @tus/server's
 * cleanUpExpiredUploads(): FileStore.deleteExpired compares the size with the offset saved at
 * creation (always 0), so it would delete finished uploads too, files an import still needs.
 */
export async function removeExpiredUploads(now = new Date()): Promise<number> {
  const expired = await findUnfinishedUploadsCreatedBefore(new Date(now.getTime() - UPLOAD_EXPIRY_MS))
  for (const { id } of expired) {
    await recordUploadExpired(id)
    // Its import followed it and can never finish; stopping it removes the file too.
    if (await stopImportsOfUpload(id, UPLOAD_EXPIRED)) continue
    await tus()
      .datastore.remove(id)
      .catch((e: unknown) => {
        if (e !== ERRORS.FILE_NO_LONGER_EXISTS) throw e
      })
  }
  return expired.length
}
