'use client'

import type { ExportFormat } from '@/lib/exports/export-format'
import { useCallback, useEffect, useRef, useState } from 'react'
import type { ExportDto } from '@/lib/exports/schemas'
import { createRateMeter } from '@/lib/rate-meter'

/** What a person asks to export: all rows, or a range on one column; formulas defused or not. */
export type ExportRequest = { column?: string; from?: string; to?: string; protectFormulas: boolean; format?: ExportFormat }

// The worker saves its progress about twice a second (lib/exports/run-export.ts): polling
// faster would mostly read the same numbers.
const ACTIVE_INTERVAL_MS = 500
// Rates over the last few seconds of polls; a longer silence (a hidden tab) starts afresh.
const RATE_WINDOW_MS = 5_000
const RATE_GAP_MS = 2_000
// setTimeout keeps its delay in a signed 32-bit integer; a longer one fires at once.
const MAX_TIMER_MS = 2 ** 31 - 1

const UNSETTLED: readonly ExportDto['status'][] = ['QUEUED', 'PROCESSING']
export const isUnsettled = (exp: ExportDto) => UNSETTLED.includes(exp.status)

const newestFirst = (list: ExportDto[]) => list.sort((a, b) => b.createdAt.localeCompare(a.createdAt))

type ApiError = { error?: { code?: string; message?: string } }

/** The server's message from an error answer, or a plain one when it sent none. */
async function messageOf(res: Response): Promise<string> {
  const body = (await res.json().catch(() => null)) as ApiError | null
  return body?.error?.message ?? `The server answered ${res.status}`
}

/**
 * An import's exports: the list (newest first), the one this page follows (started here, or
 * still running when the page opened) with its rate and time left while it runs, and start
 * and stop. `downloadable` are the exports whose file can still be fetched, by the clock.
 */
export function useExports(importId: string) {
  const [exports, setExports] = useState<ExportDto[] | null>(null)
  const [currentId, setCurrentId] = useState<string | null>(null)
  const [rowsPerSecond, setRowsPerSecond] = useState<number | null>(null)
  const [pending, setPending] = useState<'start' | 'stop' | null>(null)
  const [notice, setNotice] = useState<string | null>(null)
  // Bumped after every poll: schedules the next one, also when nothing changed.
  const [tick, setTick] = useState(0)
  // Bumped when a stop is sent and answered: a poll that started before holds stale news.
  const epoch = useRef(0)
  const meter = useRef(createRateMeter({ windowMs: RATE_WINDOW_MS, gapMs: RATE_GAP_MS }))
  // Now, by our clock, renewed when the next download link expires.
  const [now, setNow] = useState(() => Date.now())

  const accept = useCallback((next: ExportDto) => {
    if (next.status === 'PROCESSING') meter.current.add(performance.now(), next.rowsWritten)
    else meter.current.reset()
    setRowsPerSecond(meter.current.perSecond())
    setExports((list) => newestFirst([next, ...(list ?? []).filter((e) => e.id !== next.id)]))
  }, [])

  // The list once; an export still running then is followed as if it had been started here.
  useEffect(() => {
    const abort = new AbortController()
    fetch(`/api/exports?import=${encodeURIComponent(importId)}`, { signal: abort.signal, cache: 'no-store' })
      .then(async (res) => {
        if (!res.ok) throw new Error(await messageOf(res))
        const { exports: list } = (await res.json()) as { exports: ExportDto[] }
        // An export started before this answer came is kept, with what is known of it.
        setExports((known) => newestFirst([...list, ...(known ?? []).filter((e) => !list.some((l) => l.id === e.id))]))
        setNow(Date.now())
        const running = list.find(isUnsettled)
        if (running) setCurrentId((id) => id ?? running.id)
      })
      .catch((error: unknown) => {
        if (!abort.signal.aborted) setNotice(`Earlier exports could not be loaded: ${error instanceof Error ? error.message : String(error)}`)
      })
    return () => abort.abort()
  }, [importId])

  const current = exports?.find((e) => e.id === currentId) ?? null
  const following = current !== null && isUnsettled(current)

  // Follow the current export until it settles.
  useEffect(() => {
    if (!following || !currentId) return
    const abort = new AbortController()
    const timer = setTimeout(async () => {
      const started = epoch.current
      try {
        const res = await fetch(`/api/exports/${currentId}`, { signal: abort.signal, cache: 'no-store' })
        if (res.ok) {
          const next = (await res.json()) as ExportDto
          if (epoch.current === started) accept(next)
        }
      } catch {
        if (abort.signal.aborted) return
      }
      setTick((t) => t + 1)
    }, ACTIVE_INTERVAL_MS)
    return () => {
      abort.abort()
      clearTimeout(timer)
    }
  }, [following, currentId, tick, accept])

  // Links disappear when their file expires: look at the clock again when the next one does.
  const nextExpiry = Math.min(...(exports ?? []).filter((e) => e.downloadUrl && e.expiresAt).map((e) => Date.parse(e.expiresAt!)))
  useEffect(() => {
    if (!Number.isFinite(nextExpiry)) return
    const timer = setTimeout(() => setNow(Date.now()), Math.min(MAX_TIMER_MS, Math.max(0, nextExpiry - Date.now() + 1_000)))
    return () => clearTimeout(timer)
  }, [nextExpiry])

  const start = useCallback(
    async (request: ExportRequest) => {
      setPending('start')
      setNotice(null)
      try {
        const res = await fetch('/api/exports', {
          method: 'POST',
          headers: { 'Content-Type': 'application/json' },
          body: JSON.stringify({ importId, ...request }),
          cache: 'no-store',
        })
        if (!res.ok) return setNotice(await messageOf(res))
        const created = (await res.json()) as ExportDto
        meter.current.reset()
        accept(created)
        setCurrentId(created.id)
        return created
      } catch {
        setNotice('The server could not be reached. Try again.')
      } finally {
        setPending(null)
      }
    },
    [importId, accept],
  )

  const stop = useCallback(async () => {
    if (!currentId) return
    epoch.current++
    setPending('stop')
    setNotice(null)
    try {
      const res = await fetch(`/api/exports/${currentId}/stop`, { method: 'POST', cache: 'no-store' })
      if (res.ok) accept((await res.json()) as ExportDto)
      else setNotice(await messageOf(res)) // it finished first, say: the next poll shows how it ended
    } catch {
      setNotice('The server could not be reached. Try again.')
    } finally {
      epoch.current++
      setPending(null)
      setTick((t) => t + 1)
    }
  }, [currentId, accept])

  const downloadable = (exp: ExportDto) => exp.downloadUrl !== null && exp.expiresAt !== null && Date.parse(exp.expiresAt) > now
  const secondsLeft =
    current?.status === 'PROCESSING' && current.rowsTotal !== null && rowsPerSecond ? (current.rowsTotal - current.rowsWritten) / rowsPerSecond : null

  return {
    /** Null until the list has loaded. */
    exports,
    current: current && { exp: current, rowsPerSecond: current.status === 'PROCESSING' ? rowsPerSecond : null, secondsLeft },
    downloadable,
    start,
    stop,
    pending,
    notice,
  }
}

export type ExportsController = ReturnType<typeof useExports>
