import { eq } from 'drizzle-orm'
import pg from 'pg'
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest'
import { webhookAttempts, webhookDeliveries, webhookEndpoints } from '../../../src/db/schema.js'
import { startTestApp, type TestApp } from '../../helpers/app.js'
import { ingest, orderEvent, productUpserted } from '../../helpers/ingest.js'
import { createTenant, type TenantFixture } from '../../helpers/tenants.js'
import { waitFor } from '../../helpers/wait.js'
import { appWithConsumer, Consumer, verify } from './consumer.js'

// Attempts at once, then after 1 s and 1 s: three in all. The outbound layer makes one request per attempt,
// so each attempt of the schedule is one request the consumer sees.
const WEBHOOK_ENV = {
  WEBHOOK_ALLOW_HTTP: 'true',
  WEBHOOK_ALLOW_PRIVATE_TARGETS: 'true',
  WEBHOOK_RETRY_SCHEDULE: '0,1,1',
  WEBHOOK_POLL_INTERVAL_MS: '50',
  OUTBOUND_RETRY_MAX_ATTEMPTS: '1',
}

interface Delivery {
  id: string
  status: string
  eventType: string
  nextAttemptAt: string | null
  attempts: { attemptedAt: string; statusCode: number | null; error: string | null; durationMs: number }[]
}

/** Calls a route of the app with the tenant's key. */
function callAs(
  t: TestApp,
  tenant: TenantFixture,
  method: 'GET' | 'POST' | 'PATCH' | 'PUT',
  url: string,
  payload?: Record<string, unknown>,
) {
  return t.app.inject({
    method,
    url,
    headers: { authorization: `Bearer ${tenant.key}` },
    ...(payload === undefined ? {} : { payload }),
  })
}

async function createEndpointAs(
  t: TestApp,
  tenant: TenantFixture,
  url: string,
  body: Record<string, unknown> = {},
): Promise<{ id: string; secret: string }> {
  const res = await callAs(t, tenant, 'POST', '/v1/webhook-endpoints', { url, ...body })
  expect(res.statusCode).toBe(201)
  return res.json()
}

/** The endpoint's deliveries, newest first (the first page); `query` such as `?status=failed`. */
async function deliveriesOf(t: TestApp, tenant: TenantFixture, endpointId: string, query = '') {
  const res = await callAs(t, tenant, 'GET', `/v1/webhook-endpoints/${endpointId}/deliveries${query}`)
  expect(res.statusCode).toBe(200)
  return res.json().data as Delivery[]
}

/** Waits until the endpoint's newest delivery is one `accept` takes, and answers it. */
function newestDelivery(
  t: TestApp,
  tenant: TenantFixture,
  endpointId: string,
  accept: (delivery: Delivery) => boolean,
  description: string,
): Promise<Delivery> {
  return waitFor(
    async () => {
      const [delivery] = await deliveriesOf(t, tenant, endpointId)
      return delivery !== undefined && accept(delivery) ? delivery : undefined
    },
    { description },
  )
}

