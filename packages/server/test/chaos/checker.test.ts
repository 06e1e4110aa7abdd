// The chaos suite's checker: its counting of lost and duplicated events, of answers during outages, and its
// table, fed with ledgers and database facts written by hand.
import { describe, expect, it } from 'vitest'
import type { PosEvent } from '../../bench/support/events.js'
import {
  type ChaosInput,
  checkChaos,
  expectedProjections,
  type FaultRecord,
  type StoredFacts,
  type TenantProjections,
} from '../../chaos/checker.js'
import type { Attempt, DeviceLedger, RequestRecord } from '../../chaos/ledger.js'
import { formatVerdict } from '../../chaos/table.js'

const TENANT = 'tenant-1'
const T0 = 1_000_000

const adjusted = (id: string, sku: string, delta: number): PosEvent => ({
  id,
  type: 'inventory.adjusted',
  occurredAt: '2026-11-29T08:00:00Z',
  data: { storeId: 'store-001', sku, delta },
})
const completed = (id: string, orderId: string, amount: number): PosEvent => ({
  id,
  type: 'order.completed',
  occurredAt: '2026-11-29T08:00:00Z',
  data: { orderId, storeId: 'store-001', currency: 'EUR', lineItems: [], total: { amount, currency: 'EUR' } },
})
const refunded = (id: string, orderId: string, amount: number): PosEvent => ({
  id,
  type: 'refund.created',
  occurredAt: '2026-11-29T08:00:00Z',
  data: { orderId, refundId: `r-${id}`, amount: { amount, currency: 'EUR' } },
})

function attempt(status: number | 'error', at = T0, overrides: Partial<Attempt> = {}): Attempt {
  return {
    replica: 0,
    startedAt: at,
    endedAt: at + 20,
    status,
    retryAfter: null,
    replayed: false,
    ...overrides,
  }
}

function request(key: string, events: readonly PosEvent[], answer?: RequestRecord['answer']): RequestRecord {
  return {
    kind: 'new',
    idempotencyKey: key,
    eventIds: events.map((e) => e.id),
    attempts: [attempt(answer ? 201 : 503)],
    ...(answer && { answer, replayed: false }),
  }
}

function ledger(requests: RequestRecord[], events: readonly PosEvent[]): DeviceLedger {
  return { device: 'till-0', tenantId: TENANT, sent: new Map(events.map((e) => [e.id, e])), requests }
}

function facts(storedIds: readonly string[], projections: TenantProjections): StoredFacts {
  return { events: new Map([[TENANT, new Set(storedIds)]]), projections: new Map([[TENANT, projections]]) }
}

const events = [adjusted('e1', 'SKU-1', 5), completed('e2', 'o-1', 700), refunded('e3', 'o-1', 350)]

function input(overrides: Partial<ChaosInput> = {}): ChaosInput {
  const ids = events.map((e) => e.id)
  return {
    runStartedAt: T0,
    ledgers: [ledger([request('k1', events, { eventIds: ids, duplicateEventIds: [] })], events)],
    stored: facts(ids, expectedProjections(events)),
    faults: [],
    delivered: new Map([[TENANT, new Set(ids)]]),
    hangLimitMs: 2000,
    unexpectedExits: [],
    ...overrides,
  }
}

const row = (verdict: ReturnType<typeof checkChaos>, check: string) =>
  verdict.rows.find((r) => r.check.startsWith(check))

