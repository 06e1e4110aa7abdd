// Webhook delivery across real server processes sharing PostgreSQL and Redis:
// - a replica SIGKILLed while it holds delivery leases loses nothing: another replica takes every lease once it
//   expired and delivers; the consumer sees an event twice only where the killed replica's attempt was never
//   recorded (its 2xx was lost), and the test counts those duplicates;
// - a consumer that fails for a while: the endpoint's breaker opens for the whole fleet, each half-open period
//   lets exactly one probe reach the consumer, retries stop at their cap and the fleet's budget, deliveries
//   fall to `failed` on the schedule, and `recover` delivers every one once the consumer is back.
import { randomUUID } from 'node:crypto'
import { and, eq, sql } from 'drizzle-orm'
import pino from 'pino'
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest'
import { webhookAttempts, webhookDeliveries } from '../../src/db/schema.js'
import { type DatabaseHandle, openDatabase } from '../../src/platform/database.js'
import { migrate } from '../../src/platform/migrations.js'
import { ADMIN_TOKEN, REDIS_URL } from '../helpers/app.js'
import { createTestDatabase, type TestDatabase } from '../helpers/database.js'
import { productUpserted, type TestEvent } from '../helpers/ingest.js'
import { type ServerProcess, startServerProcess } from '../helpers/server-process.js'
import { createTenant, type TenantFixture } from '../helpers/tenants.js'
import { waitFor } from '../helpers/wait.js'
import { Consumer, verify } from '../modules/webhooks/consumer.js'

interface Replica {
  readonly process: ServerProcess
  readonly url: string
}

interface Delivery {
  id: string
  eventId: string
  status: string
  attempts: { attemptedAt: string; statusCode: number | null; error: string | null }[]
}

/** The sum of the samples of a metric whose labels include `labels`, in a /metrics text. */
function sample(text: string, name: string, labels: Record<string, string> = {}): number {
  let sum = 0
  for (const line of text.split('\n')) {
    const match = /^([a-z_]+)(?:\{(.*)\})? (\S+)$/.exec(line)
    if (match?.[1] !== name) continue
    const found = Object.fromEntries(
      [...(match[2] ?? '').matchAll(/(\w+)="([^"]*)"/g)].map(([, key, value]) => [key, value]),
    )
    if (Object.entries(labels).every(([key, value]) => found[key] === value)) sum += Number(match[3])
  }
  return sum
}