describe('webhook delivery', () => {
  let t: TestApp
  let tenant: TenantFixture
  let consumer: Consumer

  beforeAll(async () => {
    t = await startTestApp({ env: WEBHOOK_ENV })
    tenant = await createTenant(t.platform.database.db)
  })
  afterAll(() => t.close())
  afterEach(() => consumer?.close())

  const api = (method: 'GET' | 'POST' | 'PATCH' | 'PUT', url: string, payload?: Record<string, unknown>) =>
    callAs(t, tenant, method, url, payload)

  async function createEndpoint(body: Record<string, unknown> = {}) {
    consumer = await Consumer.start()
    return createEndpointAs(t, tenant, consumer.url, body)
  }

  const deliveries = (endpointId: string, status?: string) =>
    deliveriesOf(t, tenant, endpointId, status === undefined ? '' : `?status=${status}`)

  /** Waits until the endpoint has `count` deliveries with `status`, and answers them. */
  function deliveriesOnceThere(endpointId: string, status: string, count: number): Promise<Delivery[]> {
    return waitFor(
      async () => {
        const list = await deliveries(endpointId, status)
        return list.length === count ? list : undefined
      },
      { description: `${count} ${status} deliveries` },
    )
  }

  async function store(events: ReturnType<typeof productUpserted>[]) {
    const res = await ingest(t.app, { key: tenant.key, events })
    expect(res.statusCode).toBe(201)
  }

  it('delivers every stored event, signed as Standard Webhooks', async () => {
    const endpoint = await createEndpoint()
    const events = [productUpserted('SKU-1'), orderEvent('order.created', 'O-1'), productUpserted('SKU-2')]
    await store(events)
    await waitFor(() => consumer.received.length >= 3, { description: 'three deliveries' })

    for (const delivery of consumer.received) {
      expect(() => verify(endpoint.secret, delivery)).not.toThrow()
      expect(delivery.headers['content-type']).toBe('application/json')
      expect(delivery.headers['user-agent']).toMatch(/^pos-integration-service\/\d+\.\d+\.\d+/)
      expect(delivery.headers['webhook-id']).toMatch(/^msg_\d+$/)
    }
    const received = consumer.events()
    expect(received.map((event) => event.data.id)).toEqual(events.map((event) => event.id))
    expect(received[1]).toMatchObject({
      type: 'order.created',
      timestamp: events[1]!.occurredAt,
      data: { id: events[1]!.id, source: 'pos', type: 'order.created', data: { orderId: 'O-1' } },
    })
    // The body's data is the event exactly as the change feed serves it (once the feed shows it: after every
    // older transaction of the PostgreSQL server has ended).
    const fromFeed = await waitFor(
      async () => {
        const feed = await api('GET', '/v1/events?limit=500')
        return feed.json().data.find((event: { id: string }) => event.id === events[1]!.id)
      },
      { description: 'the event in the change feed' },
    )
    expect(received[1]!.data).toEqual(fromFeed)

    await deliveriesOnceThere(endpoint.id, 'succeeded', 3)
  })

  it('pages through the deliveries newest first, also within one status', async () => {
    const endpoint = await createEndpoint()
    await store(Array.from({ length: 5 }, (_, i) => productUpserted(`SKU-P${i}`)))
    const all = await deliveriesOnceThere(endpoint.id, 'succeeded', 5)
    const ids = all.map((delivery) => Number(delivery.id))
    expect(ids).toEqual([...ids].sort((x, y) => y - x))

    for (const status of ['', 'status=succeeded&']) {
      const walked: string[] = []
      let url = `/v1/webhook-endpoints/${endpoint.id}/deliveries?${status}limit=2`
      for (let pages = 0; pages < 10; pages++) {
        const res = await api('GET', url)
        expect(res.statusCode).toBe(200)
        const page = res.json() as { data: Delivery[]; nextCursor: string | null }
        expect(page.data.length).toBeLessThanOrEqual(2)
        walked.push(...page.data.map((delivery) => delivery.id))
        if (page.nextCursor === null) break
        url = `/v1/webhook-endpoints/${endpoint.id}/deliveries?${status}limit=2&after=${page.nextCursor}`
      }
      expect(walked).toEqual(all.map((delivery) => delivery.id))
    }
    const none = await api('GET', `/v1/webhook-endpoints/${endpoint.id}/deliveries?status=failed&limit=2`)
    expect(none.json()).toEqual({ data: [], nextCursor: null })
    const foreign = await api(
      'GET',
      `/v1/webhook-endpoints/${endpoint.id}/deliveries?after=${Buffer.from('products.5').toString('base64url')}`,
    )
    expect(foreign.statusCode).toBe(400)
    expect(foreign.json()).toMatchObject({ type: '/problems/invalid-parameters' })
  })

  it('delivers product writes made through the API too', async () => {
    const endpoint = await createEndpoint({ eventTypes: ['product.upserted', 'product.deleted'] })
    const put = await api('PUT', '/v1/products/API-1', {
      name: 'Flat white',
      price: { amount: 420, currency: 'EUR' },
    })
    expect(put.statusCode).toBe(200)
    await waitFor(() => consumer.received.length >= 1, { description: 'the delivery of the write' })
    expect(() => verify(endpoint.secret, consumer.received[0]!)).not.toThrow()
    expect(consumer.events()[0]).toMatchObject({
      type: 'product.upserted',
      data: { source: 'api', data: { sku: 'API-1' } },
    })
  })

  it('disables an endpoint whose attempts all failed for the configured time (5 days by default)', async () => {
    const endpoint = await createEndpoint()
    consumer.answer = () => ({ status: 500 })
    await store([productUpserted('SKU-13')])
    await waitFor(
      async () => (await api('GET', `/v1/webhook-endpoints/${endpoint.id}`)).json().failingSince !== null,
      { description: 'the endpoint failing' },
    )
    // As if it had been failing for six days: the next failed attempt disables it.
    await t.platform.database.db
      .update(webhookEndpoints)
      .set({ failingSince: new Date(Date.now() - 6 * 86_400_000) })
      .where(eq(webhookEndpoints.id, endpoint.id))
    await waitFor(
      async () => (await api('GET', `/v1/webhook-endpoints/${endpoint.id}`)).json().enabled === false,
      { description: 'the endpoint disabled' },
    )
    expect((await api('GET', `/v1/webhook-endpoints/${endpoint.id}`)).json().disabledReason).toBe('failing')
  })

  it('sends only the event types the endpoint asked for', async () => {
    await createEndpoint({ eventTypes: ['order.created'] })
    await store([productUpserted('SKU-3'), orderEvent('order.created', 'O-2'), productUpserted('SKU-4')])
    await waitFor(() => consumer.received.length >= 1, { description: 'one delivery' })
    // A later event that matches arrives after the ones skipped: nothing else was queued for this endpoint.
    await store([orderEvent('order.created', 'O-3')])
    await waitFor(() => consumer.received.length >= 2, { description: 'the second delivery' })
    expect(consumer.events().map((event) => event.type)).toEqual(['order.created', 'order.created'])
  })

  it('retries a 503 with Retry-After, keeping the webhook-id, and succeeds', async () => {
    const endpoint = await createEndpoint()
    consumer.answer = (_delivery, index) =>
      index === 0 ? { status: 503, headers: { 'retry-after': '1' } } : { status: 200 }
    await store([productUpserted('SKU-5')])
    await waitFor(() => consumer.received.length >= 2, { description: 'a retry' })
    const [first, second] = consumer.received
    expect(second!.headers['webhook-id']).toBe(first!.headers['webhook-id'])
    expect(Number(second!.headers['webhook-timestamp'])).toBeGreaterThanOrEqual(
      Number(first!.headers['webhook-timestamp']) + 1,
    )
    const [delivery] = await deliveriesOnceThere(endpoint.id, 'succeeded', 1)
    expect(delivery!.attempts.map((attempt) => attempt.statusCode)).toEqual([503, 200])
    expect(delivery!.attempts[0]!.error).toBe('HTTP 503')
  })

  it('disables the endpoint on 410 Gone, says so in the API, and queues nothing more for it', async () => {
    const endpoint = await createEndpoint()
    consumer.answer = () => ({ status: 410 })
    await store([productUpserted('SKU-6')])
    await waitFor(
      async () => (await api('GET', `/v1/webhook-endpoints/${endpoint.id}`)).json().enabled === false,
      { description: 'the endpoint disabled' },
    )
    expect((await api('GET', `/v1/webhook-endpoints/${endpoint.id}`)).json()).toMatchObject({
      enabled: false,
      disabledReason: 'gone',
    })
    const [gone] = await deliveriesOnceThere(endpoint.id, 'failed', 1)
    expect(gone!.attempts).toEqual([expect.objectContaining({ statusCode: 410, error: 'endpoint is gone' })])
    // Events stored while it is disabled are not queued for it; another endpoint shows they were fanned out.
    const witness = await Consumer.start()
    try {
      const other = await api('POST', '/v1/webhook-endpoints', { url: witness.url })
      await store([productUpserted('SKU-7')])
      await waitFor(() => witness.received.length === 1, { description: 'the witness delivery' })
      expect(await deliveries(endpoint.id)).toHaveLength(1)
      expect(consumer.received).toHaveLength(1)
      expect(
        (await api('PATCH', `/v1/webhook-endpoints/${other.json().id}`, { enabled: false })).statusCode,
      ).toBe(200)
    } finally {
      await witness.close()
    }
  })

  it('does not follow a redirect: it is a failed attempt, and the redirect target is never called', async () => {
    const endpoint = await createEndpoint()
    const elsewhere = await Consumer.start()
    try {
      consumer.answer = () => ({ status: 302, headers: { location: elsewhere.url } })
      await store([productUpserted('SKU-8')])
      const [delivery] = await waitFor(
        async () => {
          const list = await deliveries(endpoint.id)
          return list[0]?.attempts.length ? list : undefined
        },
        { description: 'an attempt recorded' },
      )
      expect(delivery!.attempts[0]).toMatchObject({ statusCode: 302, error: 'redirect not followed' })
      expect(
        consumer.received.every(
          (r) => r.headers['webhook-id'] === consumer.received[0]!.headers['webhook-id'],
        ),
      ).toBe(true)
      expect(elsewhere.received).toHaveLength(0)
    } finally {
      await elsewhere.close()
    }
  })

  it('marks a delivery failed after its last attempt, and recover delivers it', async () => {
    const endpoint = await createEndpoint()
    consumer.answer = () => ({ status: 500 })
    const since = new Date(Date.now() - 60_000).toISOString()
    await store([productUpserted('SKU-9')])
    const [failed] = await deliveriesOnceThere(endpoint.id, 'failed', 1)
    expect(failed!.attempts).toHaveLength(3)
    expect(consumer.received).toHaveLength(3)
    expect((await api('GET', `/v1/webhook-endpoints/${endpoint.id}`)).json().failingSince).not.toBeNull()

    consumer.answer = () => ({ status: 204 })
    const recovered = await api('POST', `/v1/webhook-endpoints/${endpoint.id}/recover`, { since })
    expect(recovered.statusCode).toBe(202)
    expect(recovered.json()).toEqual({ queued: 1 })
    await deliveriesOnceThere(endpoint.id, 'succeeded', 1)
    expect((await api('GET', `/v1/webhook-endpoints/${endpoint.id}`)).json().failingSince).toBeNull()
  })

  it('retries one failed delivery on request, and refuses to retry one that is not failed', async () => {
    const endpoint = await createEndpoint()
    consumer.answer = () => ({ status: 400 })
    await store([productUpserted('SKU-10')])
    const [failed] = await deliveriesOnceThere(endpoint.id, 'failed', 1)
    consumer.answer = () => ({ status: 200 })
    const url = `/v1/webhook-endpoints/${endpoint.id}/deliveries/${failed!.id}/retry`
    expect((await api('POST', url)).statusCode).toBe(202)
    await deliveriesOnceThere(endpoint.id, 'succeeded', 1)
    const again = await api('POST', url)
    expect(again.statusCode).toBe(409)
    expect(again.json()).toMatchObject({ type: '/problems/conflict' })
  })

  it('signs with both secrets for a day after a rotation', async () => {
    const endpoint = await createEndpoint()
    const rotatedAt = Date.now()
    const rotated = await api('POST', `/v1/webhook-endpoints/${endpoint.id}/rotate-secret`)
    const newSecret = rotated.json().secret as string
    await store([productUpserted('SKU-11')])
    await waitFor(() => consumer.received.length >= 1, { description: 'a delivery' })
    const [delivery] = consumer.received
    expect(String(delivery!.headers['webhook-signature']).split(' ')).toHaveLength(2)
    expect(() => verify(endpoint.secret, delivery!)).not.toThrow()
    expect(() => verify(newSecret, delivery!)).not.toThrow()

    // For 24 hours: once they are over, only the new secret signs.
    const [row] = await t.platform.database.db
      .select({ expiresAt: webhookEndpoints.previousSecretExpiresAt })
      .from(webhookEndpoints)
      .where(eq(webhookEndpoints.id, endpoint.id))
    expect(row!.expiresAt!.getTime() - rotatedAt).toBeGreaterThanOrEqual(24 * 3_600_000)
    expect(row!.expiresAt!.getTime() - rotatedAt).toBeLessThanOrEqual(24 * 3_600_000 + 60_000)
    await t.platform.database.db
      .update(webhookEndpoints)
      .set({ previousSecretExpiresAt: new Date(Date.now() - 1000) })
      .where(eq(webhookEndpoints.id, endpoint.id))
    await store([productUpserted('SKU-12')])
    await waitFor(() => consumer.received.length >= 2, { description: 'a delivery after 24 hours' })
    const later = consumer.received[1]!
    expect(String(later.headers['webhook-signature']).split(' ')).toHaveLength(1)
    expect(() => verify(newSecret, later)).not.toThrow()
    expect(() => verify(endpoint.secret, later)).toThrow()
  })
})

