import { describe, expect, it } from 'vitest'
import { formatBytes, formatDuration } from './format'

describe('formatBytes', () => {
  it.each([
    [0, '0 bytes'],
    [1023, '1023 bytes'],
    [1536, '1.5 KiB'],
    [10 * 1024 ** 3, '10.0 GiB'],
  ])('%d → %s', (n, text) => expect(formatBytes(n)).toBe(text))
})

describe('formatDuration', () => {
  it.each([
    [0.2, '1 s'],
    [59, '59 s'],
    [90, '2 min'],
    [3725, '1 h 2 min'],
    [Infinity, '—'],
  ])('%d → %s', (s, text) => expect(formatDuration(s)).toBe(text))
})