describe('webhook delivery across replicas', () => {
  let database: TestDatabase
  let handle: DatabaseHandle
  let tenant: TenantFixture
  let consumer: Consumer
  const servers: ServerProcess[] = []
  let baseEnv: Record<string, string>

  beforeAll(async () => {
    database = await createTestDatabase()
    handle = await openDatabase({ databaseUrl: database.url, dataDir: '', log: pino({ level: 'silent' }) })
    await migrate(handle.db)
    baseEnv = {
      DATABASE_URL: database.url,
      ADMIN_TOKEN,
      REDIS_URL,
      SHUTDOWN_READINESS_DELAY_MS: '0',
      WEBHOOK_ALLOW_HTTP: 'true',
      WEBHOOK_ALLOW_PRIVATE_TARGETS: 'true',
      WEBHOOK_POLL_INTERVAL_MS: '50',
    }
  })
  // A tenant per test: the endpoints of one test must not receive the next one's events.
  beforeEach(async () => {
    tenant = await createTenant(handle.db)
  })
  afterEach(async () => {
    for (const server of servers.splice(0)) {
      server.kill()
      await server.exited
    }
    await consumer?.close()
  })
  afterAll(async () => {
    await handle?.close()
    await database?.drop()
  })

  async function start(env: Record<string, string>): Promise<Replica> {
    const server = startServerProcess(env)
    servers.push(server)
    const url = await server.url(90_000)
    await server.waitForLine((line) => line.msg === 'start-up complete', 60_000)
    return { process: server, url }
  }

  const headers = () => ({ authorization: `Bearer ${tenant.key}`, 'content-type': 'application/json' })

  async function call(replica: Replica, method: string, path: string, body?: unknown): Promise<Response> {
    return fetch(`${replica.url}${path}`, {
      method,
      headers: headers(),
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
    })
  }

  async function createEndpoint(replica: Replica): Promise<{ id: string; secret: string }> {
    const created = await call(replica, 'POST', '/v1/webhook-endpoints', { url: consumer.url })
    expect(created.status).toBe(201)
    return (await created.json()) as { id: string; secret: string }
  }

  async function store(replica: Replica, events: TestEvent[]): Promise<void> {
    const res = await fetch(`${replica.url}/v1/ingest/pos`, {
      method: 'POST',
      headers: { ...headers(), 'idempotency-key': randomUUID() },
      body: JSON.stringify({ events }),
    })
    expect(res.status).toBe(201)
  }

  async function deliveriesOf(replica: Replica, endpointId: string, status: string): Promise<Delivery[]> {
    const res = await call(replica, 'GET', `/v1/webhook-endpoints/${endpointId}/deliveries?status=${status}`)
    expect(res.status).toBe(200)
    return ((await res.json()) as { data: Delivery[] }).data
  }

  async function metrics(replica: Replica): Promise<string> {
    return (await fetch(`${replica.url}/metrics`)).text()
  }

  /** The sum of a metric over the replicas: each transition or retry is made by exactly one of them. */
  async function fleetSum(replicas: Replica[], name: string, labels: Record<string, string> = {}) {
    const texts = await Promise.all(replicas.map(metrics))
    return texts.reduce((sum, text) => sum + sample(text, name, labels), 0)
  }

  const webhookIdOf = (index: number) => String(consumer.received[index]!.headers['webhook-id'])

  it('delivers everything a SIGKILLed replica held leases on; duplicates only where its 2xx was lost', async () => {
    const env = {
      ...baseEnv,
      REDIS_KEY_PREFIX: `test:${randomUUID()}:`,
      // A short lease, and attempts that outlive it: the killed replica's attempts are still in flight.
      WEBHOOK_LEASE_MS: '2000',
      WEBHOOK_TIMEOUT_MS: '60000',
      OUTBOUND_TIMEOUT_MS: '60000',
      OUTBOUND_RETRY_MAX_ATTEMPTS: '1',
    }
    consumer = await Consumer.start()
    const a = await start(env)
    const endpoint = await createEndpoint(a)
    consumer.answer = () => 'hold'
    const events = Array.from({ length: 24 }, (_, i) => productUpserted(`SKU-K${i}`))
    await store(a, events)

    // Replica A alone: every delivery it leased reaches the consumer and is held there.
    const leased = async () =>
      (
        await handle.db
          .select({ id: webhookDeliveries.id })
          .from(webhookDeliveries)
          .where(
            and(
              eq(webhookDeliveries.tenantId, tenant.tenantId),
              sql`${webhookDeliveries.leaseToken} IS NOT NULL`,
            ),
          )
      ).length
    await waitFor(async () => consumer.received.length > 1 && consumer.received.length === (await leased()), {
      description: 'replica A holding its leased deliveries at the consumer',
      timeoutMs: 60_000,
    })
    // The consumer answers half of them 204, and replica A records those...
    const held = consumer.held()
    const recordedFirst = held.slice(0, Math.floor(held.length / 2))
    for (const index of recordedFirst) consumer.respond(index, { status: 204 })
    const succeeded = async () =>
      (
        await handle.db
          .select({ id: webhookDeliveries.id })
          .from(webhookDeliveries)
          .where(
            and(eq(webhookDeliveries.tenantId, tenant.tenantId), eq(webhookDeliveries.status, 'succeeded')),
          )
      ).map((row) => row.id)
    await waitFor(async () => (await succeeded()).length === recordedFirst.length, {
      description: 'replica A recording the first answers',
      timeoutMs: 60_000,
    })
    // ...then answers the rest 204 and replica A is killed at once: those answers are lost with it.
    for (const index of consumer.held()) consumer.respond(index, { status: 204 })
    servers[0]!.kill()
    await servers[0]!.exited
    consumer.answer = () => ({ status: 204 })
    const attemptedByA = new Set(consumer.received.map((_, i) => webhookIdOf(i)))
    const recordedByA = new Set((await succeeded()).map((id) => `msg_${id}`))
    const inFlightAtKill = new Set([...attemptedByA].filter((id) => !recordedByA.has(id)))

    // Replica B takes every lease once it expired, and what A never leased.
    await start(env)
    await waitFor(async () => (await succeeded()).length === events.length, {
      description: 'every delivery succeeded through replica B',
      timeoutMs: 90_000,
    })

    // The consumer saw every event, answered 204, signed.
    const accepted = consumer.received.filter((_, i) => consumer.answered[i] === 204)
    expect(new Set(accepted.map((r) => JSON.parse(r.body).data.id))).toEqual(new Set(events.map((e) => e.id)))
    for (const delivery of consumer.received) expect(() => verify(endpoint.secret, delivery)).not.toThrow()

    // Duplicates: exactly the attempts in flight on A when it was killed; none that A recorded came again.
    const seen = new Map<string, number[]>()
    for (let i = 0; i < consumer.received.length; i++)
      seen.set(webhookIdOf(i), [...(seen.get(webhookIdOf(i)) ?? []), i])
    const seenTwice = new Set([...seen].filter(([, times]) => times.length > 1).map(([id]) => id))
    expect(seenTwice).toEqual(inFlightAtKill)
    expect(seenTwice.size).toBeLessThanOrEqual(attemptedByA.size - recordedFirst.length)
    expect([...seen.values()].every((times) => times.length <= 2)).toBe(true)
    // Where the consumer's 204 had been handed to the connection: a 2xx that was lost with the replica.
    const lostAfter2xx = [...seenTwice].filter((id) => consumer.sent[seen.get(id)![0]!] === true)
    // Each delivery has one recorded attempt: the one whose answer reached a living replica.
    const attempts = await handle.db
      .select({ deliveryId: webhookAttempts.deliveryId, statusCode: webhookAttempts.statusCode })
      .from(webhookAttempts)
      .innerJoin(webhookDeliveries, eq(webhookDeliveries.id, webhookAttempts.deliveryId))
      .where(eq(webhookDeliveries.tenantId, tenant.tenantId))
    expect(attempts).toHaveLength(events.length)
    expect(new Set(attempts.map((attempt) => attempt.deliveryId)).size).toBe(events.length)
    expect(attempts.every((attempt) => attempt.statusCode === 204)).toBe(true)

    console.info(
      `SIGKILL: the killed replica made ${attemptedByA.size} attempts, recorded ${recordedByA.size}, ` +
        `had ${inFlightAtKill.size} in flight; ${seenTwice.size} duplicates ` +
        `(${lostAfter2xx.length} after a 2xx it never recorded), ` +
        `${consumer.received.length} requests for ${events.length} events`,
    )
  }, 300_000)

  it('opens the breaker for the fleet, lets one probe out per half-open period, fails on schedule and recovers', async () => {
    const schedule = [0, 2, 4]
    const env = {
      ...baseEnv,
      REDIS_KEY_PREFIX: `test:${randomUUID()}:`,
      WEBHOOK_RETRY_SCHEDULE: schedule.join(','),
      WEBHOOK_TIMEOUT_MS: '3000',
      OUTBOUND_TIMEOUT_MS: '3000',
      OUTBOUND_RETRY_MAX_ATTEMPTS: '3',
      OUTBOUND_RETRY_BASE_DELAY_MS: '100',
      OUTBOUND_RETRY_MAX_DELAY_MS: '1000',
      OUTBOUND_RETRY_BUDGET_PERCENT: '10',
      OUTBOUND_RETRY_BUDGET_MIN_PER_MINUTE: '2',
      OUTBOUND_BREAKER_MINIMUM_CALLS: '6',
      OUTBOUND_BREAKER_FAILURE_PERCENT: '50',
      OUTBOUND_BREAKER_OPEN_MS: '2000',
      OUTBOUND_BREAKER_CLOSE_AFTER_PROBES: '2',
    }
    consumer = await Consumer.start()
    consumer.answer = () => ({ status: 503 })
    const [a, b] = await Promise.all([start(env), start(env)])
    const replicas = [a!, b!]
    const endpoint = await createEndpoint(a!)
    const since = new Date(Date.now() - 1000).toISOString()
    const breakerOn = async (replica: Replica) =>
      (await (await call(replica, 'GET', `/v1/webhook-endpoints/${endpoint.id}`)).json()) as {
        circuitBreaker: { state: string; retryAt: string | null }
        failingSince: string | null
      }

    // 1. One event, while the breaker is closed: its first attempt makes three requests (the cap), the next
    //    ones a single request each (the fleet's retry budget, at least 2 a minute, is spent), and after the
    //    third attempt of the schedule it is failed. Five failures do not open the breaker (6 needed).
    const first = productUpserted('SKU-F0')
    await store(a!, [first])
    const dead = await waitFor(async () => (await deliveriesOf(b!, endpoint.id, 'failed'))[0], {
      description: 'the first delivery failed',
      timeoutMs: 60_000,
    })
    const requestsPerAttempt = new Map<string, number>()
    for (const received of consumer.received) {
      const key = String(received.headers['webhook-timestamp'])
      requestsPerAttempt.set(key, (requestsPerAttempt.get(key) ?? 0) + 1)
    }
    expect([...requestsPerAttempt.values()]).toEqual([3, 1, 1])
    expect(await fleetSum(replicas, 'retry_attempts_total', { target_kind: 'webhook' })).toBe(2)
    expect(dead.attempts.map((attempt) => attempt.statusCode)).toEqual([503, 503, 503])
    expect((await breakerOn(a!)).circuitBreaker.state).toBe('closed')

    // 2. Three more events: the next failure opens the endpoint's breaker, for both replicas.
    const later = [1, 2, 3].map((i) => productUpserted(`SKU-F${i}`))
    await store(b!, later)
    const opened = await waitFor(
      async () => {
        const seen = await Promise.all(replicas.map(breakerOn))
        return seen.every((endpoint) => endpoint.circuitBreaker.state === 'open') && seen
      },
      { description: 'both replicas answering that the breaker is open', timeoutMs: 60_000 },
    )
    for (const view of opened) {
      expect(Date.parse(view.circuitBreaker.retryAt!)).toBeGreaterThan(Date.now() - 1000)
      expect(view.failingSince).not.toBeNull()
    }
    const texts = await Promise.all(replicas.map(metrics))
    expect(
      Math.max(...texts.map((text) => sample(text, 'circuit_breakers_open', { target_kind: 'webhook' }))),
      texts
        .map((text) =>
          text
            .split('\n')
            .filter((l) => l.includes('circuit_breaker'))
            .join('\n'),
        )
        .join('\n---\n'),
    ).toBe(1)

    // 3. While it stays down, deliveries fall to failed on the schedule: each failed probe is an attempt, and so
    //    is each attempt the open breaker refused (no request made, no retry spent).
    await waitFor(async () => (await deliveriesOf(a!, endpoint.id, 'failed')).length === 4, {
      description: 'every delivery failed',
      timeoutMs: 180_000,
    })
    // 4. The consumer is back: recover re-queues them, and they are all delivered.
    const failingArrivals = consumer.received.length
    const recoveredAt = new Date()
    consumer.answer = () => ({ status: 204 })
    const recovered = await call(b!, 'POST', `/v1/webhook-endpoints/${endpoint.id}/recover`, { since })
    expect(recovered.status).toBe(202)
    expect(await recovered.json()).toEqual({ queued: 4 })
    await waitFor(async () => (await deliveriesOf(a!, endpoint.id, 'succeeded')).length === 4, {
      description: 'every delivery succeeded after recover',
      timeoutMs: 120_000,
    })

    // Every event reached the consumer with a 204, once, verified as Standard Webhooks.
    const accepted = consumer.received.filter((_, i) => consumer.answered[i] === 204)
    expect(accepted.map((r) => JSON.parse(r.body).data.id).sort()).toEqual(
      [first, ...later].map((e) => e.id).sort(),
    )
    for (const delivery of accepted) expect(() => verify(endpoint.secret, delivery)).not.toThrow()
    expect(await breakerOn(b!)).toMatchObject({
      circuitBreaker: { state: 'closed', retryAt: null },
      failingSince: null,
    })

    // The failed deliveries followed the schedule: three attempts, each no sooner than its delay.
    const failedLater = (await deliveriesOf(a!, endpoint.id, 'succeeded')).map((delivery) => delivery.id)
    expect(failedLater).toHaveLength(4)
    expect(await fleetSum(replicas, 'webhook_dead_letters_total')).toBe(4)
    const history = await handle.db
      .select({
        deliveryId: webhookAttempts.deliveryId,
        attemptedAt: webhookAttempts.attemptedAt,
        statusCode: webhookAttempts.statusCode,
        error: webhookAttempts.error,
      })
      .from(webhookAttempts)
      .orderBy(webhookAttempts.id)
    const refusal = { statusCode: null, error: 'circuit breaker open' }
    let requestsWhileFailing = 0
    for (const id of failedLater) {
      const mine = history.filter((x) => x.deliveryId === Number(id))
      // The first schedule: exactly its three attempts, each no sooner than its delay; each a 503 the consumer
      // answered or a refusal by the open breaker.
      const failures = mine.filter((x) => x.attemptedAt < recoveredAt)
      expect(failures).toHaveLength(schedule.length)
      for (const failure of failures)
        if (failure.statusCode === null) expect(failure).toMatchObject(refusal)
        else expect(failure).toMatchObject({ statusCode: 503, error: 'HTTP 503' })
      requestsWhileFailing += failures.filter((x) => x.statusCode !== null).length
      for (let i = 1; i < failures.length; i++)
        expect(
          failures[i]!.attemptedAt.getTime() - failures[i - 1]!.attemptedAt.getTime(),
        ).toBeGreaterThanOrEqual(schedule[i]! * 1000 - 1)
      // The recovered schedule: the success, after at most two attempts the still-open breaker refused.
      const afterRecover = mine.filter((x) => x.attemptedAt >= recoveredAt)
      expect(afterRecover.length).toBeLessThanOrEqual(schedule.length)
      expect(afterRecover.at(-1)).toMatchObject({ statusCode: 204 })
      for (const attempt of afterRecover.slice(0, -1)) expect(attempt).toMatchObject(refusal)
    }
    expect(history.filter((x) => x.deliveryId === Number(dead.id)).slice(0, 3)).toMatchObject([
      { statusCode: 503 },
      { statusCode: 503 },
      { statusCode: 503 },
    ])
    // A refused attempt made no request: while the consumer failed, it saw one request per attempt with a
    // status, plus the first attempt's two retries.
    expect(failingArrivals).toBe(requestsWhileFailing + 2)
    // Retries never went past the budget: none after the first event's first attempt.
    expect(await fleetSum(replicas, 'retry_attempts_total', { target_kind: 'webhook' })).toBe(2)

    // The breaker's life, from both replicas' logs: opened once, then half-open and open again after each
    // failed probe, and closed by two successful probes.
    const transitions = replicas
      .flatMap((replica) => replica.process.lines)
      .filter((line) => (line.target as { id?: string } | undefined)?.id === endpoint.id && 'from' in line)
      .map((line) => ({ from: String(line.from), to: String(line.to), at: Date.parse(String(line.time)) }))
      .sort((x, y) => x.at - y.at)
    const steps = transitions.map((t) => `${t.from}>${t.to}`)
    const failedProbes = (steps.length - 3) / 2
    expect(steps).toEqual([
      'closed>open',
      ...Array.from({ length: failedProbes }, () => ['open>half-open', 'half-open>open']).flat(),
      'open>half-open',
      'half-open>closed',
    ])
    const transitionsCounted = (from: string, to: string) =>
      fleetSum(replicas, 'circuit_breaker_transitions_total', { target_kind: 'webhook', from, to })
    expect(await transitionsCounted('closed', 'open')).toBe(1)
    expect(await transitionsCounted('open', 'half-open')).toBe(failedProbes + 1)
    expect(await transitionsCounted('half-open', 'open')).toBe(failedProbes)
    expect(await transitionsCounted('half-open', 'closed')).toBe(1)

    // Exactly one request reached the consumer in each half-open period while it failed, none while open
    // (after the first cool-down: requests admitted before the breaker opened may still arrive during it), and
    // the two probes that closed it in the last half-open period.
    // A probe arrives after the log line of the transition that admitted it and before the one its answer
    // caused, so a half-open period counts its ends and an open one does not.
    const periods = transitions.slice(1)
    for (let i = 0; i + 1 < periods.length; i++) {
      const [start, end] = [periods[i]!, periods[i + 1]!]
      const halfOpen = start.to === 'half-open'
      const arrivals = consumer.received.filter((r) =>
        halfOpen
          ? r.receivedAt >= start.at && r.receivedAt <= end.at
          : r.receivedAt > start.at && r.receivedAt < end.at,
      )
      const expected = halfOpen ? (end.to === 'closed' ? 2 : 1) : 0
      expect(arrivals.length, `from ${start.from}>${start.to} to ${end.from}>${end.to}`).toBe(expected)
    }
    const refused = await Promise.all(
      replicas.map(async (r) =>
        sample(await metrics(r), 'outbound_requests_total', {
          target_kind: 'webhook',
          outcome: 'breaker-open',
        }),
      ),
    )
    console.info(
      `breaker: ${failingArrivals} requests while failing (${failedProbes} failed probes, one per half-open period), ` +
        `calls refused without a request by replica A ${refused[0]}, by replica B ${refused[1]}`,
    )
  }, 400_000)
})
