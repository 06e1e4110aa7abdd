import { describe, expect, it } from 'vitest'
import { Wakeup } from '../../src/platform/wakeup.js'

const LONG_MS = 60_000

describe('wakeup', () => {
  it('ends a wait as soon as it is woken', async () => {
    const wakeup = new Wakeup()
    const started = performance.now()
    const waiting = wakeup.wait(LONG_MS, new AbortController().signal)
    wakeup.wake()
    await waiting
    expect(performance.now() - started).toBeLessThan(LONG_MS)
  })

  it('keeps a wake given while nobody waits, for the next wait only', async () => {
    const wakeup = new Wakeup()
    wakeup.wake()
    wakeup.wake()
    await wakeup.wait(LONG_MS, new AbortController().signal)
    let ended = false
    const second = wakeup.wait(20, new AbortController().signal).then(() => {
      ended = true
    })
    await Promise.resolve()
    expect(ended).toBe(false)
    await second
    expect(ended).toBe(true)
  })

  it('ends a wait when the signal aborts, and at once when it already has', async () => {
    const wakeup = new Wakeup()
    const stop = new AbortController()
    const waiting = wakeup.wait(LONG_MS, stop.signal)
    stop.abort()
    await waiting
    await wakeup.wait(LONG_MS, stop.signal)
  })

  it('ends a wait after its time when nothing wakes it', async () => {
    const wakeup = new Wakeup()
    await wakeup.wait(10, new AbortController().signal)
    // The wait left nothing pending: the next one runs its own time too.
    let ended = false
    const next = wakeup.wait(20, new AbortController().signal).then(() => {
      ended = true
    })
    await Promise.resolve()
    expect(ended).toBe(false)
    await next
  })
})
