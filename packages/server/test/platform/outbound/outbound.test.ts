import type { ChildProcess } from 'node:child_process'
import { Writable } from 'node:stream'
import pino from 'pino'
import type { Counter, Gauge } from 'prom-client'
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest'
import type { OutboundSettings } from '../../../src/config.js'
import {
  circuitBreakersOpen,
  circuitBreakerTransitionsTotal,
  outboundRequestsTotal,
  outboundStateBackendErrorsTotal,
  registry,
  retryAttemptsTotal,
} from '../../../src/platform/metrics.js'
import {
  createOutbound,
  type Dispatcher,
  MAX_BODY_BYTES,
  type Outbound,
  type OutboundOutcome,
  parseRetryAfter,
  TARGET_KINDS,
  type TargetKind,
} from '../../../src/platform/outbound/outbound.js'
import { openRedis, type RedisHandle } from '../../../src/platform/redis.js'
import { REDIS_URL } from '../../helpers/app.js'
import { freePort, startRedis } from '../../helpers/private-redis.js'
import { waitFor } from '../../helpers/wait.js'
import {
  hang,
  hold,
  reply,
  silentLog,
  startTargetServer,
  type TargetServer,
  testSettings,
  uniquePrefix,
  uniqueTarget,
} from './target-server.js'

/** The sum of a counter's (or gauge's) samples whose labels include `labels`. */
async function count(
  metric: Pick<Counter<string> | Gauge<string>, 'get'>,
  labels: Record<string, string> = {},
): Promise<number> {
  const { values } = await metric.get()
  return values
    .filter((v) => Object.entries(labels).every(([k, x]) => v.labels[k] === x))
    .reduce((sum, v) => sum + v.value, 0)
}

class LogLines extends Writable {
  readonly messages: string[] = []
  override _write(chunk: Buffer, _encoding: string, done: () => void): void {
    for (const line of chunk.toString('utf8').split('\n')) {
      if (line.trim() !== '') this.messages.push((JSON.parse(line) as { msg: string }).msg)
    }
    done()
  }
}

