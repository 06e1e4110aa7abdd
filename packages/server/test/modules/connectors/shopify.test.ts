// The Shopify connector end to end, against a fake Shopify (a real HTTP server) and the real PostgreSQL and
// Redis: a source configured through the admin API, webhooks signed Shopify's way into the inbox, processed
// by the worker through the outbound layer into the store and the read API, redeliveries and disorder,
// reconciliation and drift, and the breaker.
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { registry } from '../../../src/platform/metrics.js'
import { type FakeShopify, shopifySignature, startFakeShopify } from '../../fakes/shopify.js'
import { adminApi } from '../../helpers/admin-api.js'
import { startTestApp, type TestApp } from '../../helpers/app.js'
import { waitFor } from '../../helpers/wait.js'
import { CONNECTOR_TEST_ENV, connectorApi, transitionsToOpen } from './connector-api.js'

/** Per source and minute; above RATE_LIMIT_ANONYMOUS_MAX (300), the per-IP limit of anonymous requests. */
const WEBHOOK_LIMIT = 400

let t: TestApp
let shop: FakeShopify
const { admin, createTenant, createKey, expectProblem } = adminApi(() => t)
const { inboxRows, eventsOf, reconcileAndWait } = connectorApi(() => t)

beforeAll(async () => {
  shop = await startFakeShopify({ currency: 'EUR' })
  t = await startTestApp({
    redis: true,
    env: {
      ...CONNECTOR_TEST_ENV,
      CONNECTOR_WEBHOOK_RATE_LIMIT_MAX: String(WEBHOOK_LIMIT),
    },
  })
}, 60_000)

afterAll(async () => {
  await t?.close()
  await shop?.close()
})

interface Connected {
  readonly tenantId: string
  readonly sourceId: string
  readonly readKey: string
}

async function connectShopify(name: string): Promise<Connected> {
  const tenantId = await createTenant(`tenant-${name}`)
  const res = await admin('POST', `/v1/admin/tenants/${tenantId}/sources`, {
    name,
    kind: 'shopify',
    connector: shop.config(),
  })
  expect(res.statusCode).toBe(201)
  const { key } = await createKey(tenantId, { name: 'reader', scopes: ['read'] })
  return { tenantId, sourceId: res.json().id, readKey: key }
}

function deliver(
  sourceId: string,
  topic: string,
  payload: unknown,
  options: Parameters<FakeShopify['webhook']>[2] = {},
  dropHeader?: string,
) {
  const { body, headers } = shop.webhook(topic, payload, options)
  if (dropHeader !== undefined) delete headers[dropHeader]
  return t.app.inject({ method: 'POST', url: `/v1/webhooks/shopify/${sourceId}`, headers, payload: body })
}

const allDone = (sourceId: string, description: string, timeoutMs?: number) =>
  waitFor(async () => (await inboxRows(sourceId)).every((row) => row.status === 'done'), {
    description,
    ...(timeoutMs === undefined ? {} : { timeoutMs }),
  })

async function read(c: Connected, url: string) {
  return t.app.inject({ method: 'GET', url, headers: { authorization: `Bearer ${c.readKey}` } })
}

describe('configuring a Shopify source', () => {
  it('never returns a secret and fills in the API version', async () => {
    const c = await connectShopify('config')
    const listed = await admin('GET', `/v1/admin/tenants/${c.tenantId}/sources`)
    expect(listed.body).not.toContain(shop.webhookSecret)
    expect(listed.body).not.toContain(shop.accessToken)
    expect(listed.json().data[0].connector).toEqual({
      settings: { shopDomain: shop.shopDomain, apiVersion: shop.apiVersion, baseUrl: shop.url },
      secretsSet: ['accessToken', 'webhookSecret'],
    })
  })
})

