import { describe, expect, it } from 'vitest'
import { formatBytes, formatDuration, parseSize } from './format'

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

describe('parseSize', () => {
  it.each([
    ['5000', 5000],
    ['200MB', 200_000_000],
    ['64MiB', 64 * 2 ** 20],
    ['1GiB', 2 ** 30],
    ['1.5 kb', 1500],
  ])('%s → %d', (text, n) => expect(parseSize(text)).toBe(n))

  it('refuses what is not a size', () => {
    expect(() => parseSize('lots')).toThrow('not a size: lots')
  })
})
