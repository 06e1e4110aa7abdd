import { afterEach, describe, expect, it } from 'vitest'
import type { ShopifyConfig } from '../../../../src/modules/connectors/config.js'
import type {
  CanonicalEvent,
  ProviderHttp,
  ProviderState,
  ReconcilePage,
} from '../../../../src/modules/connectors/provider.js'
import { ProviderUnavailable, Unmappable } from '../../../../src/modules/connectors/provider.js'
import {
  callLimitPauseMs,
  createShopifyProvider,
  nextPageInfo,
  PAGE_LIMIT,
  shopifyProvider,
} from '../../../../src/modules/connectors/shopify/provider.js'
import { type FakeShopify, startFakeShopify } from '../../../fakes/shopify.js'
import { expectIngestible } from './ingestible.js'
import { providerStates, shopifyHttp, testOutbound } from './provider-http.js'

const freshState = providerStates()

const shops: FakeShopify[] = []
afterEach(async () => {
  for (const shop of shops.splice(0)) await shop.close()
})

async function shopWith(orders: number, products: number): Promise<FakeShopify> {
  const shop = await startFakeShopify()
  shops.push(shop)
  for (let i = 0; i < orders; i++) {
    shop.addOrder({ total_price: '2.50', line_items: [{ sku: `SKU-${i % 7}`, quantity: 1, price: '2.50' }] })
  }
  for (let i = 0; i < products; i++)
    shop.addProduct({ title: `Product ${i}`, variants: [{ sku: `P-${i}`, price: '1.00' }] })
  return shop
}

/** Runs a whole pass from `cursor`, page by page, as the reconciliation job does. */
async function pass(
  config: ShopifyConfig,
  http: ProviderHttp,
  since: number,
  state?: ProviderState,
  provider = shopifyProvider,
): Promise<{ pages: ReconcilePage[]; events: CanonicalEvent[]; objects: number }> {
  const pages: ReconcilePage[] = []
  const pageState = state ?? (await freshState())
  let cursor: string | null = null
  do {
    const page: ReconcilePage = await provider.reconcilePage(config, http, cursor, since, pageState)
    expectIngestible(page.events)
    pages.push(page)
    cursor = page.nextCursor
  } while (cursor !== null && pages.length < 100)
  return {
    pages,
    events: pages.flatMap((page) => page.events),
    objects: pages.reduce((n, p) => n + p.objects, 0),
  }
}