describe('inbound Shopify webhooks', () => {
  it('refuses a wrong secret, another shop and an unknown source alike with 401, storing nothing', async () => {
    const c = await connectShopify('refusals')
    const order = shop.addOrder({
      total_price: '1.00',
      line_items: [{ sku: 'R-1', quantity: 1, price: '1.00' }],
    })
    const wrong = await deliver(c.sourceId, 'orders/create', order, { secret: 'not-the-secret' })
    const unknown = await deliver('6f1c2a52-0000-4000-8000-000000000000', 'orders/create', order)
    const { body, headers } = shop.webhook('orders/create', order)
    const otherShop = await t.app.inject({
      method: 'POST',
      url: `/v1/webhooks/shopify/${c.sourceId}`,
      headers: { ...headers, 'x-shopify-shop-domain': 'another-shop.myshopify.com' },
      payload: body,
    })
    for (const res of [wrong, unknown, otherShop]) expectProblem(res, 401, 'unauthorized')
    expect(await inboxRows(c.sourceId)).toEqual([])
  })

  it('refuses a signed webhook jsonb cannot store (\\u0000, 10,000 levels of nesting) with a 422 problem, storing nothing', async () => {
    const c = await connectShopify('unstorable')
    const nul = await deliver(c.sourceId, 'orders/create', { id: 1, note: 'a\u0000b' })
    expectProblem(nul, 422, 'unstorable-data')
    // Written by hand: JSON.stringify itself runs out of stack on it.
    const body = `${'{"a":'.repeat(10_000)}1${'}'.repeat(10_000)}`
    const { headers } = shop.webhook('orders/create', {})
    const deep = await t.app.inject({
      method: 'POST',
      url: `/v1/webhooks/shopify/${c.sourceId}`,
      headers: { ...headers, 'x-shopify-hmac-sha256': shopifySignature(shop.webhookSecret, body) },
      payload: body,
    })
    expectProblem(deep, 422, 'unstorable-data')
    expect(await inboxRows(c.sourceId)).toEqual([])
  })

  it('stores a webhook redelivered five times once (X-Shopify-Event-Id, else X-Shopify-Webhook-Id)', async () => {
    const c = await connectShopify('redelivery')
    const order = shop.addOrder({
      total_price: '39.98',
      location_id: 7001,
      line_items: [{ sku: 'TEE-S', quantity: 2, price: '19.99' }],
    })
    const answers = []
    for (let i = 0; i < 5; i++)
      // Each redelivery has a webhook id of its own; the event id is the same.
      answers.push(await deliver(c.sourceId, 'orders/create', order, { eventId: 'evt-redelivered' }))
    expect(answers.map((res) => res.statusCode)).toEqual([200, 200, 200, 200, 200])
    expect(answers.map((res) => res.json().duplicate)).toEqual([false, true, true, true, true])

    // Without an event id, the webhook id is the dedup key.
    const product = shop.addProduct({ title: 'Mug', variants: [{ sku: 'MUG-1', price: '8.50' }] })
    const first = await deliver(
      c.sourceId,
      'products/create',
      product,
      { webhookId: 'wh-1' },
      'x-shopify-event-id',
    )
    const again = await deliver(
      c.sourceId,
      'products/create',
      product,
      { webhookId: 'wh-1' },
      'x-shopify-event-id',
    )
    expect([first.json().duplicate, again.json().duplicate]).toEqual([false, true])

    await allDone(c.sourceId, 'the webhooks to be processed')
    expect((await inboxRows(c.sourceId)).map((row) => row.provider_event_id)).toEqual([
      'evt-redelivered',
      'wh-1',
    ])
    const version = Date.parse(order.updated_at)
    expect((await eventsOf(c.sourceId)).filter((id) => id.startsWith('shopify:order:'))).toEqual([
      `shopify:order:${order.id}:${version}`,
    ])
    const stored = await read(c, `/v1/orders/${order.id}`)
    expect(stored.json()).toMatchObject({
      version,
      status: 'OPEN',
      storeId: 'shopify-7001',
      total: { amount: 3998, currency: 'EUR' },
      lineItems: [{ sku: 'TEE-S', quantity: 2, unitPrice: { amount: 1999, currency: 'EUR' } }],
    })
    expect((await read(c, '/v1/products/MUG-1')).json()).toMatchObject({
      sku: 'MUG-1',
      price: { amount: 850, currency: 'EUR' },
    })
  })

  it('ends an order updated three times at the newest version when the webhooks arrive in reverse', async () => {
    const c = await connectShopify('reverse')
    const created = shop.addOrder({
      total_price: '5.00',
      line_items: [{ sku: 'REV-1', quantity: 1, price: '5.00' }],
    })
    const versions = [
      shop.updateOrder(created.id, { total_price: '10.00' }),
      shop.updateOrder(created.id, { total_price: '15.00' }),
      shop.updateOrder(created.id, { total_price: '20.00', fulfillment_status: 'fulfilled' }),
    ]
    for (const version of [...versions].reverse())
      expect((await deliver(c.sourceId, 'orders/updated', version)).statusCode).toBe(200)
    await allDone(c.sourceId, 'the three webhooks to be processed')
    expect(await inboxRows(c.sourceId)).toHaveLength(3)
    expect((await read(c, `/v1/orders/${created.id}`)).json()).toMatchObject({
      version: Date.parse(versions[2]!.updated_at),
      status: 'COMPLETED',
      total: { amount: 2000, currency: 'EUR' },
    })
  })

  it('maps inventory_levels/update with the SKU of its inventory item, fetched once', async () => {
    const c = await connectShopify('inventory')
    const product = shop.addProduct({ title: 'Flour', variants: [{ sku: 'FLOUR-SHOP', price: '2.00' }] })
    const itemId = product.variants[0]!.inventory_item_id
    shop.arrivals.length = 0
    // One after the other: the second finds the SKU the first fetched.
    for (const available of [12, 9]) {
      const level = shop.inventoryLevel(itemId, 8001, available)
      expect((await deliver(c.sourceId, 'inventory_levels/update', level)).statusCode).toBe(200)
      await allDone(c.sourceId, 'the inventory webhook to be processed')
    }
    expect(shop.arrivals.filter((a) => a.path.includes(`/inventory_items/${itemId}.json`))).toHaveLength(1)
    const res = await read(c, '/v1/inventory?sku=FLOUR-SHOP')
    expect(res.json().data).toMatchObject([{ storeId: 'shopify-8001', sku: 'FLOUR-SHOP', onHand: 9 }])
  })
})

