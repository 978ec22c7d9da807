'use client'

import { useCallback, useEffect, useRef, useState } from 'react'
import * as tus from 'tus-js-client'
import { FIRST_BYTES, whyNotToUpload } from '@/lib/csv/not-csv'
import type { ImportDto } from '@/lib/imports/schemas'
import { createRateMeter } from '@/lib/rate-meter'

/** Where one file's upload stands, as the card shows it. */
export type UploadState =
  | { phase: 'starting' }
  | { phase: 'uploading' | 'paused'; sent: number; bytesPerSecond: number | null }
  /** The connection failed: tus retries at `retryAt` (or as soon as the server answers again). */
  | { phase: 'retrying'; sent: number; bytesPerSecond: null; retryAt: number; unreachable: boolean }
  /** Imported before (same name and size): the person chooses between that import and a new one. */
  | { phase: 'duplicate'; existing: { id: string; createdAt: string; rows: number } }
  /** `uploadId` is the tus id (the upload URL's last segment): its import is found by it. */
  | { phase: 'done'; uploadId: string }
  | { phase: 'failed'; sent: number; message: string; canRetry: boolean }
  | { phase: 'cancelled' }
  /** Not sent at all: the browser's own check of the file's size and first bytes refused it. */
  | { phase: 'refused'; message: string }

/** An unfinished upload that tus-js-client remembers from an earlier visit (localStorage). */
export type EarlierUpload = Awaited<ReturnType<tus.Upload['findPreviousUploads']>>[number]

export type UploadItem = {
  key: string
  name: string
  size: number
  state: UploadState
  /** The server's offset when this upload picked up an earlier one (a reload, a re-chosen file). */
  resumedFrom: number | null
  /** The tus id, once the server has created the upload: its import starts then and follows it. */
  uploadId: string | null
}

// Backoff between retries after a dropped connection: quick at first, then every 30 s for
// about ten minutes, so a laptop that sleeps or changes network still finishes on its own.
const RETRY_DELAYS = [0, 1_000, 3_000, 5_000, 10_000, 20_000, ...Array<number>(20).fill(30_000)]

// React re-renders a card at most this often; progress events arrive far faster.
const RENDER_INTERVAL_MS = 200
// Rate and time left are averaged over this window, so they don't jitter with every event.
const RATE_WINDOW_MS = 3_000
// Progress events come many times a second; a longer silence is a pause or a retry, not speed.
const RATE_GAP_MS = 1_000
// The server removes unfinished uploads after 24 h (tus expiration); older local entries are dead.
const EARLIER_UPLOAD_LIFETIME_MS = 24 * 60 * 60 * 1000

// While an upload waits to retry, the server is asked this often whether it answers again:
// the upload goes on then, not at the end of a backoff of up to 30 s.
const SERVER_CHECK_MS = 1_000

/**
 * Starts, pauses, resumes and cancels tus uploads, and tracks their progress for the page.
 * `maxUploadBytes`: the server's limit, checked before a byte is sent; `viewerEmail`: the
 * signed-in person, whose earlier imports a file dropped again is compared with.
 */