describe('the chaos checker', () => {
  it('passes a run where everything told stored is stored once and delivered', () => {
    const verdict = checkChaos(input())
    expect(verdict.violations).toEqual([])
    expect(verdict.ok).toBe(true)
    expect(row(verdict, 'events told stored')?.value).toBe('3')
    expect(row(verdict, 'lost')?.value).toBe('0')
  })

  it('counts an event told stored but missing from the log as lost, and fails', () => {
    const verdict = checkChaos(input({ stored: facts(['e2', 'e3'], expectedProjections(events.slice(1))) }))
    expect(row(verdict, 'lost')).toMatchObject({ value: '1', ok: false })
    expect(verdict.examples.lost).toEqual(['e1'])
    expect(verdict.ok).toBe(false)
  })

  it('counts a duplicate listed by a 201 as told stored too', () => {
    const again = request('k2', [events[0]!], { eventIds: [], duplicateEventIds: ['e1'] })
    const verdict = checkChaos(
      input({
        ledgers: [ledger([again], events)],
        stored: facts([], expectedProjections([])),
        delivered: new Map(),
      }),
    )
    expect(row(verdict, 'lost')?.value).toBe('1')
  })

  it('does not count events of a request the till gave up on as lost', () => {
    const verdict = checkChaos(
      input({
        ledgers: [ledger([request('k1', events)], events)],
        stored: facts([], expectedProjections([])),
      }),
    )
    expect(row(verdict, 'lost')?.value).toBe('0')
    expect(row(verdict, 'requests given up')?.value).toBe('1')
  })

  it('counts an event two requests each accepted as new as duplicated', () => {
    const ids = events.map((e) => e.id)
    const first = request('k1', events, { eventIds: ids, duplicateEventIds: [] })
    const regrouped = {
      ...request('k2', [events[0]!], { eventIds: ['e1'], duplicateEventIds: [] }),
      kind: 'regrouped' as const,
    }
    const verdict = checkChaos(input({ ledgers: [ledger([first, regrouped], events)] }))
    expect(row(verdict, 'duplicated (accepted')).toMatchObject({ value: '1', ok: false })
    expect(verdict.ok).toBe(false)
  })

  it('counts a stock move or a refund counted twice in the projections', () => {
    const doubled: TenantProjections = {
      stock: new Map([['store-001/SKU-1', 10]]),
      orderTotals: new Map([['o-1', 700]]),
      refunds: new Map([['o-1', { count: 2, sum: 700 }]]),
    }
    const verdict = checkChaos(input({ stored: facts(['e1', 'e2', 'e3'], doubled) }))
    expect(row(verdict, 'duplicated or missed')).toMatchObject({ value: '3', ok: false })
    expect(verdict.examples['projection mismatches']).toContain('stock store-001/SKU-1: 10 != 5')
  })

  it('fails a replay whose answer differs from the original', () => {
    const ids = events.map((e) => e.id)
    const first = request('k1', events, { eventIds: ids, duplicateEventIds: [] })
    const replay: RequestRecord = {
      ...request('k1', events, { eventIds: [], duplicateEventIds: ids }),
      kind: 'replay',
      replayed: true,
    }
    const verdict = checkChaos(input({ ledgers: [ledger([first, replay], events)] }))
    expect(row(verdict, 'replays answered unlike')).toMatchObject({ value: '1', ok: false })
  })

  it('checks the answers given during the outages by when they were sent', () => {
    const fault = (kind: FaultRecord['kind'], startedAt: number): FaultRecord => ({
      kind,
      label: kind,
      startedAt,
      endedAt: startedAt + 10_000,
      recoveryMs: 500,
      notes: [],
      violations: [],
    })
    const ids = events.map((e) => e.id)
    const served: RequestRecord = {
      ...request('k1', events, { eventIds: ids, duplicateEventIds: [] }),
      attempts: [
        attempt(503, T0 + 1000, { retryAfter: '1' }),
        attempt(500, T0 + 2000),
        attempt(503, T0 + 3000),
        attempt(503, T0 + 4000, { retryAfter: '1', endedAt: T0 + 9000 }),
        attempt(201, T0 + 5000, { replayed: true }),
        attempt(429, T0 + 6000),
        attempt(502, T0 + 21_000),
        attempt(201, T0 + 40_000),
      ],
    }
    const verdict = checkChaos(
      input({
        ledgers: [ledger([served], events)],
        faults: [fault('postgres-cut', T0), fault('redis-stop', T0 + 20_000)],
      }),
    )
    // The 500 only: a 429 and a replay answered from the replica's memory need no database.
    expect(row(verdict, 'answers other than 503')?.value).toBe('1 of 6')
    expect(row(verdict, 'answers served without the database')?.value).toBe('2')
    expect(verdict.examples['answers other than 503 during the PostgreSQL outage']).toEqual([
      '500: 2000 ms into postgres-cut, answered in 20 ms by replica 0; till-0 new request k1, attempt 2',
    ])
    expect(row(verdict, '503 without Retry-After')?.value).toBe('1')
    expect(row(verdict, 'answers slower than')?.value).toBe('1')
    expect(row(verdict, '5xx during the Redis outage')?.value).toBe('1 of 1')
    expect(row(verdict, 'answers by status')).toMatchObject({
      value: '201: 2, 429: 1, 500: 1, 502: 1, 503: 3',
      ok: false,
    })
  })

  it('fails a fault that never recovered or broke a rule while it was on', () => {
    const verdict = checkChaos(
      input({
        faults: [
          {
            kind: 'rolling-restart',
            label: 'SIGTERM rolling restart',
            startedAt: T0 + 5000,
            endedAt: T0 + 9000,
            recoveryMs: null,
            notes: [],
            violations: ['replica 1 exited 1 after SIGTERM'],
          },
        ],
      }),
    )
    expect(verdict.violations).toEqual([
      'SIGTERM rolling restart: replica 1 exited 1 after SIGTERM',
      'SIGTERM rolling restart: a replica did not recover',
    ])
    expect(verdict.faults[0]).toMatchObject({ atS: 5, lastedS: 4, recoveryS: null, ok: false })
  })

  it('fails a run where a replica exited on its own', () => {
    const verdict = checkChaos(input({ unexpectedExits: ['replica-1.2 exited 1 at 130.2 s'] }))
    expect(row(verdict, 'replicas that exited on their own')).toMatchObject({ value: '1', ok: false })
    expect(verdict.ok).toBe(false)
  })

  it('counts stored events the webhook consumer never received', () => {
    const verdict = checkChaos(input({ delivered: new Map([[TENANT, new Set(['e1'])]]) }))
    expect(row(verdict, 'webhook events delivered')).toMatchObject({ value: '1 of 3', ok: false })
  })

  it('prints the seed, the checks and the faults as Markdown tables, and the violations', () => {
    const text = formatVerdict(
      checkChaos(input({ stored: facts(['e2', 'e3'], expectedProjections(events.slice(1))) })),
      { seed: 12, short: true, durationMs: 60_000 },
    )
    expect(text).toContain(
      'Chaos run, seed 12, short (again: `npm run chaos -- --seed 12 --short --duration 60`)',
    )
    expect(text).toContain('| Check | Value | Expected |  |')
    expect(text).toContain('| lost (told stored, not stored) | 1 | 0 | FAIL |')
    expect(text).toContain('| Fault | At (s) | Lasted (s) | Recovery (s) | Notes |  |')
    expect(text).toContain('- lost: e1')
    expect(text).toContain('chaos suite FAILED:\n- lost (told stored, not stored): 1 (expected 0)')
  })
})