describe('Shopify reconciliation', () => {
  it('pages orders, then products, following the Link header, and finds every object once', async () => {
    const shop = await shopWith(2 * PAGE_LIMIT + 20, PAGE_LIMIT + 5)
    const http = shopifyHttp(testOutbound(), shop.config())
    const { pages, events, objects } = await pass(shop.config(), http, 0)

    expect(pages.map((page) => page.objects)).toEqual([250, 250, 20, 250, 5])
    expect(objects).toBe(shop.orders.size + shop.products.size)
    const orderIds = events.filter((event) => event.type.startsWith('order.')).map((event) => event.id)
    expect(new Set(orderIds).size).toBe(shop.orders.size)
    expect(orderIds.sort()).toEqual(
      [...shop.orders.values()]
        .map((order) => `shopify:order:${order.id}:${Date.parse(order.updated_at)}`)
        .sort(),
    )
    const skus = events
      .filter((event) => event.type === 'product.upserted')
      .map((event) => (event.data as { sku: string }).sku)
    expect(new Set(skus).size).toBe(shop.products.size)

    const paths = shop.arrivals.map((arrival) => new URL(arrival.path, shop.url))
    const lists = paths.filter((url) => /\/(orders|products)\.json$/.test(url.pathname))
    expect(lists.map((url) => url.pathname.split('/').at(-1))).toEqual([
      'orders.json',
      'orders.json',
      'orders.json',
      'products.json',
      'products.json',
    ])
    // The first request of a resource carries the filters; the following ones only page_info and limit.
    expect(Object.fromEntries(lists[0]!.searchParams)).toEqual({ limit: '250', status: 'any' })
    expect([...lists[1]!.searchParams.keys()].sort()).toEqual(['limit', 'page_info'])
    expect(Object.fromEntries(lists[3]!.searchParams)).toEqual({ limit: '250' })
    expect(shop.arrivals.every((arrival) => arrival.accessToken === shop.accessToken)).toBe(true)
  })

  it('lists only what changed since the last pass, canceled and closed orders included', async () => {
    const shop = await shopWith(3, 2)
    const since = shop.now() + 1000
    const [first] = shop.orders.keys()
    shop.cancelOrder(first!)
    const fresh = shop.addOrder({
      total_price: '1.00',
      line_items: [{ sku: 'NEW', quantity: 1, price: '1.00' }],
    })
    shop.updateOrder(fresh.id, { closed_at: '2025-03-01T05:00:00-05:00', fulfillment_status: 'fulfilled' })
    const http = shopifyHttp(testOutbound(), shop.config())
    const { events, objects } = await pass(shop.config(), http, since)
    expect(objects).toBe(2)
    expect(events.map((event) => [event.type, (event.data as { orderId: string }).orderId])).toEqual([
      ['order.canceled', String(first)],
      ['order.completed', String(fresh.id)],
    ])
    const firstList = new URL(shop.arrivals[0]!.path, shop.url)
    expect(firstList.searchParams.get('updated_at_min')).toBe(new Date(since).toISOString())
  })

  it('finds refunds inside the orders, with the ids their webhooks give', async () => {
    const shop = await shopWith(1, 0)
    const [orderId] = shop.orders.keys()
    const refund = shop.refundOrder(orderId!, ['1.00'])
    const { events } = await pass(shop.config(), shopifyHttp(testOutbound(), shop.config()), 0)
    expect(events.filter((event) => event.type === 'refund.created')).toEqual([
      {
        id: `shopify:refund:${refund.id}`,
        type: 'refund.created',
        occurredAt: new Date(refund.processed_at).toISOString(),
        data: {
          orderId: String(orderId),
          refundId: String(refund.id),
          amount: { amount: 100, currency: 'USD' },
        },
      },
    ])
  })

  it('gives the very events the webhooks gave for the same versions, so nothing is counted twice', async () => {
    const shop = await shopWith(2, 2)
    const config = shop.config()
    const state = await freshState()
    const http = shopifyHttp(testOutbound(), config)
    const fromWebhooks: CanonicalEvent[] = []
    for (const order of shop.orders.values()) {
      const webhook = {
        providerEventId: 'e',
        topic: 'orders/updated',
        payload: structuredClone(order),
        receivedAt: 0,
      }
      fromWebhooks.push(...(await shopifyProvider.process(config, http, webhook, state)).events)
    }
    for (const product of shop.products.values()) {
      const webhook = {
        providerEventId: 'e',
        topic: 'products/update',
        payload: structuredClone(product),
        receivedAt: 0,
      }
      fromWebhooks.push(...(await shopifyProvider.process(config, http, webhook, state)).events)
    }
    const { events } = await pass(config, http, 0, await freshState())
    expect(events).toEqual(fromWebhooks)
  })

  it('resumes from a stored cursor with another client, as after a crash', async () => {
    const shop = await shopWith(PAGE_LIMIT + 10, 0)
    const first = await shopifyProvider.reconcilePage(
      shop.config(),
      shopifyHttp(testOutbound(), shop.config()),
      null,
      0,
      await freshState(),
    )
    const stored = JSON.parse(JSON.stringify(first.nextCursor)) as string
    const second = await shopifyProvider.reconcilePage(
      shop.config(),
      shopifyHttp(testOutbound(), shop.config()),
      stored,
      0,
      await freshState(),
    )
    expect([first.objects, second.objects]).toEqual([250, 10])
    const ids = [...first.events, ...second.events].map((event) => event.id)
    expect(new Set(ids).size).toBe(shop.orders.size)
  })

  it('names an order it cannot map, with the reason, and maps the rest of the page', async () => {
    const shop = await shopWith(2, 0)
    const bad = shop.addOrder({
      total_price: '1.00',
      line_items: [{ sku: null, quantity: 1, price: '1.00' }],
    })
    const page = await shopifyProvider.reconcilePage(
      shop.config(),
      shopifyHttp(testOutbound(), shop.config()),
      null,
      0,
      await freshState(),
    )
    expect(page.objects).toBe(3)
    expect(page.events).toHaveLength(2)
    expect(page.unmappable).toEqual([{ objectId: `order:${bad.id}`, reason: expect.stringContaining('SKU') }])
  })

  it('remembers the SKUs of the products it lists, for a products/delete later', async () => {
    const shop = await shopWith(0, 1)
    const state = await freshState()
    await pass(shop.config(), shopifyHttp(testOutbound(), shop.config()), 0, state)
    const [productId] = shop.products.keys()
    const { events } = await shopifyProvider.process(
      shop.config(),
      shopifyHttp(testOutbound(), shop.config()),
      {
        providerEventId: 'e',
        topic: 'products/delete',
        payload: shop.deleteProduct(productId!),
        receivedAt: Date.now(),
      },
      state,
    )
    expect(events.map((event) => event.data)).toEqual([{ sku: 'P-0' }])
  })

  describe('rate limits and faults', () => {
    it('waits when the call-limit bucket is nearly full, until it is back to 80 %', async () => {
      const shop = await shopWith(PAGE_LIMIT + 1, 0)
      const pauses: number[] = []
      const provider = createShopifyProvider({ pause: async (ms) => void pauses.push(ms) })
      const http = shopifyHttp(testOutbound(), shop.config())
      const state = await freshState()
      const first = await provider.reconcilePage(shop.config(), http, null, 0, state)
      expect(pauses).toEqual([])
      shop.fillBucket(38)
      await provider.reconcilePage(shop.config(), http, first.nextCursor, 0, state)
      // 39/40 asks for 3.5 s at 2 calls a second (38/40, if the bucket drained meanwhile, for 3 s).
      const [used] = shop.lastCallLimit!.split('/')
      expect(Number(used)).toBeGreaterThan(32)
      expect(pauses).toEqual([callLimitPauseMs(shop.lastCallLimit!)])
      expect(pauses[0]).toBeGreaterThan(0)
    })

    it('reads the call-limit header', () => {
      expect(callLimitPauseMs('39/40')).toBe(3500)
      expect(callLimitPauseMs('40/40')).toBe(4000)
      expect(callLimitPauseMs('32/40')).toBe(0)
      expect(callLimitPauseMs('1/40')).toBe(0)
      expect(callLimitPauseMs('400/400')).toBe(4000)
      expect(callLimitPauseMs(null)).toBe(0)
      expect(callLimitPauseMs('lots')).toBe(0)
      expect(callLimitPauseMs('5/0')).toBe(0)
    })

    it('a full bucket (429) surfaces as ProviderUnavailable, and the same cursor works once it drained', async () => {
      const shop = await shopWith(3, 0)
      // Over-full: it takes seconds to drain to room for one call, longer than every attempt of the call.
      shop.fillBucket(46)
      const call = async () =>
        shopifyProvider.reconcilePage(
          shop.config(),
          shopifyHttp(testOutbound(), shop.config()),
          null,
          0,
          await freshState(),
        )
      await expect(call()).rejects.toThrow(ProviderUnavailable)
      expect(shop.arrivals.length).toBeGreaterThanOrEqual(1)
      shop.fillBucket(0)
      expect((await call()).objects).toBe(3)
    })

    it('a burst of 5xx, a dropped connection or a hang surfaces as ProviderUnavailable; the page is read again later', async () => {
      const shop = await shopWith(PAGE_LIMIT + 3, 0)
      const config = shop.config()
      const first = await shopifyProvider.reconcilePage(
        config,
        shopifyHttp(testOutbound(), config),
        null,
        0,
        await freshState(),
      )
      const again = async (http = shopifyHttp(testOutbound(), config)) =>
        shopifyProvider.reconcilePage(config, http, first.nextCursor, 0, await freshState())

      shop.inject({ kind: 'status', status: 500 }, 3)
      await expect(again()).rejects.toThrow(ProviderUnavailable)
      shop.inject({ kind: 'drop' }, 3)
      await expect(again()).rejects.toThrow(ProviderUnavailable)
      shop.inject({ kind: 'hang' })
      await expect(
        again(shopifyHttp(testOutbound({ timeoutMs: 200, retryMaxAttempts: 1 }), config)),
      ).rejects.toThrow(/timeout/)
      shop.inject({ kind: 'throttle', retryAfter: '30' })
      const throttled = await again().catch((error: unknown) => error)
      expect((throttled as ProviderUnavailable).retryAt).toBeGreaterThan(Date.now() + 20_000)
      shop.inject({ kind: 'slow', delayMs: 300 })
      const page = await again()
      expect(page.objects).toBe(3)
      expect(page.nextCursor).toBe(JSON.stringify({ resource: 'products' }))
    })

    it('a refusal (401, a wrong API version) ends the page with the refusal named, not a retry', async () => {
      const shop = await shopWith(1, 0)
      const wrongToken = { ...shop.config(), accessToken: 'revoked' }
      const refused = await shopifyProvider
        .reconcilePage(wrongToken, shopifyHttp(testOutbound(), wrongToken), null, 0, await freshState())
        .catch((error: unknown) => error)
      // The outbound layer's ProviderHttp refuses any 4xx but 429 as Unmappable: no retry fixes it, and the
      // reconciliation stops with it as its lastError.
      expect(refused).toBeInstanceOf(Unmappable)
      expect(refused).not.toBeInstanceOf(ProviderUnavailable)
      expect((refused as Unmappable).reason).toBe('GET /admin/api/2025-01/orders.json answered HTTP 401')
      const oldVersion = { ...shop.config(), apiVersion: '2019-04' }
      await expect(
        shopifyProvider.reconcilePage(
          oldVersion,
          shopifyHttp(testOutbound(), oldVersion),
          null,
          0,
          await freshState(),
        ),
      ).rejects.toThrow(/answered HTTP 404/)
    })

    it('refuses a cursor it did not make', async () => {
      const shop = await shopWith(0, 0)
      for (const cursor of [
        'garbage',
        'null',
        '{"resource":"customers"}',
        '{"resource":"orders","pageInfo":3}',
      ]) {
        await expect(
          shopifyProvider.reconcilePage(
            shop.config(),
            shopifyHttp(testOutbound(), shop.config()),
            cursor,
            0,
            await freshState(),
          ),
        ).rejects.toThrow('not a Shopify reconciliation cursor')
      }
    })
  })
})

describe('the Link header', () => {
  it('gives the page_info of rel="next", wherever it stands', () => {
    const next =
      '<https://shop.myshopify.com/admin/api/2025-01/orders.json?limit=250&page_info=abc123>; rel="next"'
    const previous =
      '<https://shop.myshopify.com/admin/api/2025-01/orders.json?limit=250&page_info=zzz>; rel="previous"'
    expect(nextPageInfo(next)).toBe('abc123')
    expect(nextPageInfo(`${previous}, ${next}`)).toBe('abc123')
    expect(nextPageInfo(previous)).toBeUndefined()
    expect(nextPageInfo(null)).toBeUndefined()
    expect(nextPageInfo('<not a url>; rel="next"')).toBeUndefined()
    expect(nextPageInfo('<https://s.myshopify.com/x.json?page_info=n>; rel=next')).toBe('n')
    expect(nextPageInfo('<https://s.myshopify.com/x.json?page_info=n>; rel="nextish"')).toBeUndefined()
  })
})