export function useUploads(maxUploadBytes: number, viewerEmail: string) {
  const [items, setItems] = useState<UploadItem[]>([])
  const [earlier, setEarlier] = useState<EarlierUpload[]>([])
  const uploads = useRef(new Map<string, tus.Upload>())
  // Uploads a person paused: one paused before it was started must not start.
  const paused = useRef(new Set<string>())
  // Files waiting for the person's answer to "import it again?".
  const waiting = useRef(new Map<string, File>())

  useEffect(() => {
    void findEarlierUploads().then(setEarlier)
  }, [])

  const update = useCallback((key: string, patch: Partial<UploadItem>) => {
    setItems((all) => all.map((it) => (it.key === key ? { ...it, ...patch } : it)))
  }, [])

  /** Sends one file with tus, continuing an earlier upload of it when this browser remembers one. */
  const start = useCallback(
    async (key: string, file: File) => {
      update(key, { state: { phase: 'starting' } })
      const rate = createRateMeter({ windowMs: RATE_WINDOW_MS, gapMs: RATE_GAP_MS })
      let lastRender = 0
      let sent = 0
      const upload = new tus.Upload(file, {
        endpoint: '/api/uploads',
        metadata: { filename: file.name, filetype: file.type || 'text/csv' },
        retryDelays: RETRY_DELAYS,
        removeFingerprintOnSuccess: true,
        onUploadUrlAvailable() {
          update(key, { uploadId: new URL(upload.url!, location.href).pathname.split('/').pop()! })
        },
        onAfterResponse(req, res) {
          // A HEAD answers where the server stopped: that is where a resumed upload continues.
          if (req.getMethod() === 'HEAD' && res.getStatus() === 200) {
            update(key, { resumedFrom: Number(res.getHeader('Upload-Offset')) })
          }
        },
        onProgress(bytesSent) {
          sent = bytesSent
          const now = performance.now()
          rate.add(now, bytesSent)
          if (now - lastRender < RENDER_INTERVAL_MS) return
          lastRender = now
          update(key, { state: { phase: 'uploading', sent, bytesPerSecond: rate.perSecond() } })
        },
        onShouldRetry(error, attempt) {
          // Retry what a new attempt can cure: no answer at all (the network dropped, even
          // if the browser says it is offline), a server error, or a conflict over the offset
          // or the lock. A refusal (400, 413) stays a refusal: the card shows its message.
          const status = error.originalResponse?.getStatus() ?? 0
          const retry = status === 0 || status >= 500 || status === 409 || status === 423
          // tus-js-client waits RETRY_DELAYS[attempt] before the next try.
          const retryAt = Date.now() + (RETRY_DELAYS[attempt] ?? 0)
          if (retry) update(key, { state: { phase: 'retrying', sent, bytesPerSecond: null, retryAt, unreachable: status === 0 } })
          return retry
        },
        onSuccess() {
          uploads.current.delete(key)
          const uploadId = new URL(upload.url!, location.href).pathname.split('/').pop()!
          update(key, { state: { phase: 'done', uploadId } })
        },
        onError(error) {
          // A refusal (a 4xx: too large, bad metadata) would only be refused again.
          const status = error instanceof tus.DetailedError ? (error.originalResponse?.getStatus() ?? 0) : 0
          const canRetry = status < 400 || status >= 500
          update(key, { state: { phase: 'failed', sent, message: describeError(error), canRetry } })
        },
      })
      uploads.current.set(key, upload)
      // tus-js-client remembers unfinished uploads in localStorage by the file's fingerprint
      // (name, type, size, modification time): the same file chosen again continues there.
      const previous = await upload.findPreviousUploads()
      const latest = previous.sort((a, b) => b.creationTime.localeCompare(a.creationTime))[0]
      if (latest) upload.resumeFromPreviousUpload(latest)
      // Paused while this browser looked for an earlier upload of it (Pause all as it starts).
      if (!paused.current.has(key)) upload.start()
    },
    [update],
  )

  const add = useCallback(
    async (files: File[]) => {
      const imported = await ownImports(viewerEmail)
      for (const file of files) {
        setEarlier((all) => all.filter((e) => !(e.metadata.filename === file.name && e.size === file.size)))
        const key = crypto.randomUUID()
        const card = { key, name: file.name, size: file.size, resumedFrom: null, uploadId: null }
        // The server's sniffer would refuse it at the end; refused here, nothing is sent.
        const refusal = whyNotToUpload(new Uint8Array(await file.slice(0, FIRST_BYTES).arrayBuffer()), file.size, maxUploadBytes)
        if (refusal) {
          setItems((all) => [{ ...card, state: { phase: 'refused', message: refusal } }, ...all])
          continue
        }
        const same = imported.find((i) => i.fileName === file.name && i.totalBytes === file.size)
        if (same) {
          waiting.current.set(key, file)
          setItems((all) => [{ ...card, state: { phase: 'duplicate', existing: { id: same.id, createdAt: same.createdAt, rows: same.rowsImported } } }, ...all])
          continue
        }
        setItems((all) => [{ ...card, state: { phase: 'starting' } }, ...all])
        await start(key, file)
      }
    },
    [start, maxUploadBytes, viewerEmail],
  )

  /** The person's answer to a file imported before: import it again. */
  const importAgain = useCallback(
    (key: string) => {
      const file = waiting.current.get(key)
      if (!file) return
      waiting.current.delete(key)
      void start(key, file)
    },
    [start],
  )

  /** Tries again now instead of at the end of the backoff. */
  const retryNow = useCallback(async (key: string) => {
    const upload = uploads.current.get(key)
    if (!upload) return
    await upload.abort()
    upload.start()
  }, [])

  // While an upload waits to retry, it goes on the moment the server answers again.
  const current = useRef(items)
  current.current = items
  const retrying = items.some((it) => it.state.phase === 'retrying')
  useEffect(() => {
    if (!retrying) return
    const timer = setInterval(async () => {
      const answers = await fetch('/api/health', { cache: 'no-store' }).then((r) => r.ok, () => false)
      if (!answers) return
      for (const it of current.current) if (it.state.phase === 'retrying' && it.state.retryAt - Date.now() > SERVER_CHECK_MS) void retryNow(it.key)
    }, SERVER_CHECK_MS)
    return () => clearInterval(timer)
  }, [retrying, retryNow])

  /** Moves a card to paused or uploading, keeping the bytes it had sent. */
  const setRunning = useCallback((key: string, phase: 'paused' | 'uploading') => {
    setItems((all) =>
      all.map((it) => (it.key === key ? { ...it, state: { phase, sent: 'sent' in it.state ? it.state.sent : 0, bytesPerSecond: null } } : it)),
    )
  }, [])

  const pause = useCallback(
    (key: string) => {
      const upload = uploads.current.get(key)
      if (!upload) return
      paused.current.add(key)
      void upload.abort()
      setRunning(key, 'paused')
    },
    [setRunning],
  )

  const resume = useCallback(
    (key: string) => {
      const upload = uploads.current.get(key)
      if (!upload) return
      paused.current.delete(key)
      setRunning(key, 'uploading')
      upload.start()
    },
    [setRunning],
  )

  const cancel = useCallback(
    async (key: string) => {
      const upload = uploads.current.get(key)
      if (!upload) return
      uploads.current.delete(key)
      // Terminates the upload on the server (tus termination) and forgets its fingerprint.
      await upload.abort(true).catch(() => {})
      update(key, { state: { phase: 'cancelled' } })
    },
    [update],
  )

  /** Stops sending a file whose import was stopped: the server has ended its upload already. */
  const endStopped = useCallback(
    (key: string) => {
      const upload = uploads.current.get(key)
      if (!upload) return
      uploads.current.delete(key)
      void upload.abort()
      update(key, { state: { phase: 'cancelled' } })
    },
    [update],
  )

  /** Removes a card whose upload cannot go on. */
  const dismiss = useCallback((key: string) => {
    uploads.current.delete(key)
    waiting.current.delete(key)
    setItems((all) => all.filter((it) => it.key !== key))
  }, [])

  /** Gives up an upload from an earlier visit: removed on the server and forgotten here. */
  const discard = useCallback(async (upload: EarlierUpload) => {
    setEarlier((all) => all.filter((e) => e.urlStorageKey !== upload.urlStorageKey))
    // Forgotten here first, so a tab closed while the server is asked never offers it again.
    await tus.defaultOptions.urlStorage.removeUpload(upload.urlStorageKey)
    if (upload.uploadUrl) await tus.Upload.terminate(upload.uploadUrl).catch(() => {}) // already gone: fine
  }, [])

  useEffect(() => {
    const all = uploads.current
    return () => all.forEach((u) => void u.abort())
  }, [])

  return { items, earlier, add, importAgain, retryNow, pause, resume, cancel, endStopped, dismiss, discard }
}