describe('outbound calls', () => {
  let server: TargetServer
  const redises: RedisHandle[] = []
  const children: ChildProcess[] = []

  beforeAll(async () => {
    server = await startTargetServer()
    for (let i = 0; i < 2; i++) {
      const handle = openRedis(REDIS_URL, silentLog)
      await handle.reach()
      redises.push(handle)
    }
  })
  afterEach(() => {
    server.arrivals.length = 0
    for (const release of server.held.splice(0)) release()
    server.answer(reply(200))
  })
  afterAll(async () => {
    for (const child of children) child.kill('SIGKILL')
    await Promise.all(redises.map((r) => r.close()))
    await server.close()
  })

  /** A layer on the shared Redis (connection `replica`), under its own key prefix unless one is given. */
  function layer(
    overrides: Partial<OutboundSettings> = {},
    keyPrefix = uniquePrefix(),
    replica = 0,
  ): Outbound {
    return createOutbound({
      redis: redises[replica]!.client,
      keyPrefix,
      log: silentLog,
      settings: testSettings(overrides),
    })
  }

  const post = (path = '/hook', timeoutMs?: number) => ({
    url: `${server.url}${path}`,
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: '{"event":"order.created"}',
    timeoutMs,
  })

  describe('timeouts and redirects', () => {
    it('aborts an attempt the target never answers, and each retry has its own timeout', async () => {
      server.answer(hang)
      const outcome = await layer({ retryMaxAttempts: 2 }).call(uniqueTarget(), post('/hook', 200))
      expect(outcome).toMatchObject({ kind: 'failed', reason: 'timeout', attempts: 2, gaveUp: 'attempts' })
      expect(server.arrivals).toHaveLength(2)
      if (outcome.kind === 'failed') expect(outcome.durationMs).toBeGreaterThanOrEqual(400)
    })

    it('aborts an attempt whose body never ends', async () => {
      server.answer((_req, res) => {
        res.writeHead(200, { 'content-type': 'text/plain' })
        res.write('partial')
      })
      const outcome = await layer({ retryMaxAttempts: 1 }).call(uniqueTarget(), post('/hook', 200))
      expect(outcome).toMatchObject({ kind: 'failed', reason: 'timeout', attempts: 1 })
    })

    it('answers a 3xx as it is and does not follow it', async () => {
      server.answer(reply(302, { location: '/elsewhere' }))
      const outcome = await layer().call(uniqueTarget(), post())
      expect(outcome).toMatchObject({ kind: 'response', status: 302, attempts: 1 })
      if (outcome.kind === 'response') expect(outcome.headers.get('location')).toBe('/elsewhere')
      expect(server.arrivals.map((a) => a.path)).toEqual(['/hook'])
    })

    it('keeps the first 64 KiB of a body and reads no further', async () => {
      server.answer(reply(200, {}, 'x'.repeat(1024 * 1024)))
      const outcome = await layer().call(uniqueTarget(), post())
      expect(outcome).toMatchObject({ kind: 'response', status: 200, bodyTruncated: true })
      if (outcome.kind === 'response') expect(outcome.body.length).toBe(MAX_BODY_BYTES)
    })

    it('keeps as much of a body as the request allows', async () => {
      server.answer(reply(200, {}, 'x'.repeat(1024 * 1024)))
      const whole = await layer().call(uniqueTarget(), { ...post(), maxBodyBytes: 2 * 1024 * 1024 })
      expect(whole).toMatchObject({ kind: 'response', status: 200, bodyTruncated: false })
      if (whole.kind === 'response') expect(whole.body.length).toBe(1024 * 1024)
      server.answer(reply(200, {}, 'x'.repeat(1024 * 1024)))
      const cut = await layer().call(uniqueTarget(), { ...post(), maxBodyBytes: 1000 })
      expect(cut).toMatchObject({ kind: 'response', status: 200, bodyTruncated: true })
      if (cut.kind === 'response') expect(cut.body.length).toBe(1000)
    })

    it('ends the call when the caller aborts, without counting it against the target', async () => {
      server.answer(hang)
      const outbound = layer({ breakerMinimumCalls: 1 })
      const target = uniqueTarget()
      const caller = new AbortController()
      const pending = outbound.call(target, post(), { signal: caller.signal })
      await waitFor(() => server.arrivals.length === 1, { description: 'the request' })
      caller.abort()
      expect(await pending).toMatchObject({
        kind: 'failed',
        reason: 'aborted',
        gaveUp: 'aborted',
        attempts: 1,
      })
      expect(await outbound.breakerState(target)).toMatchObject({ state: 'closed', calls: 0 })
    })

    it('ends the wait before a retry at once when the caller aborts, and makes no further request', async () => {
      server.answer(reply(503))
      const settings = testSettings({ retryBaseDelayMs: 5000, retryMaxDelayMs: 5000 })
      const redis = redises[0]!.client
      const outbound = createOutbound({
        redis,
        keyPrefix: uniquePrefix(),
        log: silentLog,
        settings,
        random: () => 1,
      })
      const target = uniqueTarget()
      const caller = new AbortController()
      const pending = outbound.call(target, post(), { signal: caller.signal })
      // The 503 is recorded once the attempt is over: from then on the call waits 5 s before its retry.
      await waitFor(async () => (await outbound.breakerState(target)).calls === 1, {
        description: 'the first attempt recorded',
      })
      caller.abort()
      const outcome = await pending
      expect(outcome).toMatchObject({ kind: 'failed', reason: 'aborted', gaveUp: 'aborted', attempts: 1 })
      if (outcome.kind === 'failed') expect(outcome.durationMs).toBeLessThan(4000)
      expect(server.arrivals).toHaveLength(1)
    })

    it('sends the request through the dispatcher the caller hands in', async () => {
      // The global dispatcher undici created for fetch, wrapped to see that the call went through ours.
      await fetch(server.url)
      const global = (globalThis as Record<symbol, unknown>)[
        Symbol.for('undici.globalDispatcher.1')
      ] as Dispatcher
      let dispatched = 0
      const counting = {
        dispatch: (...args: Parameters<Dispatcher['dispatch']>) => {
          dispatched++
          return global.dispatch(...args)
        },
      } as unknown as Dispatcher
      const outcome = await layer().call(uniqueTarget(), post(), { dispatcher: counting })
      expect(outcome).toMatchObject({ kind: 'response', status: 200 })
      expect(dispatched).toBe(1)
    })
  })

  describe('retries', () => {
    it('retries a 503 up to OUTBOUND_RETRY_MAX_ATTEMPTS and no further', async () => {
      server.answer(reply(503))
      const before = await count(retryAttemptsTotal, { target_kind: 'webhook', reason: '5xx' })
      const outcome = await layer({ retryMaxAttempts: 3 }).call(uniqueTarget(), post())
      expect(outcome).toMatchObject({
        kind: 'failed',
        reason: 'status',
        status: 503,
        attempts: 3,
        gaveUp: 'attempts',
      })
      expect(server.arrivals).toHaveLength(3)
      expect(await count(retryAttemptsTotal, { target_kind: 'webhook', reason: '5xx' })).toBe(before + 2)
    })

    it('backs off exponentially between attempts, jittered below a cap', async () => {
      server.answer(reply(503))
      const settings = testSettings({
        retryMaxAttempts: 4,
        retryBaseDelayMs: 100,
        retryMaxDelayMs: 150,
        retryBudgetMinPerMinute: 10,
      })
      const keyPrefix = uniquePrefix()
      const redis = redises[0]!.client
      // The jitter drawn at its top: waits of 100 ms, then 200 ms capped to 150, then 150.
      const slowest = createOutbound({ redis, keyPrefix, log: silentLog, settings, random: () => 1 })
      await slowest.call(uniqueTarget(), post())
      const at = server.arrivals.map((a) => a.at)
      const gaps = at.slice(1).map((t, i) => t - at[i]!)
      expect(gaps).toHaveLength(3)
      expect(gaps[0]).toBeGreaterThanOrEqual(99)
      expect(gaps[1]).toBeGreaterThanOrEqual(149)
      expect(gaps[2]).toBeGreaterThanOrEqual(149)
      for (const gap of gaps) expect(gap).toBeLessThan(1000)
      // Full jitter: the wait is drawn from [0, that bound]; the random source scales it.
      server.arrivals.length = 0
      const draws: number[] = []
      const halfway = () => {
        draws.push(0.5)
        return 0.5
      }
      const jittered = createOutbound({ redis, keyPrefix, log: silentLog, settings, random: halfway })
      await jittered.call(uniqueTarget(), post())
      expect(server.arrivals).toHaveLength(4)
      expect(draws).toHaveLength(3)
      const halves = server.arrivals.slice(1).map((a, i) => a.at - server.arrivals[i]!.at)
      expect(halves[0]).toBeGreaterThanOrEqual(49)
      expect(halves[1]).toBeGreaterThanOrEqual(74)
    })

    it.each([400, 404, 409, 422])('never retries a %i', async (status) => {
      server.answer(reply(status, {}, 'no'))
      const outcome = await layer().call(uniqueTarget(), post())
      expect(outcome).toMatchObject({ kind: 'response', status, attempts: 1 })
      if (outcome.kind === 'response') expect(outcome.body.toString()).toBe('no')
      expect(server.arrivals).toHaveLength(1)
    })

    it('retries a refused connection', async () => {
      const closed = await freePort()
      const before = await count(retryAttemptsTotal, { target_kind: 'webhook', reason: 'network' })
      const outcome = await layer({ retryMaxAttempts: 3 }).call(uniqueTarget(), {
        url: `http://127.0.0.1:${closed}/hook`,
        method: 'POST',
      })
      expect(outcome).toMatchObject({ kind: 'failed', reason: 'network', attempts: 3 })
      expect(await count(retryAttemptsTotal, { target_kind: 'webhook', reason: 'network' })).toBe(before + 2)
    })

    it('waits at least the Retry-After of a 429 when it is within the cap', async () => {
      let answered = 0
      server.answer((req, res) => reply(answered++ === 0 ? 429 : 200, { 'retry-after': '1' })(req, res))
      const outcome = await layer({ retryMaxDelayMs: 2000 }).call(uniqueTarget(), post())
      expect(outcome).toMatchObject({ kind: 'response', status: 200, attempts: 2 })
      const [first, second] = server.arrivals
      expect(second!.at - first!.at).toBeGreaterThanOrEqual(1000)
      expect(second!.at - first!.at).toBeLessThan(3000)
    })

    it.each([
      ['seconds', () => '30', 30_000],
      ['an HTTP date', () => new Date(Date.now() + 60_000).toUTCString(), 60_000],
    ])(
      'does not retry when Retry-After in %s asks for longer than the cap, and says how long',
      async (_, value, ms) => {
        server.answer(reply(429, { 'retry-after': value() }))
        const outcome = await layer({ retryMaxDelayMs: 2000 }).call(uniqueTarget(), post())
        expect(outcome).toMatchObject({ kind: 'failed', status: 429, attempts: 1, gaveUp: 'retry-after' })
        if (outcome.kind === 'failed') {
          expect(outcome.retryAfterMs).toBeGreaterThan(ms - 3000)
          expect(outcome.retryAfterMs).toBeLessThanOrEqual(ms)
        }
        expect(server.arrivals).toHaveLength(1)
      },
    )

    it('reads Retry-After as seconds, decimal seconds (Shopify) or an HTTP date', () => {
      const now = Date.parse('2026-01-01T00:00:00Z')
      expect(parseRetryAfter('120', now)).toBe(120_000)
      expect(parseRetryAfter('2.0', now)).toBe(2000)
      expect(parseRetryAfter(' 0.25 ', now)).toBe(250)
      expect(parseRetryAfter('1.0005', now)).toBe(1001)
      expect(parseRetryAfter('2.', now)).toBeUndefined()
      expect(parseRetryAfter('.5', now)).toBeUndefined()
      expect(parseRetryAfter('Thu, 01 Jan 2026 00:00:30 GMT', now)).toBe(30_000)
      expect(parseRetryAfter('Wed, 31 Dec 2025 23:00:00 GMT', now)).toBe(0)
      expect(parseRetryAfter('soon', now)).toBeUndefined()
      expect(parseRetryAfter('-5', now)).toBeUndefined()
      expect(parseRetryAfter(null, now)).toBeUndefined()
    })

    it('keeps retries within 10 % of a target’s calls over the minute', async () => {
      server.answer(reply(503))
      const outbound = layer({
        retryMaxAttempts: 3,
        retryBudgetPercent: 10,
        retryBudgetMinPerMinute: 2,
        breakerMinimumCalls: 1_000_000,
      })
      const target = uniqueTarget()
      const outcomes: OutboundOutcome[] = []
      for (let i = 0; i < 100; i++) outcomes.push(await outbound.call(target, post()))
      // Without the budget: 300 requests. With it: 100 calls and 10 retries.
      expect(server.arrivals).toHaveLength(110)
      expect(
        outcomes.filter((o) => o.kind === 'failed' && o.gaveUp === 'retry-budget').length,
      ).toBeGreaterThan(80)
    })
  })

  describe('the circuit breaker', () => {
    it('opens on the failure rate after the minimum of calls; an open breaker makes no call', async () => {
      server.answer(reply(500))
      const outbound = layer({
        retryMaxAttempts: 1,
        breakerMinimumCalls: 4,
        breakerFailurePercent: 50,
        breakerOpenMs: 60_000,
      })
      const target = uniqueTarget()
      const opened = await count(circuitBreakerTransitionsTotal, { from: 'closed', to: 'open' })
      for (let i = 0; i < 3; i++)
        expect(await outbound.call(target, post())).toMatchObject({ kind: 'failed' })
      // The fourth failure reaches the minimum: that call fails, and the breaker is open for the fleet.
      expect(await outbound.call(target, post())).toMatchObject({ kind: 'failed', attempts: 1 })
      const refused = await outbound.call(target, post())
      expect(refused).toMatchObject({ kind: 'breaker-open', attempts: 0 })
      if (refused.kind === 'breaker-open') expect(refused.retryAt).toBeGreaterThan(Date.now() + 50_000)
      expect(server.arrivals).toHaveLength(4)
      expect(await count(circuitBreakerTransitionsTotal, { from: 'closed', to: 'open' })).toBe(opened + 1)
      expect(await outbound.breakerState(target)).toMatchObject({ state: 'open', backend: 'redis' })
    })

    it('stops retrying within a call as soon as its failure opened the breaker: the call failed', async () => {
      server.answer(reply(503))
      const outbound = layer({ retryMaxAttempts: 3, breakerMinimumCalls: 1, breakerOpenMs: 60_000 })
      const outcome = await outbound.call(uniqueTarget(), post())
      // A request was made and failed: `failed`, not `breaker-open` (which means no request at all), and no
      // call before the breaker lets one through.
      expect(outcome).toMatchObject({ kind: 'failed', status: 503, attempts: 1, gaveUp: 'breaker-open' })
      if (outcome.kind === 'failed') expect(outcome.retryAfterMs).toBeGreaterThan(50_000)
      expect(server.arrivals).toHaveLength(1)
    })

    it('fails a call whose retry another replica’s failures refused, without a further request', async () => {
      const keyPrefix = uniquePrefix()
      const settings = { retryMaxAttempts: 2, breakerMinimumCalls: 2, breakerOpenMs: 60_000 }
      const a = layer(settings, keyPrefix, 0)
      const b = layer(settings, keyPrefix, 1)
      const target = uniqueTarget()
      let answerFirst: (() => void) | undefined
      server.answer((_req, res) => {
        answerFirst = () => res.writeHead(500).end()
      })
      const first = a.call(target, post())
      await waitFor(() => answerFirst, { description: "replica A's first attempt" })
      // Meanwhile replica B's failures open the breaker for the fleet.
      server.answer(reply(500))
      await b.call(target, post())
      await b.call(target, post())
      expect(await b.breakerState(target)).toMatchObject({ state: 'open' })
      const arrivals = server.arrivals.length
      answerFirst!()
      const outcome = await first
      expect(outcome).toMatchObject({ kind: 'failed', attempts: 1, gaveUp: 'breaker-open' })
      if (outcome.kind === 'failed') expect(outcome.retryAfterMs).toBeGreaterThan(50_000)
      expect(server.arrivals).toHaveLength(arrivals)
    })

    it('is shared by two replicas: one sees the failures, the other no longer calls', async () => {
      server.answer(reply(502))
      const keyPrefix = uniquePrefix()
      const settings = { retryMaxAttempts: 1, breakerMinimumCalls: 3, breakerOpenMs: 60_000 }
      const a = layer(settings, keyPrefix, 0)
      const b = layer(settings, keyPrefix, 1)
      const target = uniqueTarget('square')
      for (let i = 0; i < 3; i++) await a.call(target, post())
      expect(await b.call(target, post())).toMatchObject({ kind: 'breaker-open' })
      expect(server.arrivals).toHaveLength(3)
      // Another target of the same kind is not affected.
      expect(await b.call(uniqueTarget('square'), post())).toMatchObject({ kind: 'failed', status: 502 })
    })

    it('lets exactly one probe out for two replicas racing, and closes after enough successful probes', async () => {
      const keyPrefix = uniquePrefix()
      const settings = {
        retryMaxAttempts: 1,
        breakerMinimumCalls: 2,
        breakerOpenMs: 200,
        breakerCloseAfterProbes: 2,
      }
      const replicas = [layer(settings, keyPrefix, 0), layer(settings, keyPrefix, 1)]
      const target = uniqueTarget()
      const transitions = async () => ({
        halfOpen: await count(circuitBreakerTransitionsTotal, { from: 'open', to: 'half-open' }),
        closed: await count(circuitBreakerTransitionsTotal, { from: 'half-open', to: 'closed' }),
      })
      const before = await transitions()
      const openGauge = async () => count(circuitBreakersOpen, { target_kind: 'webhook' })
      const openBefore = await openGauge()
      server.answer(reply(500))
      await replicas[0]!.call(target, post())
      await replicas[1]!.call(target, post())
      expect(await replicas[0]!.breakerState(target)).toMatchObject({ state: 'open' })
      await waitFor(async () => (await replicas[1]!.breakerState(target)).state === 'half-open', {
        description: 'the cool-down to end',
      })

      server.arrivals.length = 0
      server.answer(hold(server))
      const calls = Array.from({ length: 60 }, (_, i) => replicas[i % 2]!.call(target, post()))
      const settled: OutboundOutcome[] = []
      for (const call of calls) void call.then((outcome) => settled.push(outcome))
      await waitFor(() => settled.length === 59, { description: 'every call but the probe to be refused' })
      expect(server.arrivals).toHaveLength(1)
      expect(settled.every((o) => o.kind === 'breaker-open')).toBe(true)
      // Both replicas (in this one test process) have seen the breaker open.
      expect(await openGauge()).toBe(openBefore + 2)
      server.held.shift()!()
      await waitFor(() => settled.length === 60, { description: 'the probe' })
      expect(settled.filter((o) => o.kind === 'response')).toHaveLength(1)
      expect(await replicas[0]!.breakerState(target)).toMatchObject({ state: 'half-open', probes: 1 })

      // The second successful probe closes it for both replicas.
      server.answer(reply(200))
      expect(await replicas[1]!.call(target, post())).toMatchObject({ kind: 'response', status: 200 })
      expect(await replicas[0]!.breakerState(target)).toMatchObject({ state: 'closed' })
      expect(await replicas[0]!.call(target, post())).toMatchObject({ kind: 'response', status: 200 })
      expect(await transitions()).toEqual({ halfOpen: before.halfOpen + 1, closed: before.closed + 1 })
      expect(await openGauge()).toBe(openBefore)
    })
  })

  describe('without Redis', () => {
    it('keeps breakers per process, and says so once when the layer is created', async () => {
      const logs = new LogLines()
      const log = pino({ level: 'info' }, logs)
      const settings = testSettings({ retryMaxAttempts: 1, breakerMinimumCalls: 2, breakerOpenMs: 60_000 })
      const a = createOutbound({ redis: undefined, keyPrefix: 'pos:', log, settings })
      const b = createOutbound({ redis: undefined, keyPrefix: 'pos:', log, settings })
      expect(a.backend).toBe('in-process')
      expect(logs.messages.filter((m) => m.includes('per process'))).toHaveLength(2)
      server.answer(reply(500))
      const target = uniqueTarget()
      await a.call(target, post())
      await a.call(target, post())
      expect(await a.call(target, post())).toMatchObject({ kind: 'breaker-open' })
      // The other "replica" has its own breaker and still calls.
      expect(await b.call(target, post())).toMatchObject({ kind: 'failed', status: 500 })
      expect(server.arrivals).toHaveLength(3)
      expect(await a.breakerState(target)).toMatchObject({ state: 'open', backend: 'in-process' })
    })

    it('falls back to per-process breakers when Redis fails mid-flight, without throwing', async () => {
      const port = await freePort()
      const child = startRedis(port)
      children.push(child)
      const handle = openRedis(`redis://127.0.0.1:${port}`, silentLog)
      await waitFor(() => handle.reach().then(() => true), {
        timeoutMs: 10_000,
        description: 'the private redis-server',
      })
      try {
        const logs = new LogLines()
        const outbound = createOutbound({
          redis: handle.client,
          keyPrefix: uniquePrefix(),
          log: pino({ level: 'info' }, logs),
          settings: testSettings({ retryMaxAttempts: 1, breakerMinimumCalls: 2, breakerOpenMs: 60_000 }),
        })
        const target = uniqueTarget()
        expect(await outbound.call(target, post())).toMatchObject({ kind: 'response', status: 200 })
        expect(await outbound.breakerState(target)).toMatchObject({ backend: 'redis', calls: 1 })

        const errors = await count(outboundStateBackendErrorsTotal)
        child.kill('SIGKILL')
        await new Promise((resolve) => child.once('exit', resolve))
        expect(await outbound.call(target, post())).toMatchObject({ kind: 'response', status: 200 })
        expect(await count(outboundStateBackendErrorsTotal)).toBeGreaterThan(errors)
        // The per-process breaker still protects the target.
        server.answer(reply(500))
        await outbound.call(target, post())
        await outbound.call(target, post())
        expect(await outbound.call(target, post())).toMatchObject({ kind: 'breaker-open' })
        expect(await outbound.breakerState(target)).toMatchObject({ state: 'open', backend: 'in-process' })
        expect(logs.messages.filter((m) => m.includes('deciding per process'))).toHaveLength(1)
      } finally {
        handle.client.disconnect()
      }
    })
  })

  describe('metrics', () => {
    it('label outbound metrics only with target kinds and small fixed sets, never a URL or an id', async () => {
      const target = uniqueTarget('shopify')
      server.answer(reply(200))
      await layer().call(target, post())
      const text = await registry.metrics()
      const lines = text.split('\n').filter((l) => /^(outbound_|retry_attempts|circuit_breaker)/.test(l))
      expect(lines.length).toBeGreaterThan(0)
      const allowed: Record<string, readonly string[]> = {
        target_kind: TARGET_KINDS,
        outcome: ['2xx', '3xx', '4xx', '429', '5xx', 'timeout', 'network', 'aborted', 'breaker-open'],
        reason: ['network', 'timeout', '5xx', '429'],
        from: ['closed', 'open', 'half-open'],
        to: ['closed', 'open', 'half-open'],
        le: [],
      }
      for (const line of lines) {
        for (const [, name, value] of line.matchAll(/(\w+)="([^"]*)"/g)) {
          if (name === 'le') continue
          expect(allowed[name!], `label ${name}`).toContain(value)
        }
        expect(line).not.toContain(target.id)
        expect(line).not.toContain('127.0.0.1')
      }
      expect(await count(outboundRequestsTotal, { target_kind: 'shopify', outcome: '2xx' })).toBeGreaterThan(
        0,
      )
    })

    it('refuses a target kind outside the fixed list, so no label can grow without bound', async () => {
      const outbound = layer()
      const kind = 'https://example.test/hook' as TargetKind
      await expect(outbound.call({ kind, id: 'x' }, post())).rejects.toThrow(TypeError)
      await expect(outbound.call({ kind: 'webhook', id: 'a b' }, post())).rejects.toThrow(TypeError)
      expect(server.arrivals).toHaveLength(0)
    })
  })
})