describe('webhook delivery to a consumer that throttles or hangs', () => {
  let t: TestApp
  let tenant: TenantFixture
  let consumer: Consumer

  beforeAll(async () => {
    t = await startTestApp({
      env: {
        ...WEBHOOK_ENV,
        // Two requests per attempt, waits between them capped at 1 s, and an attempt's request given 1.5 s.
        OUTBOUND_RETRY_MAX_ATTEMPTS: '2',
        OUTBOUND_RETRY_MAX_DELAY_MS: '1000',
        OUTBOUND_RETRY_BUDGET_MIN_PER_MINUTE: '100',
        WEBHOOK_TIMEOUT_MS: '1500',
      },
    })
    tenant = await createTenant(t.platform.database.db)
  })
  afterAll(() => t.close())
  afterEach(() => consumer?.close())

  /** An endpoint whose consumer answers as `answer` says, and one event stored for it. */
  async function deliverOne(answer: Consumer['answer']): Promise<{ id: string; secret: string }> {
    consumer = await Consumer.start()
    consumer.answer = answer
    const endpoint = await createEndpointAs(t, tenant, consumer.url)
    const events = [productUpserted(`SKU-${endpoint.id}`)]
    expect((await ingest(t.app, { key: tenant.key, events })).statusCode).toBe(201)
    return endpoint
  }

  const succeeded = (endpointId: string) =>
    newestDelivery(t, tenant, endpointId, (d) => d.status === 'succeeded', 'the delivery succeeded')

  it('waits the Retry-After of a 429 within the cap, and retries within the same attempt', async () => {
    const endpoint = await deliverOne((_delivery, index) =>
      index === 0 ? { status: 429, headers: { 'retry-after': '1' } } : { status: 204 },
    )
    const delivery = await succeeded(endpoint.id)
    const [first, second] = consumer.received
    expect(consumer.received).toHaveLength(2)
    // One attempt of the schedule (same webhook-id and webhook-timestamp), whose second request waited.
    expect(second!.headers['webhook-id']).toBe(first!.headers['webhook-id'])
    expect(second!.headers['webhook-timestamp']).toBe(first!.headers['webhook-timestamp'])
    expect(second!.receivedAt - first!.receivedAt).toBeGreaterThanOrEqual(1000)
    expect(delivery.attempts.map((attempt) => attempt.statusCode)).toEqual([204])
    for (const received of consumer.received) expect(() => verify(endpoint.secret, received)).not.toThrow()
  })

  it('postpones the next attempt by a Retry-After beyond the cap, instead of waiting in the call', async () => {
    const endpoint = await deliverOne((_delivery, index) =>
      index === 0 ? { status: 503, headers: { 'retry-after': '3' } } : { status: 204 },
    )
    const pending = await newestDelivery(
      t,
      tenant,
      endpoint.id,
      (d) => d.attempts.length === 1,
      'the first attempt recorded',
    )
    // No second request in that attempt: 3 s is beyond the 1 s cap. The schedule says 1 s; Retry-After wins.
    expect(pending.attempts[0]).toMatchObject({ statusCode: 503, error: 'HTTP 503' })
    if (pending.status === 'pending')
      expect(
        Date.parse(pending.nextAttemptAt!) - Date.parse(pending.attempts[0]!.attemptedAt),
      ).toBeGreaterThanOrEqual(3000)
    const delivery = await succeeded(endpoint.id)
    expect(delivery.attempts.map((attempt) => attempt.statusCode)).toEqual([503, 204])
    const [first, second] = consumer.received
    expect(consumer.received).toHaveLength(2)
    expect(
      Number(second!.headers['webhook-timestamp']) - Number(first!.headers['webhook-timestamp']),
    ).toBeGreaterThanOrEqual(3)
  })

  it('ends an attempt the consumer never answers at WEBHOOK_TIMEOUT_MS, and tries again later', async () => {
    const endpoint = await deliverOne((_delivery, index) => (index < 2 ? 'hold' : { status: 204 }))
    const delivery = await succeeded(endpoint.id)
    // The first attempt: two requests (the layer retries a timeout), each given up after 1.5 s.
    expect(delivery.attempts).toHaveLength(2)
    expect(delivery.attempts[0]).toMatchObject({ statusCode: null, error: 'timeout' })
    expect(delivery.attempts[0]!.durationMs).toBeGreaterThanOrEqual(3000)
    expect(delivery.attempts[1]).toMatchObject({ statusCode: 204, error: null })
    expect(consumer.received).toHaveLength(3)
    // The held requests were abandoned by the sender, never answered.
    expect(consumer.sent.slice(0, 2)).toEqual([false, false])
    expect(new Set(consumer.received.map((r) => r.headers['webhook-id'])).size).toBe(1)
  })
})