describe('reconciliation', () => {
  it('finds an order whose webhook was lost and counts it as drift; a second pass finds nothing new', async () => {
    const c = await connectShopify('drift')
    const delivered = shop.addOrder({
      total_price: '3.00',
      line_items: [{ sku: 'BUN-S', quantity: 1, price: '3.00' }],
    })
    expect((await deliver(c.sourceId, 'orders/create', delivered)).statusCode).toBe(200)
    await allDone(c.sourceId, 'the delivered webhook to be processed')
    const lost = shop.addOrder({
      total_price: '12.00',
      line_items: [{ sku: 'BUN-S', quantity: 4, price: '3.00' }],
    })

    const run = await reconcileAndWait(c)
    expect(run.objects).toBeGreaterThanOrEqual(2)
    expect(run.drift).toBeGreaterThanOrEqual(1)
    expect(run.driftRatio).toBeCloseTo(run.drift / run.objects)
    expect((await read(c, `/v1/orders/${lost.id}`)).json()).toMatchObject({
      version: Date.parse(lost.updated_at),
      total: { amount: 1200, currency: 'EUR' },
    })
    const ids = await eventsOf(c.sourceId)
    const deliveredId = `shopify:order:${delivered.id}:${Date.parse(delivered.updated_at)}`
    expect(ids.filter((id) => id === deliveredId)).toHaveLength(1)
    expect(await registry.getSingleMetricAsString('reconciliation_drift_ratio')).toMatch(
      /reconciliation_drift_ratio\{provider="shopify"\} 0\.\d+/,
    )

    const second = await reconcileAndWait(c)
    expect(second.drift).toBe(0)
    expect(second.objects).toBeGreaterThanOrEqual(0)
  })
})

