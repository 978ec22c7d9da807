/**
 * A rate over a sliding window of recent samples of a growing count (bytes sent, rows
 * imported), so the shown rate does not jitter with every sample.
 */
export type RateMeter = {
  /** Records the count at a time in milliseconds (performance.now()). */
  add(at: number, count: number): void
  /** Counted per second over the window; null until the window spans `minSpanMs`. */
  perSecond(): number | null
  /** Forgets every sample: the next rate starts from scratch (after a pause, say). */
  reset(): void
}

export function createRateMeter({ windowMs, gapMs, minSpanMs = 250 }: { windowMs: number; gapMs: number; minSpanMs?: number }): RateMeter {
  const samples: { at: number; count: number }[] = []
  return {
    add(at, count) {
      // A gap (a pause, a retry, a sleeping laptop) starts a new window, so the rate is not
      // diluted by idle time. A count that went down belongs to something else: start again.
      const last = samples[samples.length - 1]
      if (last && (at - last.at > gapMs || count < last.count)) samples.length = 0
      samples.push({ at, count })
      while (samples.length > 2 && at - samples[0]!.at > windowMs) samples.shift()
    },
    perSecond() {
      const first = samples[0]
      const last = samples[samples.length - 1]
      if (!first || !last || last.at - first.at < minSpanMs) return null
      return ((last.count - first.count) * 1000) / (last.at - first.at)
    },
    reset() {
      samples.length = 0
    },
  }
}
