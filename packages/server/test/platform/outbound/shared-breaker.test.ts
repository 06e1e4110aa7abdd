import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { OutboundSettings } from '../../../src/config.js'
import { SharedBreaker, type Target } from '../../../src/platform/outbound/shared-breaker.js'
import { openRedis, type RedisHandle } from '../../../src/platform/redis.js'
import { REDIS_URL } from '../../helpers/app.js'
import { waitFor } from '../../helpers/wait.js'
import { silentLog, testSettings, uniquePrefix, uniqueTarget } from './target-server.js'

const LEASE_MS = 5000

describe.each(['redis', 'in-process'] as const)('shared breaker state (%s)', (backend) => {
  const handles: RedisHandle[] = []
  beforeAll(async () => {
    if (backend === 'redis') {
      for (let i = 0; i < 2; i++) {
        const handle = openRedis(REDIS_URL, silentLog)
        await handle.reach()
        handles.push(handle)
      }
    }
  })
  afterAll(async () => {
    await Promise.all(handles.map((h) => h.close()))
  })

  /** Two replicas: with Redis each has its own connection and shares the keys; in process they share nothing. */
  function replicas(overrides: Partial<OutboundSettings> = {}): [SharedBreaker, SharedBreaker] {
    const keyPrefix = uniquePrefix()
    const settings = testSettings(overrides)
    const make = (i: number) =>
      new SharedBreaker({ redis: handles[i]?.client, keyPrefix, log: silentLog, settings })
    return [make(0), make(1)]
  }

  async function attempt(breaker: SharedBreaker, target: Target, ok: boolean, retry = false) {
    const admission = await breaker.admit(target, { retry, leaseMs: LEASE_MS })
    if (!admission.admitted) return admission
    const state = await breaker.record(target, admission.ticket, ok ? 'success' : 'failure')
    return { ...admission, state }
  }

  it('opens once failures reach the rate over the window, and not before the minimum of calls', async () => {
    const [breaker] = replicas({ breakerMinimumCalls: 6, breakerFailurePercent: 50, breakerOpenMs: 60_000 })
    const target = uniqueTarget()
    // Three failures of three calls: 100 %, but below the minimum.
    for (let i = 0; i < 3; i++)
      expect(await attempt(breaker, target, false)).toMatchObject({ state: 'closed' })
    // Three successes: 3 of 6 = 50 % at the sixth call opens it.
    expect(await attempt(breaker, target, true)).toMatchObject({ state: 'closed' })
    expect(await attempt(breaker, target, true)).toMatchObject({ state: 'closed' })
    expect(await attempt(breaker, target, true)).toMatchObject({ state: 'open' })
    const refused = await breaker.admit(target, { retry: false, leaseMs: LEASE_MS })
    expect(refused).toMatchObject({ admitted: false, reason: 'breaker-open' })
    if (!refused.admitted && refused.reason === 'breaker-open') {
      expect(refused.retryAfterMs).toBeGreaterThan(50_000)
      expect(refused.retryAfterMs).toBeLessThanOrEqual(60_000)
    }
    expect(await breaker.inspect(target)).toMatchObject({ state: 'open', backend })
  })

  it('decides many calls made at once one after another, as if made in turn', async () => {
    const [breaker] = replicas({ breakerMinimumCalls: 10, breakerFailurePercent: 50, breakerOpenMs: 60_000 })
    const target = uniqueTarget()
    const admissions = await Promise.all(
      Array.from({ length: 30 }, () => breaker.admit(target, { retry: false, leaseMs: LEASE_MS })),
    )
    expect(admissions.every((admission) => admission.admitted)).toBe(true)
    // Thirty failures recorded at once: the tenth reaches the minimum and opens the breaker; the rest find it open.
    const states = await Promise.all(
      admissions.map((admission) =>
        admission.admitted ? breaker.record(target, admission.ticket, 'failure') : undefined,
      ),
    )
    expect(states.filter((state) => state === 'closed')).toHaveLength(9)
    expect(states.filter((state) => state === 'open')).toHaveLength(21)
    expect(await breaker.admit(target, { retry: false, leaseMs: LEASE_MS })).toMatchObject({
      admitted: false,
      reason: 'breaker-open',
    })
  })

  it('stays closed below the failure rate, and forgets failures that left the window', async () => {
    const [breaker] = replicas({ breakerMinimumCalls: 4, breakerFailurePercent: 80, breakerWindowMs: 500 })
    const target = uniqueTarget()
    for (const ok of [false, false, true, false]) await attempt(breaker, target, ok)
    expect(await breaker.inspect(target)).toMatchObject({ state: 'closed', calls: 4, failures: 3 })
    await waitFor(async () => (await breaker.inspect(target)).calls === 0, { description: 'an empty window' })
    // The old failures no longer count: three new ones are below the minimum again.
    for (let i = 0; i < 3; i++)
      expect(await attempt(breaker, target, false)).toMatchObject({ state: 'closed' })
  })

  it('lets exactly one probe out at a time when half-open, and closes after enough successful probes', async () => {
    const [a, b] = replicas({ breakerMinimumCalls: 1, breakerOpenMs: 100, breakerCloseAfterProbes: 2 })
    const target = uniqueTarget()
    expect(await attempt(a, target, false)).toMatchObject({ state: 'open' })
    await waitFor(async () => (await a.inspect(target)).state === 'half-open', { description: 'half-open' })

    // With Redis the two replicas share one lease; in process, each replica has its own, so race one.
    const racers = backend === 'redis' ? [a, b] : [a]
    const admissions = await Promise.all(
      Array.from({ length: 40 }, (_, i) =>
        racers[i % racers.length]!.admit(target, { retry: false, leaseMs: LEASE_MS }),
      ),
    )
    const probes = admissions.filter((x) => x.admitted)
    expect(probes).toHaveLength(1)
    // The others are refused because another call is the probe, not because the breaker is open.
    for (const refused of admissions.filter((x) => !x.admitted))
      expect(refused).toMatchObject({ reason: 'breaker-open', probing: true })
    const [probe] = probes
    if (!probe?.admitted) throw new Error('no probe admitted')
    expect(probe.probe).toBe(true)
    expect(await a.record(target, probe.ticket, 'success')).toBe('half-open')
    // The lease is free again: the next call is the second probe, whose success closes the breaker.
    expect(await attempt(a, target, true)).toMatchObject({ probe: true, state: 'closed' })
    expect(await a.inspect(target)).toMatchObject({ state: 'closed', calls: 0 })
  })

  it('opens again when a probe fails', async () => {
    const [breaker] = replicas({ breakerMinimumCalls: 1, breakerOpenMs: 100 })
    const target = uniqueTarget()
    await attempt(breaker, target, false)
    await waitFor(async () => (await breaker.inspect(target)).state === 'half-open', {
      description: 'half-open',
    })
    expect(await attempt(breaker, target, false)).toMatchObject({ probe: true, state: 'open' })
    expect(await breaker.admit(target, { retry: false, leaseMs: LEASE_MS })).toMatchObject({
      admitted: false,
      reason: 'breaker-open',
      probing: false,
    })
  })

  it('gives the probe to another caller once the lease holder gave up or its lease ran out', async () => {
    const [breaker] = replicas({ breakerMinimumCalls: 1, breakerOpenMs: 100 })
    const target = uniqueTarget()
    await attempt(breaker, target, false)
    await waitFor(async () => (await breaker.inspect(target)).state === 'half-open', {
      description: 'half-open',
    })
    const first = await breaker.admit(target, { retry: false, leaseMs: 200 })
    expect(first).toMatchObject({ admitted: true, probe: true })
    expect(await breaker.admit(target, { retry: false, leaseMs: 200 })).toMatchObject({ admitted: false })
    // The holder vanished without a verdict: the lease runs out and the next caller probes.
    const next = await waitFor(
      async () => {
        const admission = await breaker.admit(target, { retry: false, leaseMs: LEASE_MS })
        return admission.admitted ? admission : undefined
      },
      { description: 'the lease to expire' },
    )
    if (next === undefined) throw new Error('no admission')
    expect(next.probe).toBe(true)
    // A caller that gives up (void) frees the lease without a verdict.
    expect(await breaker.record(target, next.ticket, 'void')).toBe('half-open')
    expect(await breaker.admit(target, { retry: false, leaseMs: LEASE_MS })).toMatchObject({ probe: true })
  })

  it('allows retries up to the percentage of calls over the minute, and at least the minimum', async () => {
    const [breaker] = replicas({
      retryBudgetPercent: 10,
      retryBudgetMinPerMinute: 2,
      breakerMinimumCalls: 1e6,
    })
    const target = uniqueTarget()
    let retries = 0
    for (let call = 1; call <= 100; call++) {
      await attempt(breaker, target, false)
      const retry = await attempt(breaker, target, false, true)
      if (retry.admitted) retries++
      else expect(retry).toEqual({ admitted: false, reason: 'retry-budget' })
    }
    // 10 % of 100 calls; the minimum of 2 let the first two calls retry at once.
    expect(retries).toBe(10)
  })

  it('gives a target with few calls its minimum of retries per minute', async () => {
    const [breaker] = replicas({
      retryBudgetPercent: 10,
      retryBudgetMinPerMinute: 2,
      breakerMinimumCalls: 1e6,
    })
    const target = uniqueTarget()
    await attempt(breaker, target, false)
    expect(await attempt(breaker, target, false, true)).toMatchObject({ admitted: true })
    expect(await attempt(breaker, target, false, true)).toMatchObject({ admitted: true })
    expect(await attempt(breaker, target, false, true)).toEqual({ admitted: false, reason: 'retry-budget' })
  })

  if (backend === 'redis') {
    it('keeps breaker and budget in one Redis for the fleet, every key with a TTL', async () => {
      const keyPrefix = uniquePrefix()
      const settings = testSettings({ breakerMinimumCalls: 2, breakerOpenMs: 60_000 })
      const a = new SharedBreaker({ redis: handles[0]!.client, keyPrefix, log: silentLog, settings })
      const b = new SharedBreaker({ redis: handles[1]!.client, keyPrefix, log: silentLog, settings })
      const target = uniqueTarget()
      await attempt(a, target, false)
      await attempt(b, target, false)
      // One failure seen by each replica: together they reach the minimum and open it for both.
      expect(await a.admit(target, { retry: false, leaseMs: LEASE_MS })).toMatchObject({ admitted: false })
      expect(await b.inspect(target)).toMatchObject({ state: 'open', backend: 'redis' })
      const keys = await handles[0]!.client.keys(`${keyPrefix}*`)
      expect(keys.sort()).toEqual([
        `${keyPrefix}outbound:{webhook:${target.id}}:breaker`,
        `${keyPrefix}outbound:{webhook:${target.id}}:budget`,
      ])
      for (const key of keys) expect(await handles[0]!.client.pttl(key)).toBeGreaterThan(0)
    })
  }
})