describe('webhook delivery while the endpoint’s breaker is open', () => {
  const started = appWithConsumer({
    ...WEBHOOK_ENV,
    // The first failure opens the breaker, for 300 ms; every later request is a half-open probe.
    OUTBOUND_RETRY_MAX_ATTEMPTS: '3',
    OUTBOUND_BREAKER_MINIMUM_CALLS: '1',
    OUTBOUND_BREAKER_OPEN_MS: '300',
  })

  it('counts a request whose failure opened the breaker, and each failed probe, as an attempt', async () => {
    const { t, consumer } = started
    const tenant = await createTenant(t.platform.database.db)
    consumer.answer = () => ({ status: 500 })
    const endpoint = await createEndpointAs(t, tenant, consumer.url)
    await ingest(t.app, { key: tenant.key, events: [productUpserted('SKU-O1')] })
    const failed = await newestDelivery(
      t,
      tenant,
      endpoint.id,
      (d) => d.status === 'failed',
      'the delivery failed after its three attempts',
    )
    // One request per attempt (the breaker stops each call's retries), each recorded as the consumer saw it.
    expect(failed.attempts.map((attempt) => [attempt.statusCode, attempt.error])).toEqual([
      [500, 'HTTP 500'],
      [500, 'HTTP 500'],
      [500, 'HTTP 500'],
    ])
    expect(consumer.received).toHaveLength(3)
    const shown = await callAs(t, tenant, 'GET', `/v1/webhook-endpoints/${endpoint.id}`)
    expect(shown.json().failingSince).not.toBeNull()
  })
})