/** The unfinished uploads this browser remembers, newest first; expired ones are forgotten. */
async function findEarlierUploads(): Promise<EarlierUpload[]> {
  const storage = tus.defaultOptions.urlStorage
  const all = await storage.findAllUploads()
  const live: EarlierUpload[] = []
  for (const upload of all) {
    const age = Date.now() - Date.parse(upload.creationTime)
    if (upload.uploadUrl && age < EARLIER_UPLOAD_LIFETIME_MS) live.push(upload)
    else await storage.removeUpload(upload.urlStorageKey)
  }
  return live.sort((a, b) => b.creationTime.localeCompare(a.creationTime))
}

function describeError(error: Error): string {
  const res = error instanceof tus.DetailedError ? error.originalResponse : null
  const body = res?.getBody()?.trim()
  if (res && body) return body
  if (res) return `The server answered ${res.getStatus()}`
  return 'The connection to the server was lost'
}

/** The signed-in person's finished imports (an admin's list holds everyone's): for "imported before?". */
async function ownImports(viewerEmail: string): Promise<ImportDto[]> {
  const list = await fetch('/api/imports', { cache: 'no-store' })
    .then((r) => (r.ok ? (r.json() as Promise<{ imports: ImportDto[] }>) : { imports: [] }))
    .catch(() => ({ imports: [] as ImportDto[] })) // unreachable: the upload's own retries will say so
  return list.imports.filter((i) => i.status === 'PROCESSED' && (!i.owner || i.owner.email === viewerEmail))
}
