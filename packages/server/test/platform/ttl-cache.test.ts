// The TTL cache on its own. Time is vitest's fake clock (Date.now included), so expiry is tested to the
// millisecond without waiting.
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest'
import { TtlCache } from '../../src/platform/ttl-cache.js'

describe('TtlCache', () => {
  beforeEach(() => {
    vi.useFakeTimers({ now: new Date('2025-01-01T00:00:00Z') })
  })
  afterEach(() => {
    vi.useRealTimers()
  })

  it('returns a value until its time-to-live has passed, and nothing after', () => {
    const cache = new TtlCache<string>(1_000)
    cache.set('key', 'value')
    expect(cache.get('key')).toBe('value')
    vi.advanceTimersByTime(999)
    expect(cache.get('key')).toBe('value')
    vi.advanceTimersByTime(1)
    expect(cache.get('key')).toBeUndefined()
  })

  it('returns nothing for a key never set', () => {
    expect(new TtlCache<string>(1_000).get('missing')).toBeUndefined()
  })

  it('gives an entry a fresh time-to-live when it is set again', () => {
    const cache = new TtlCache<string>(1_000)
    cache.set('key', 'old')
    vi.advanceTimersByTime(800)
    cache.set('key', 'new')
    vi.advanceTimersByTime(800)
    expect(cache.get('key')).toBe('new')
    vi.advanceTimersByTime(200)
    expect(cache.get('key')).toBeUndefined()
  })

  it('keeps falsy values apart from misses', () => {
    const cache = new TtlCache<number | null>(1_000)
    cache.set('zero', 0)
    cache.set('null', null)
    expect(cache.get('zero')).toBe(0)
    expect(cache.get('null')).toBeNull()
  })

  it('evicts the oldest entry when full', () => {
    const cache = new TtlCache<number>(60_000, 3)
    cache.set('a', 1)
    cache.set('b', 2)
    cache.set('c', 3)
    cache.set('d', 4)
    expect(cache.get('a')).toBeUndefined()
    expect([cache.get('b'), cache.get('c'), cache.get('d')]).toEqual([2, 3, 4])
    cache.set('e', 5)
    expect(cache.get('b')).toBeUndefined()
    expect([cache.get('c'), cache.get('d'), cache.get('e')]).toEqual([3, 4, 5])
  })

  it('makes room again once an expired entry was read and dropped', () => {
    const cache = new TtlCache<number>(1_000, 2)
    cache.set('a', 1)
    vi.advanceTimersByTime(500)
    cache.set('b', 2)
    vi.advanceTimersByTime(500)
    expect(cache.get('a')).toBeUndefined()
    cache.set('c', 3)
    // 'a' left when it was read expired, so 'b' was not evicted to make room for 'c'.
    expect([cache.get('b'), cache.get('c')]).toEqual([2, 3])
  })

  it('forgets one key on delete and every key on clear', () => {
    const cache = new TtlCache<number>(60_000)
    cache.set('a', 1)
    cache.set('b', 2)
    cache.set('c', 3)
    cache.delete('b')
    expect([cache.get('a'), cache.get('b'), cache.get('c')]).toEqual([1, undefined, 3])
    cache.delete('never-set')
    cache.clear()
    expect([cache.get('a'), cache.get('c')]).toEqual([undefined, undefined])
    cache.set('a', 4)
    expect(cache.get('a')).toBe(4)
  })
})
