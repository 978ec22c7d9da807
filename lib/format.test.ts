import { describe, expect, it } from 'vitest'
import { formatBytes, formatClock, formatCount, formatDateTime, formatDuration, formatRows, parseSize } from './format'

describe('formatBytes', () => {
  it.each([
    [0, '0 bytes'],
    [1023, '1023 bytes'],
    [1536, '1.5 KiB'],
    [10 * 1024 ** 3, '10 GiB'],
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

describe('formatCount', () => {
  it.each([
    [0, '0'],
    [999, '999'],
    [300_000, '300,000'],
    [1_234_567.6, '1,234,568'],
  ])('%d → %s', (n, text) => expect(formatCount(n)).toBe(text))
})

describe('formatRows', () => {
  it.each([
    [0, '0 rows'],
    [1, '1 row'],
    [12_345, '12,345 rows'],
  ])('%d → %s', (n, text) => expect(formatRows(n)).toBe(text))
})

describe('formatClock', () => {
  it.each([
    [0, '0:00'],
    [-3, '0:00'],
    [0.2, '0:01'],
    [59, '0:59'],
    [299.4, '5:00'],
    [300, '5:00'],
    [3725, '1:02:05'],
    [NaN, '0:00'],
  ])('%d → %s', (s, text) => expect(formatClock(s)).toBe(text))
})

describe('formatDateTime', () => {
  it('shows local date and minutes', () => {
    const local = new Date(2025, 2, 4, 14, 5, 59)
    expect(formatDateTime(local.toISOString())).toBe('2025-03-04 14:05')
  })
})