describe('webhook delivery while the endpoint’s breaker stays open', () => {
  const started = appWithConsumer({
    ...WEBHOOK_ENV,
    // The first failure opens the breaker for 3 s: longer than the schedule's 1 s steps, so the deliveries
    // stored meanwhile meet it open.
    OUTBOUND_BREAKER_MINIMUM_CALLS: '1',
    OUTBOUND_BREAKER_OPEN_MS: '3000',
    OUTBOUND_BREAKER_CLOSE_AFTER_PROBES: '1',
  })

  // Two schedules of seconds each and a breaker cool-down between them: on a busy machine that is more than the
  // default 30 s, so the test gets the sum of its two waits' deadlines.
  it('fails an attempt the open breaker refuses, without a request, so the delivery still ends on its schedule', async () => {
    const { t, consumer } = started
    const tenant = await createTenant(t.platform.database.db)
    consumer.answer = () => ({ status: 503 })
    const endpoint = await createEndpointAs(t, tenant, consumer.url)
    const since = new Date(Date.now() - 60_000).toISOString()
    const stored = ['SKU-B0', 'SKU-B1', 'SKU-B2'].map((sku) => productUpserted(sku))
    await ingest(t.app, { key: tenant.key, events: stored.slice(0, 1) })
    await newestDelivery(t, tenant, endpoint.id, (d) => d.attempts.length === 1, 'the first failure')
    // The breaker is open now: these deliveries meet it on their first attempt.
    await ingest(t.app, { key: tenant.key, events: stored.slice(1) })
    const failed = await waitFor(
      async () => {
        const list = await deliveriesOf(t, tenant, endpoint.id, '?status=failed')
        return list.length === 3 ? list : undefined
      },
      { description: 'three failed deliveries', timeoutMs: 60_000 },
    )
    const attempts = failed.flatMap((delivery) => delivery.attempts)
    // Each delivery made exactly the schedule's three attempts, no more.
    for (const delivery of failed) expect(delivery.attempts).toHaveLength(3)
    const refused = attempts.filter((attempt) => attempt.statusCode === null)
    expect(refused.length).toBeGreaterThanOrEqual(2)
    for (const attempt of refused)
      expect(attempt).toMatchObject({ error: 'circuit breaker open', durationMs: 0 })
    for (const attempt of attempts.filter((a) => a.statusCode !== null))
      expect(attempt).toMatchObject({ statusCode: 503, error: 'HTTP 503' })
    // A refused attempt made no request: the consumer saw exactly the attempts that carry a status.
    expect(consumer.received).toHaveLength(attempts.length - refused.length)

    // The consumer is back: recover queues them with a fresh schedule and every one is delivered.
    consumer.answer = () => ({ status: 204 })
    const recovered = await callAs(t, tenant, 'POST', `/v1/webhook-endpoints/${endpoint.id}/recover`, {
      since,
    })
    expect(recovered.json()).toEqual({ queued: 3 })
    const succeeded = await waitFor(
      async () => {
        const list = await deliveriesOf(t, tenant, endpoint.id, '?status=succeeded')
        return list.length === 3 ? list : undefined
      },
      { description: 'three deliveries succeeded after recover', timeoutMs: 60_000 },
    )
    for (const delivery of succeeded) {
      // Oldest first: the three of the first schedule, then those of the recovered one, which ends with the
      // success and spent at most the schedule's three attempts (any before the success were refusals).
      const sinceRecover = delivery.attempts.slice(3)
      expect(sinceRecover.length).toBeGreaterThanOrEqual(1)
      expect(sinceRecover.length).toBeLessThanOrEqual(3)
      expect(sinceRecover.at(-1)).toMatchObject({ statusCode: 204 })
      for (const attempt of sinceRecover.slice(0, -1))
        expect(attempt).toMatchObject({ statusCode: null, error: 'circuit breaker open' })
    }
    const accepted = consumer.received.filter((_, i) => consumer.answered[i] === 204)
    expect(accepted.map((r) => JSON.parse(r.body).data.id).sort()).toEqual(stored.map((e) => e.id).sort())
  }, 150_000)
})

