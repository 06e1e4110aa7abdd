import { eq } from 'drizzle-orm'
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest'
import { webhookEndpoints } from '../../../src/db/schema.js'
import { startTestApp, type TestApp } from '../../helpers/app.js'
import { ingest, orderEvent, productUpserted } from '../../helpers/ingest.js'
import { createTenant, type TenantFixture } from '../../helpers/tenants.js'
import { waitFor } from '../../helpers/wait.js'
import { Consumer, verify } from './consumer.js'

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
  attempts: { statusCode: number | null; error: string | null; durationMs: number }[]
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
    t.app.inject({
      method,
      url,
      headers: { authorization: `Bearer ${tenant.key}` },
      ...(payload === undefined ? {} : { payload }),
    })

  async function createEndpoint(body: Record<string, unknown> = {}) {
    consumer = await Consumer.start()
    const res = await api('POST', '/v1/webhook-endpoints', { url: consumer.url, ...body })
    expect(res.statusCode).toBe(201)
    return res.json() as { id: string; secret: string }
  }

  async function deliveries(endpointId: string, status?: string): Promise<Delivery[]> {
    const query = status === undefined ? '' : `?status=${status}`
    const res = await api('GET', `/v1/webhook-endpoints/${endpointId}/deliveries${query}`)
    expect(res.statusCode).toBe(200)
    return res.json().data
  }

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
    // The body's data is the event exactly as the change feed serves it.
    const feed = await api('GET', '/v1/events?limit=500')
    const fromFeed = feed.json().data.find((event: { id: string }) => event.id === events[1]!.id)
    expect(received[1]!.data).toEqual(fromFeed)

    await deliveriesOnceThere(endpoint.id, 'succeeded', 3)
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

  it('disables the endpoint on 410 Gone', async () => {
    const endpoint = await createEndpoint()
    consumer.answer = () => ({ status: 410 })
    await store([productUpserted('SKU-6'), productUpserted('SKU-7')])
    await waitFor(
      async () => (await api('GET', `/v1/webhook-endpoints/${endpoint.id}`)).json().enabled === false,
      { description: 'the endpoint disabled' },
    )
    expect((await api('GET', `/v1/webhook-endpoints/${endpoint.id}`)).json()).toMatchObject({
      enabled: false,
      disabledReason: 'gone',
    })
  })

  it('does not follow a redirect: it is a failed attempt', async () => {
    const endpoint = await createEndpoint()
    consumer.answer = () => ({ status: 302, headers: { location: 'http://127.0.0.1:1/elsewhere' } })
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
      consumer.received.every((r) => r.headers['webhook-id'] === consumer.received[0]!.headers['webhook-id']),
    ).toBe(true)
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
    const rotated = await api('POST', `/v1/webhook-endpoints/${endpoint.id}/rotate-secret`)
    const newSecret = rotated.json().secret as string
    await store([productUpserted('SKU-11')])
    await waitFor(() => consumer.received.length >= 1, { description: 'a delivery' })
    const [delivery] = consumer.received
    expect(String(delivery!.headers['webhook-signature']).split(' ')).toHaveLength(2)
    expect(() => verify(endpoint.secret, delivery!)).not.toThrow()
    expect(() => verify(newSecret, delivery!)).not.toThrow()
  })
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

  it('refuses a name that now resolves to a loopback address, without calling it', async () => {
    // Created while the name resolved elsewhere (DNS rebinding): the row is written as creation would have.
    const created = await t.app.inject({
      method: 'POST',
      url: '/v1/webhook-endpoints',
      headers: { authorization: `Bearer ${tenant.key}` },
      payload: { url: 'https://93.184.215.14/hooks' },
    })
    const { id } = created.json()
    const rebound = consumer.url.replace('127.0.0.1', 'localhost')
    await t.platform.database.db
      .update(webhookEndpoints)
      .set({ url: rebound })
      .where(eq(webhookEndpoints.id, id))
    await ingest(t.app, { key: tenant.key, events: [productUpserted('SKU-12')] })
    const attempt = await waitFor(
      async () => {
        const res = await t.app.inject({
          url: `/v1/webhook-endpoints/${id}/deliveries`,
          headers: { authorization: `Bearer ${tenant.key}` },
        })
        return (res.json().data as Delivery[])[0]?.attempts[0]
      },
      { description: 'an attempt recorded' },
    )
    expect(attempt).toMatchObject({ statusCode: null, error: 'network' })
    expect(consumer.received).toHaveLength(0)
    expect(t.logs.lines).toContainEqual(
      expect.objectContaining({
        msg: 'webhook target refused at connect: forbidden address',
        hostname: 'localhost',
      }),
    )
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
    const created = await t.app.inject({
      method: 'POST',
      url: '/v1/webhook-endpoints',
      headers: { authorization: `Bearer ${tenant.key}` },
      payload: { url: consumer.url },
    })
    expect(created.statusCode).toBe(201)
    const events = [productUpserted('SKU-E1'), productUpserted('SKU-E2')]
    expect((await ingest(t.app, { key: tenant.key, events })).statusCode).toBe(201)
    await waitFor(() => consumer.received.length >= 2, { description: 'two deliveries' })
    for (const delivery of consumer.received)
      expect(() => verify(created.json().secret, delivery)).not.toThrow()
    expect(consumer.events().map((event) => event.data.id)).toEqual(events.map((event) => event.id))
  })
})