describe('a failing Shopify API', () => {
  it('opens the breaker; the inbox waits, spends no attempt while it is open, then processes everything', async () => {
    const c = await connectShopify('breaker')
    const opensBefore = await transitionsToOpen('shopify')
    const items = [1, 2, 3].map(
      (n) =>
        shop.addProduct({ title: `Jam ${n}`, variants: [{ sku: `JAM-S-${n}`, price: '4.20' }] }).variants[0]!
          .inventory_item_id,
    )
    const postponedBefore = await postponed()
    // Six failed answers: enough to open the breaker and fail a probe.
    shop.inject({ kind: 'status', status: 503 }, 3, '/inventory_items/')
    shop.inject({ kind: 'drop' }, 1, '/inventory_items/')
    shop.inject({ kind: 'status', status: 502 }, 2, '/inventory_items/')
    for (const item of items)
      expect(
        (await deliver(c.sourceId, 'inventory_levels/update', shop.inventoryLevel(item, 8001, 5))).statusCode,
      ).toBe(200)
    await waitFor(async () => (await transitionsToOpen('shopify')) > opensBefore, {
      description: 'the shopify breaker to open',
    })
    await allDone(c.sourceId, 'every webhook to be processed once Shopify recovers', 40_000)
    const rows = await inboxRows(c.sourceId)
    expect(rows).toHaveLength(3)
    // Each row counts its success and the failed answers it met; rounds the open breaker refused (postponed)
    // count nothing, so no more attempts than failed answers plus successes, and no dead letter.
    expect(rows.every((row) => row.status === 'done')).toBe(true)
    expect(rows.reduce((sum, row) => sum + row.attempts, 0)).toBeLessThanOrEqual(6 + rows.length)
    expect(await postponed()).toBeGreaterThan(postponedBefore)
    for (const [n] of items.entries())
      expect((await read(c, `/v1/inventory?sku=JAM-S-${n + 1}`)).json().data).toMatchObject([{ onHand: 5 }])
  }, 60_000)
})

describe('rate limits of inbound webhooks', () => {
  const burst = (sourceId: string, n: number, remoteAddress: string, secret?: string) => {
    const order = shop.addOrder({
      total_price: '1.00',
      line_items: [{ sku: 'B-1', quantity: 1, price: '1.00' }],
    })
    // Redeliveries of one event: each is counted, only the first is stored.
    const { body, headers } = shop.webhook('orders/create', order, {
      eventId: `burst-${sourceId}`,
      ...(secret === undefined ? {} : { secret }),
    })
    return Promise.all(
      Array.from({ length: n }, () =>
        t.app.inject({
          method: 'POST',
          url: `/v1/webhooks/shopify/${sourceId}`,
          headers,
          payload: body,
          remoteAddress,
        }),
      ),
    )
  }

  it('counts per source, not per IP: a burst above 300 a minute from one address is accepted', async () => {
    const c = await connectShopify('burst')
    const other = await connectShopify('burst-other')
    const answers = await burst(c.sourceId, 350, '203.0.113.10')
    expect(answers.filter((res) => res.statusCode === 200)).toHaveLength(350)
    expect(answers[0]!.headers['x-ratelimit-limit']).toBe(String(WEBHOOK_LIMIT))

    // Above the source's limit: 429 problem+json with Retry-After; another source is not affected.
    const over = await burst(c.sourceId, WEBHOOK_LIMIT - 350 + 5, '203.0.113.10')
    const refused = over.filter((res) => res.statusCode === 429)
    expect(refused).toHaveLength(5)
    expectProblem(refused[0]!, 429, 'rate-limited')
    expect(Number(refused[0]!.headers['retry-after'])).toBeGreaterThanOrEqual(1)
    expect((await burst(other.sourceId, 1, '203.0.113.10'))[0]!.statusCode).toBe(200)
  })

  it('refuses a flood of unsigned webhooks from one address cheaply once it spent the anonymous limit', async () => {
    const c = await connectShopify('garbage')
    const answers = await burst(c.sourceId, 300, '203.0.113.20', 'not-the-secret')
    expect(answers.every((res) => res.statusCode === 401)).toBe(true)
    const [next] = await burst(c.sourceId, 1, '203.0.113.20', 'not-the-secret')
    expectProblem(next!, 429, 'rate-limited')
    // Refused before its signature is checked: even a good one from that address waits.
    expect((await burst(c.sourceId, 1, '203.0.113.20'))[0]!.statusCode).toBe(429)
    // Another address is not affected.
    expect((await burst(c.sourceId, 1, '203.0.113.21'))[0]!.statusCode).toBe(200)
    expect(await inboxRows(c.sourceId)).toHaveLength(1)
  })
})

async function postponed(): Promise<number> {
  const text = await registry.getSingleMetricAsString('connector_webhooks_processed_total')
  const match =
    /connector_webhooks_processed_total\{[^}]*provider="shopify"[^}]*outcome="postponed"[^}]*\} (\d+)/.exec(
      text,
    )
  return Number(match?.[1] ?? 0)
}
