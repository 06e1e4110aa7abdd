// The chaos suite's tills: a seed fixes what they send (events, ids, replays, regroups, keys), so a failing
// run can be sent again; the event ids stay unique whatever the seed.
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest'
import { seededEventIds, seededRandom } from '../../bench/support/random.js'
import { type PlannedRequest, TillRequests } from '../../chaos/requests.js'

const SHARES = { replayShare: 0.1, regroupShare: 0.1 }
const N = 300

/** The first `n` requests, each answered as if every event in it was stored, as a healthy fleet would. */
function firstRequests(seed: number, n = N, stream = 0): PlannedRequest[] {
  const till = new TillRequests('till-0', stream, seed, SHARES)
  return Array.from({ length: n }, () => {
    const request = till.next()
    till.answered(request, { eventIds: request.events.map((event) => event.id), duplicateEventIds: [] })
    return request
  })
}

describe('chaos till requests', () => {
  // occurredAt is the clock's, not the seed's: hold the clock so only the seed can make two runs differ.
  beforeEach(() => {
    vi.useFakeTimers({ toFake: ['Date'] })
    vi.setSystemTime(new Date('2026-11-29T08:00:00Z'))
  })
  afterEach(() => {
    vi.useRealTimers()
  })

  it('sends the same requests, byte for byte, from the same seed', () => {
    const first = firstRequests(12)
    const second = firstRequests(12)
    expect(second.map((r) => [r.kind, r.idempotencyKey, r.body])).toEqual(
      first.map((r) => [r.kind, r.idempotencyKey, r.body]),
    )
    // Every kind is among them, so replays and regroups are covered by the comparison too.
    expect(new Set(first.map((r) => r.kind))).toEqual(new Set(['new', 'replay', 'regrouped']))
  })

  it('sends other requests from another seed', () => {
    const first = firstRequests(12)
    const other = firstRequests(13)
    const same = other.filter((request, i) => request.body === first[i]!.body)
    expect(same).toEqual([])
  })

  it('sends the same new events when the answers differ', () => {
    const answered = firstRequests(12, 100)
    const till = new TillRequests('till-0', 0, 12, SHARES)
    const unanswered = Array.from({ length: 100 }, () => till.next())
    // Nothing answered, nothing to replay or regroup: every request is new...
    expect(unanswered.every((request) => request.kind === 'new')).toBe(true)
    // ...and is the new part of the request sent in its place when every request was answered.
    answered.forEach((request, i) => {
      if (request.kind === 'replay') return
      const instead = unanswered[i]!
      expect(instead.idempotencyKey).toBe(request.idempotencyKey)
      expect(request.events.slice(0, instead.events.length)).toEqual(instead.events)
    })
  })

  it('gives every event of a run its own UUID-shaped id, whatever the seeds of the tills', () => {
    // Two tills handed the same seed: only their streams tell their ids apart.
    const ids = [0, 1].flatMap((stream) => {
      const next = seededEventIds(seededRandom(7), stream)
      return Array.from({ length: 5000 }, next)
    })
    expect(new Set(ids).size).toBe(ids.length)
    for (const id of ids.slice(0, 20))
      expect(id).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/)
  })
})

describe('seeded shuffle', () => {
  it('orders the same items the same way from the same seed, and every item once', () => {
    const items = Array.from({ length: 20 }, (_, i) => i)
    const a = seededRandom(7).shuffled(items)
    expect(seededRandom(7).shuffled(items)).toEqual(a)
    expect([...a].sort((x, y) => x - y)).toEqual(items)
    expect(a).not.toEqual(items)
    expect(seededRandom(8).shuffled(items)).not.toEqual(a)
  })
})