describe('webhook target safety at connect time', () => {
  let t: TestApp
  let tenant: TenantFixture
  let consumer: Consumer

  beforeAll(async () => {
    t = await startTestApp({ env: { ...WEBHOOK_ENV, WEBHOOK_ALLOW_PRIVATE_TARGETS: 'false' } })
    tenant = await createTenant(t.platform.database.db)
    consumer = await Consumer.start()
  })
  afterAll(async () => {
    await consumer.close()
    await t.close()
  })

  /**
   * An endpoint created on a public address whose row now holds `url` (as if its name had been rebound, or the
   * row changed behind the API's back), and the first attempt of a delivery to it.
   */
  async function attemptOnStoredTarget(url: string): Promise<Delivery['attempts'][number]> {
    const { id } = await createEndpointAs(t, tenant, 'https://93.184.215.14/hooks')
    await t.platform.database.db.update(webhookEndpoints).set({ url }).where(eq(webhookEndpoints.id, id))
    await ingest(t.app, { key: tenant.key, events: [productUpserted(`SKU-${id}`)] })
    const delivery = await newestDelivery(t, tenant, id, (d) => d.attempts.length > 0, 'an attempt recorded')
    return delivery.attempts[0]!
  }

  it('refuses a name that now resolves to a loopback address, without calling it', async () => {
    const attempt = await attemptOnStoredTarget(consumer.url.replace('127.0.0.1', 'localhost'))
    expect(attempt).toMatchObject({ statusCode: null, error: 'network' })
    expect(consumer.received).toHaveLength(0)
    expect(t.logs.lines).toContainEqual(
      expect.objectContaining({
        msg: 'webhook target refused at connect: forbidden address',
        hostname: 'localhost',
      }),
    )
  })

  it.each([
    ['a loopback address', (url: string) => url],
    ['a private range', () => 'http://10.255.255.1:9/hooks'],
  ])('refuses %s stored since creation, without a request', async (_what, target) => {
    const attempt = await attemptOnStoredTarget(target(consumer.url))
    expect(attempt).toMatchObject({ statusCode: null, durationMs: 0 })
    expect(attempt.error).toMatch(/is a forbidden address$/)
    expect(consumer.received).toHaveLength(0)
  })
})

