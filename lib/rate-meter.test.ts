import { describe, expect, it } from 'vitest'
import { createRateMeter } from './rate-meter'

describe('createRateMeter', () => {
  it('has no rate until its samples span the minimum', () => {
    const meter = createRateMeter({ windowMs: 3_000, gapMs: 1_000 })
    expect(meter.perSecond()).toBeNull()
    meter.add(0, 0)
    meter.add(200, 100)
    expect(meter.perSecond()).toBeNull()
    meter.add(500, 1_000)
    expect(meter.perSecond()).toBe(2_000)
  })

  it('counts only the samples inside the window', () => {
    const meter = createRateMeter({ windowMs: 1_000, gapMs: 1_000 })
    meter.add(0, 0)
    meter.add(500, 5_000) // 10,000/s
    meter.add(1_000, 5_500)
    meter.add(1_500, 6_000) // the first sample is out of the window now: 1,000/s
    expect(meter.perSecond()).toBe(1_000)
  })

  it('starts again after a gap, and after the count goes down', () => {
    const meter = createRateMeter({ windowMs: 5_000, gapMs: 1_000 })
    meter.add(0, 0)
    meter.add(500, 500)
    meter.add(3_000, 600) // 2.5 s of idle time: not part of the rate
    meter.add(3_500, 1_100)
    expect(meter.perSecond()).toBe(1_000)
    meter.add(4_000, 0)
    meter.add(4_500, 100)
    expect(meter.perSecond()).toBe(200)
  })

  it('forgets everything on reset', () => {
    const meter = createRateMeter({ windowMs: 5_000, gapMs: 1_000 })
    meter.add(0, 0)
    meter.add(500, 500)
    meter.reset()
    expect(meter.perSecond()).toBeNull()
  })
})
