import cliProgress from 'cli-progress'
import { formatBytes, formatCount, formatDuration } from '../format'
import { createRateMeter } from '../rate-meter'

/**
 * A progress bar for the command-line tools: percent, what is done of the total, the rate and
 * the time left. On a terminal it redraws one line; when the output is a file or a pipe it
 * prints a plain line every couple of seconds instead (no escape codes in logs).
 */
export type ProgressBar = {
  /** The count so far; `detail` is shown beside it (e.g. "1,234 rows" on a bar of bytes). */
  update(value: number, detail?: string): void
  /** Draws the last state and leaves the line in place. */
  stop(): void
}

export type Unit = 'bytes' | 'rows' | 'records'

// The rate is averaged over this window, so it does not jitter with every update.
const RATE_WINDOW_MS = 5_000
// Updates come at least every second (the import is polled twice a second); a longer silence
// (a retry, a paused import) is not speed, so the rate starts again after it.
const RATE_GAP_MS = 3_000
// How often a line is printed when the output is not a terminal.
const PLAIN_LINE_INTERVAL_MS = 2_000

const rateText = (perSecond: number, unit: Unit) => (unit === 'bytes' ? `${formatBytes(perSecond)}/s` : `${formatCount(perSecond)} ${unit}/s`)

export function startProgressBar({
  label,
  total,
  start = 0,
  unit,
  stream = process.stdout,
}: {
  label: string
  total: number
  start?: number
  unit: Unit
  stream?: NodeJS.WriteStream
}): ProgressBar {
  const tty = stream.isTTY === true
  const rate = createRateMeter({ windowMs: RATE_WINDOW_MS, gapMs: RATE_GAP_MS })
  rate.add(performance.now(), start)
  let detail = ''

  const format: cliProgress.GenericFormatter = (options, params) => {
    const percent = total > 0 ? Math.floor((params.value / total) * 100) : 100
    const perSecond = rate.perSecond()
    const parts = [
      `${label} ${tty ? `[${cliProgress.Format.BarFormat(params.progress, options)}] ` : ''}${String(percent).padStart(3)}%`,
      unit === 'bytes' ? `${formatBytes(params.value)} of ${formatBytes(total)}` : `${formatCount(params.value)} of ${formatCount(total)} ${unit}`,
      ...(detail ? [detail] : []),
      perSecond === null ? '…' : rateText(perSecond, unit),
      params.value >= total ? 'done' : perSecond ? `${formatDuration((total - params.value) / perSecond)} left` : '',
    ]
    return parts.filter(Boolean).join(' | ')
  }

  const bar = new cliProgress.SingleBar({
    stream,
    format,
    barsize: 30,
    barCompleteChar: '█',
    barIncompleteChar: '░',
    noTTYOutput: true,
    notTTYSchedule: PLAIN_LINE_INTERVAL_MS,
    // Without a terminal each line already ends with a line break: no blank line at the end.
    clearOnComplete: !tty,
  })
  bar.start(total, start)
  return {
    update(value, text) {
      rate.add(performance.now(), value)
      if (text !== undefined) detail = text
      bar.update(value)
    },
    stop() {
      bar.stop()
    },
  }
}