describe('webhook delivery on the embedded database', () => {
  let t: TestApp
  let consumer: Consumer
  beforeAll(async () => {
    t = await startTestApp({ embedded: true, env: WEBHOOK_ENV })
    consumer = await Consumer.start()
  })
  afterAll(async () => {
    await consumer.close()
    await t.close()
  })

  it('delivers stored events, signed', async () => {
    const tenant = await createTenant(t.platform.database.db)
    const endpoint = await createEndpointAs(t, tenant, consumer.url)
    const events = [productUpserted('SKU-E1'), productUpserted('SKU-E2')]
    expect((await ingest(t.app, { key: tenant.key, events })).statusCode).toBe(201)
    await waitFor(() => consumer.received.length >= 2, { description: 'two deliveries' })
    for (const delivery of consumer.received) expect(() => verify(endpoint.secret, delivery)).not.toThrow()
    expect(consumer.events().map((event) => event.data.id)).toEqual(events.map((event) => event.id))
  })
})

describe("a delivery's listing while an attempt is recorded", () => {
  let t: TestApp
  let tenant: TenantFixture
  let holder: pg.Client
  beforeAll(async () => {
    // No dispatcher: the test writes the delivery and its attempts itself, at the moments it chooses.
    t = await startTestApp({ env: { ...WEBHOOK_ENV, WEBHOOK_DISPATCHER_ENABLED: 'false' } })
    tenant = await createTenant(t.platform.database.db)
    holder = new pg.Client({ connectionString: t.database.url })
    await holder.connect()
  })
  afterAll(async () => {
    await holder.end()
    await t.close()
  })

  it('shows the delivery and its attempts from one moment, not its old state beside a new attempt', async () => {
    const endpoint = await createEndpointAs(t, tenant, 'https://hooks.example.com/pos')
    const { db } = t.platform.database
    const [delivery] = await db
      .insert(webhookDeliveries)
      .values({
        tenantId: tenant.tenantId,
        endpointId: endpoint.id,
        eventType: 'product.upserted',
        event: { id: 'E-1', type: 'product.upserted' },
        attempts: 1,
      })
      .returning({ id: webhookDeliveries.id })
    const failed = { deliveryId: delivery!.id, statusCode: 503, durationMs: 5, error: 'HTTP 503' }
    await db.insert(webhookAttempts).values({ ...failed, attemptedAt: new Date() })
    const before = { status: 'pending', attempts: [{ statusCode: 503 }] }
    expect((await deliveriesOf(t, tenant, endpoint.id))[0]).toMatchObject(before)

    // The attempts table is held, so the listing reads the delivery and then waits for its attempts. Meanwhile
    // the delivery is settled: succeeded, with a second attempt, in one transaction.
    await holder.query('BEGIN')
    await holder.query('LOCK TABLE webhook_attempts IN ACCESS EXCLUSIVE MODE')
    const listing = deliveriesOf(t, tenant, endpoint.id)
    await waitFor(
      async () => {
        const { rows } = await holder.query(
          `SELECT 1 FROM pg_stat_activity WHERE datname = current_database() AND wait_event_type = 'Lock'`,
        )
        return rows.length > 0
      },
      { description: 'the listing waits for the attempts table' },
    )
    await holder.query(`UPDATE webhook_deliveries SET status = 'succeeded', attempts = 2 WHERE id = $1`, [
      delivery!.id,
    ])
    await holder.query(
      `INSERT INTO webhook_attempts (delivery_id, attempted_at, status_code, duration_ms) VALUES ($1, now(), 204, 5)`,
      [delivery!.id],
    )
    await holder.query('COMMIT')

    // Either moment is right; the old state beside the attempt that replaced it is not.
    expect((await listing)[0]).toMatchObject(before)
    expect((await deliveriesOf(t, tenant, endpoint.id))[0]).toMatchObject({
      status: 'succeeded',
      attempts: [{ statusCode: 503 }, { statusCode: 204 }],
    })
  })
})
