'use client'

import { useCallback, useEffect, useRef, useState } from 'react'
import { createRateMeter } from '@/lib/rate-meter'
import type { ImportCommand } from '@/lib/imports/import-status'
import type { ImportDto } from '@/lib/imports/schemas'

/** Where the card stands: looking for the import of a finished upload, following one, or lost. */
export type ImportView =
  | { phase: 'finding' }
  | { phase: 'following'; imp: ImportDto; rowsPerSecond: number | null; secondsLeft: number | null }
  | { phase: 'lost'; message: string }

// The import is created when the upload's last PATCH lands, so it is there at once or nearly.
const FIND_INTERVAL_MS = 500
// About twice a second while rows are moving: the server commits a batch several times a
// second, so a faster poll would mostly see the same numbers.
const ACTIVE_INTERVAL_MS = 500
// Paused, killed or failed imports change only by a command (ours answers at once) or by the
// pause timeout, another tab or the same file dropped again: a slow poll is enough for those.
const IDLE_INTERVAL_MS = 3_000
// Rates over the last few seconds of polls; a longer silence (a hidden tab) starts afresh.
const RATE_WINDOW_MS = 5_000
const RATE_GAP_MS = 2_000

/** How long to wait before the next look at an import; null when nothing will change any more. */
function pollInterval(imp: ImportDto, clockOffsetMs: number): number | null {
  switch (imp.status) {
    case 'QUEUED':
    case 'RECEIVING':
    case 'PROCESSING':
      return ACTIVE_INTERVAL_MS
    case 'PAUSED': {
      // Look again just after the pause timeout is due, to show the import stopped.
      const due = imp.pauseExpiresAt ? Date.parse(imp.pauseExpiresAt) - (Date.now() + clockOffsetMs) + 500 : Infinity
      return Math.max(ACTIVE_INTERVAL_MS, Math.min(IDLE_INTERVAL_MS, due))
    }
    case 'KILLED':
    case 'FAILED':
      return IDLE_INTERVAL_MS
    case 'PROCESSED':
    case 'STOPPED':
      return null
  }
}

type ApiError = { error?: { code?: string; message?: string } }

/**
 * Finds the import of an upload (or starts from one already known), follows its progress by
 * polling, measures its rates, and sends pause, resume, stop and kill.
 */
export function useImport(source: { uploadId: string } | { initial: ImportDto }) {
  const uploadId = 'uploadId' in source ? source.uploadId : null
  const [imp, setImp] = useState<ImportDto | null>('initial' in source ? source.initial : null)
  const [lost, setLost] = useState<string | null>(null)
  const [rates, setRates] = useState<{ rows: number | null; bytes: number | null }>({ rows: null, bytes: null })
  const [pending, setPending] = useState<ImportCommand | null>(null)
  const [notice, setNotice] = useState<string | null>(null)
  // Bumped after every poll and command: schedules the next poll.
  const [tick, setTick] = useState(0)
  const pollSoon = useRef(false)
  // Bumped when a command is sent and answered: a poll that started before holds stale news.
  const epoch = useRef(0)
  // The server's clock minus ours (from the Date header), so a countdown to a server time is right.
  const [clockOffsetMs, setClockOffsetMs] = useState(0)
  const clockKnown = useRef(false)
  const meters = useRef({
    rows: createRateMeter({ windowMs: RATE_WINDOW_MS, gapMs: RATE_GAP_MS }),
    bytes: createRateMeter({ windowMs: RATE_WINDOW_MS, gapMs: RATE_GAP_MS }),
  })

  const learnClock = useCallback((res: Response) => {
    const date = res.headers.get('date')
    if (clockKnown.current || !date) return
    clockKnown.current = true
    // The header has whole seconds, cut down: on average half a second behind.
    setClockOffsetMs(Date.parse(date) + 500 - Date.now())
  }, [])

  const accept = useCallback((next: ImportDto) => {
    const { rows, bytes } = meters.current
    if (next.status === 'PROCESSING') {
      const now = performance.now()
      rows.add(now, next.rowsImported)
      bytes.add(now, next.bytesProcessed)
    } else {
      rows.reset()
      bytes.reset()
    }
    setImp(next)
    setRates({ rows: rows.perSecond(), bytes: bytes.perSecond() })
  }, [])

  const id = imp?.id ?? null

  // Until the import is known: ask for the upload's import until the server has created it.
  useEffect(() => {
    if (id || !uploadId) return
    const abort = new AbortController()
    let timer: ReturnType<typeof setTimeout> | undefined
    const find = async () => {
      try {
        const res = await fetch(`/api/imports?upload=${encodeURIComponent(uploadId)}`, { signal: abort.signal, cache: 'no-store' })
        if (res.ok) {
          learnClock(res)
          const { imports } = (await res.json()) as { imports: ImportDto[] }
          if (imports[0]) return accept(imports[0]) // newest first
        }
      } catch {
        if (abort.signal.aborted) return
      }
      timer = setTimeout(find, FIND_INTERVAL_MS)
    }
    void find()
    return () => {
      abort.abort()
      clearTimeout(timer)
    }
  }, [id, uploadId, accept, learnClock])

  // Once known: follow it, fast while it moves, slowly while it waits, not at all once settled.
  useEffect(() => {
    if (!imp || lost) return
    const interval = pollInterval(imp, clockOffsetMs)
    if (interval === null) return
    const abort = new AbortController()
    const delay = pollSoon.current ? 0 : interval
    pollSoon.current = false
    const timer = setTimeout(async () => {
      const started = epoch.current
      try {
        const res = await fetch(`/api/imports/${imp.id}`, { signal: abort.signal, cache: 'no-store' })
        if (res.status === 404) return setLost('This import no longer exists.')
        if (res.ok) {
          learnClock(res)
          const next = (await res.json()) as ImportDto
          if (epoch.current === started) accept(next)
        }
      } catch {
        if (abort.signal.aborted) return
      }
      setTick((t) => t + 1)
    }, delay)
    return () => {
      abort.abort()
      clearTimeout(timer)
    }
    // `tick` re-arms the poll after each answer, also when the import did not change.
  }, [imp, lost, tick, clockOffsetMs, accept, learnClock])

  const command = useCallback(
    async (action: ImportCommand) => {
      if (!id) return
      epoch.current++
      setPending(action)
      setNotice(null)
      try {
        const res = await fetch(`/api/imports/${id}/${action}`, { method: 'POST', cache: 'no-store' })
        const body = (await res.json().catch(() => null)) as ImportDto | ApiError | null
        if (res.ok && body && 'status' in body) accept(body)
        else setNotice((body as ApiError | null)?.error?.message ?? `The server answered ${res.status}`)
      } catch {
        setNotice('The server could not be reached. Try again.')
      } finally {
        epoch.current++
        pollSoon.current = true // after a refusal too: the card shows the status the server has
        setPending(null)
        setTick((t) => t + 1)
      }
    },
    [id, accept],
  )

  const view: ImportView = lost
    ? { phase: 'lost', message: lost }
    : imp
      ? {
          phase: 'following',
          imp,
          rowsPerSecond: rates.rows,
          secondsLeft: rates.bytes ? (imp.totalBytes - imp.bytesProcessed) / rates.bytes : null,
        }
      : { phase: 'finding' }

  return { view, command, pending, notice, clockOffsetMs }
}

export type ImportController = ReturnType<typeof useImport>
