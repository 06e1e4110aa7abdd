import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest'
import type { ShopifyConfig } from '../../../../src/modules/connectors/config.js'
import type {
  InboxWebhook,
  ProviderHttp,
  ProviderState,
} from '../../../../src/modules/connectors/provider.js'
import { ProviderUnavailable, Unmappable } from '../../../../src/modules/connectors/provider.js'
import { SHOPIFY_TOPICS, shopifyProvider } from '../../../../src/modules/connectors/shopify/provider.js'
import { type FakeShopify, startFakeShopify } from '../../../fakes/shopify.js'
import { expectIngestible } from './ingestible.js'
import { providerStates, shopifyHttp, testOutbound } from './provider-http.js'

const freshState = providerStates()

const webhook = (
  topic: string,
  payload: unknown,
  receivedAt = Date.parse('2025-03-02T00:00:00Z'),
): InboxWebhook => ({
  providerEventId: `evt-${Math.random()}`,
  topic,
  payload: JSON.parse(JSON.stringify(payload)),
  receivedAt,
})

describe('Shopify webhooks mapped to canonical events', () => {
  let shop: FakeShopify
  let config: ShopifyConfig
  let http: ProviderHttp
  let state: ProviderState

  beforeAll(async () => {
    shop = await startFakeShopify({ currency: 'USD' })
    config = shop.config()
  })
  afterAll(() => shop.close())
  beforeEach(async () => {
    http = shopifyHttp(testOutbound(), config)
    state = await freshState()
    shop.clearFaults()
    shop.arrivals.length = 0
  })

  const run = async (topic: string, payload: unknown, receivedAt?: number) => {
    const { events } = await shopifyProvider.process(config, http, webhook(topic, payload, receivedAt), state)
    expectIngestible(events)
    return events
  }

  describe('orders', () => {
    it('orders/create: a new paid, unfulfilled order is created OPEN at its updated_at, lines by SKU', async () => {
      const order = shop.addOrder({
        total_price: '41.97',
        location_id: 7001,
        line_items: [
          { sku: 'TEE-S', quantity: 2, price: '19.99' },
          { sku: 'PIN', quantity: 1, price: '1.99' },
        ],
      })
      const events = await run('orders/create', order)
      const version = Date.parse(order.updated_at)
      expect(events).toEqual([
        {
          id: `shopify:order:${order.id}:${version}`,
          type: 'order.created',
          occurredAt: new Date(version).toISOString(),
          data: {
            orderId: String(order.id),
            storeId: 'shopify-7001',
            version,
            status: 'OPEN',
            currency: 'USD',
            lineItems: [
              { sku: 'TEE-S', quantity: 2, unitPrice: { amount: 1999, currency: 'USD' } },
              { sku: 'PIN', quantity: 1, unitPrice: { amount: 199, currency: 'USD' } },
            ],
            total: { amount: 4197, currency: 'USD' },
          },
        },
      ])
      expect(shop.arrivals).toHaveLength(0)
    })

    it('orders/updated: a later version, fulfilled and paid, is completed with a newer version and id', async () => {
      const created = shop.addOrder({
        total_price: '10.00',
        line_items: [{ sku: 'A', quantity: 1, price: '10.00' }],
      })
      const updated = shop.updateOrder(created.id, { fulfillment_status: 'fulfilled' })
      const [first] = await run('orders/create', created)
      const [second] = await run('orders/updated', updated)
      expect(second!.type).toBe('order.completed')
      expect(second!.data).toMatchObject({ status: 'COMPLETED', storeId: 'shopify-online' })
      const v1 = (first!.data as { version: number }).version
      const v2 = (second!.data as { version: number }).version
      expect(v2).toBeGreaterThan(v1)
      expect(second!.id).not.toBe(first!.id)
    })

    it('orders/updated: an open order changed is order.updated; the same version twice has the same id', async () => {
      const created = shop.addOrder({
        total_price: '5.00',
        line_items: [{ sku: 'A', quantity: 1, price: '5.00' }],
      })
      const updated = shop.updateOrder(created.id, { total_price: '4.00' })
      const [event] = await run('orders/updated', updated)
      expect(event!.type).toBe('order.updated')
      expect(event!.data).toMatchObject({ status: 'OPEN', total: { amount: 400, currency: 'USD' } })
      const [again] = await run('orders/updated', updated)
      expect(again).toEqual(event)
    })

    it('orders/cancelled: canceled, in the order currency with its own exponent (JPY, KWD)', async () => {
      const yen = shop.addOrder({
        currency: 'JPY',
        total_price: '1500',
        line_items: [{ sku: 'Y', quantity: 3, price: '500' }],
      })
      const [canceled] = await run('orders/cancelled', shop.cancelOrder(yen.id))
      expect(canceled!.type).toBe('order.canceled')
      expect(canceled!.data).toMatchObject({
        status: 'CANCELED',
        currency: 'JPY',
        total: { amount: 1500, currency: 'JPY' },
        lineItems: [{ sku: 'Y', quantity: 3, unitPrice: { amount: 500, currency: 'JPY' } }],
      })
      const dinar = shop.addOrder({
        currency: 'KWD',
        total_price: '12.345',
        line_items: [{ sku: 'K', quantity: 1, price: '12.345' }],
      })
      const [kwd] = await run('orders/create', dinar)
      expect(kwd!.data).toMatchObject({ total: { amount: 12345, currency: 'KWD' } })
    })

    it('an order with refunds also gives each refund', async () => {
      const order = shop.addOrder({
        total_price: '30.00',
        line_items: [{ sku: 'A', quantity: 3, price: '10.00' }],
      })
      const refund = shop.refundOrder(order.id, ['10.00'])
      const events = await run('orders/updated', shop.orders.get(order.id))
      expect(events.map((event) => event.type)).toEqual(['order.updated', 'refund.created'])
      expect(events[1]!.id).toBe(`shopify:refund:${refund.id}`)
    })

    it('a line without a SKU, or a price in more decimals than the currency has, is unmappable', async () => {
      const noSku = shop.addOrder({
        total_price: '1.00',
        line_items: [{ sku: '', quantity: 1, price: '1.00', title: 'Tip' }],
      })
      await expect(run('orders/create', noSku)).rejects.toThrow(/line 0 \("Tip", line item \d+\) has no SKU/)
      const rounded = shop.addOrder({
        total_price: '1.005',
        line_items: [{ sku: 'A', quantity: 1, price: '1.005' }],
      })
      await expect(run('orders/create', rounded)).rejects.toThrow(Unmappable)
      await expect(run('orders/create', { id: 1 })).rejects.toThrow(
        /orders\/create: \/created_at must have required property/,
      )
    })
  })

  describe('refunds/create', () => {
    it('sums the successful refund transactions of the refund', async () => {
      const order = shop.addOrder({
        total_price: '30.00',
        line_items: [{ sku: 'A', quantity: 3, price: '10.00' }],
      })
      const refund = shop.refundOrder(order.id, ['10.00', '2.50'])
      refund.transactions.push({ ...refund.transactions[0]!, status: 'failure', amount: '99.00' })
      const [event] = await run('refunds/create', refund)
      expect(event).toEqual({
        id: `shopify:refund:${refund.id}`,
        type: 'refund.created',
        occurredAt: new Date(refund.processed_at).toISOString(),
        data: {
          orderId: String(order.id),
          refundId: String(refund.id),
          amount: { amount: 1250, currency: 'USD' },
        },
      })
    })

    it('without transactions, sums the refunded lines and their tax in shop money', async () => {
      const order = shop.addOrder({
        total_price: '10.00',
        line_items: [{ sku: 'A', quantity: 1, price: '10.00' }],
      })
      const refund = { ...shop.refundOrder(order.id, []), transactions: [] }
      const set = (amount: string) => ({
        shop_money: { amount, currency_code: 'USD' },
        presentment_money: { amount, currency_code: 'USD' },
      })
      refund.refund_line_items = [
        {
          id: 1,
          quantity: 1,
          subtotal: 8.0,
          total_tax: 0.8,
          subtotal_set: set('8.00'),
          total_tax_set: set('0.80'),
        },
      ]
      const [event] = await run('refunds/create', refund)
      expect(event!.data).toMatchObject({ amount: { amount: 880, currency: 'USD' } })
      await expect(run('refunds/create', { ...refund, refund_line_items: [] })).rejects.toThrow(
        /no successful refund transaction and no refunded line/,
      )
    })
  })

  describe('products', () => {
    it('products/create and products/update: one product.upserted per variant SKU, in the shop currency', async () => {
      const product = shop.addProduct({
        title: 'Tee',
        variants: [
          { sku: 'TEE-S', price: '19.99', title: 'S', barcode: '4006381333931' },
          { sku: 'TEE-M', price: '21.00', title: 'M' },
        ],
      })
      const events = await run('products/create', product)
      expect(events.map((event) => [event.type, event.data])).toEqual([
        [
          'product.upserted',
          {
            sku: 'TEE-S',
            name: 'Tee - S',
            price: { amount: 1999, currency: 'USD' },
            barcode: '4006381333931',
          },
        ],
        ['product.upserted', { sku: 'TEE-M', name: 'Tee - M', price: { amount: 2100, currency: 'USD' } }],
      ])
      expect(shop.arrivals.map((arrival) => arrival.path)).toEqual([
        `/admin/api/${shop.apiVersion}/shop.json`,
      ])
      expect(shop.arrivals[0]!.accessToken).toBe(shop.accessToken)

      // A variant dropped in an update is deleted; the currency is not read again.
      const updated = shop.updateProduct(product.id, {
        title: 'Tee',
        variants: [{ sku: 'TEE-S', price: '18.00', title: 'S' }],
      })
      const next = await run('products/update', updated)
      expect(next.map((event) => [event.type, event.data])).toEqual([
        [
          'product.upserted',
          {
            sku: 'TEE-S',
            name: 'Tee - S',
            price: { amount: 1800, currency: 'USD' },
            barcode: '4006381333931',
          },
        ],
        ['product.deleted', { sku: 'TEE-M' }],
      ])
      expect(shop.arrivals).toHaveLength(1)

      // The older version arriving late changes nothing remembered: no SKU is deleted for it.
      const late = await run('products/update', product)
      expect(late.filter((event) => event.type === 'product.deleted')).toEqual([])
    })

    it('a product with the single default variant is named after the product', async () => {
      const product = shop.addProduct({ title: 'Mug', variants: [{ sku: 'MUG', price: '8.00' }] })
      const [event] = await run('products/update', product)
      expect(event!.data).toMatchObject({ sku: 'MUG', name: 'Mug' })
    })

    it('products/delete: every SKU the product was last seen with is deleted', async () => {
      const product = shop.addProduct({
        title: 'Cap',
        variants: [
          { sku: 'CAP-RED', price: '9.00', title: 'Red' },
          { sku: 'CAP-BLUE', price: '9.00', title: 'Blue' },
        ],
      })
      await run('products/create', product)
      const deletedAt = Date.parse('2025-03-05T10:00:00Z')
      const events = await run('products/delete', shop.deleteProduct(product.id), deletedAt)
      expect(events).toEqual([
        {
          id: `shopify:product:${product.id}:deleted:CAP-RED`,
          type: 'product.deleted',
          occurredAt: '2025-03-05T10:00:00.000Z',
          data: { sku: 'CAP-RED' },
        },
        {
          id: `shopify:product:${product.id}:deleted:CAP-BLUE`,
          type: 'product.deleted',
          occurredAt: '2025-03-05T10:00:00.000Z',
          data: { sku: 'CAP-BLUE' },
        },
      ])
    })

    it('keeps event ids within 255 characters for the longest SKUs, and distinct', async () => {
      const long = (c: string) => c.repeat(200)
      const product = shop.addProduct({
        title: 'Long',
        variants: [
          { sku: long('a'), price: '1.00', title: 'A' },
          { sku: long('b'), price: '1.00', title: 'B' },
        ],
      })
      await run('products/create', product)
      const updated = shop.updateProduct(product.id, {
        title: 'Long',
        variants: [{ sku: long('a'), price: '1.00', title: 'A' }],
      })
      const [, removed] = await run('products/update', updated)
      expect(removed).toMatchObject({ type: 'product.deleted', data: { sku: long('b') } })
      const deleted = await run('products/delete', shop.deleteProduct(product.id))
      expect(deleted.map((event) => event.data)).toEqual([{ sku: long('a') }])
      const ids = [removed!.id, deleted[0]!.id]
      expect(new Set(ids).size).toBe(2)
      for (const id of ids) expect(id.length).toBeLessThanOrEqual(255)
      await expect(
        run(
          'products/update',
          shop.addProduct({ title: 'Too long', variants: [{ sku: 'c'.repeat(201), price: '1.00' }] }),
        ),
      ).rejects.toThrow(/SKU longer than 200 characters/)
    })

    it('products/delete of a product never seen, or a variant without a SKU, is unmappable', async () => {
      await expect(run('products/delete', { id: 42 })).rejects.toThrow(
        'product 42 was deleted, but its SKUs were never seen',
      )
      const product = shop.addProduct({ title: 'Bag', variants: [{ sku: null, price: '3.00' }] })
      await expect(run('products/create', product)).rejects.toThrow(/variant \d+ has no SKU/)
    })
  })

  describe('inventory_levels/update', () => {
    it("counts `available` at the location's store, fetching the item's SKU once", async () => {
      const product = shop.addProduct({ title: 'Sock', variants: [{ sku: 'SOCK', price: '4.00' }] })
      const itemId = product.variants[0]!.inventory_item_id
      const level = shop.inventoryLevel(itemId, 7002, 12)
      const [event] = await run('inventory_levels/update', level)
      expect(event).toEqual({
        id: `shopify:inventory:${itemId}:7002:${Date.parse(level.updated_at)}`,
        type: 'inventory.counted',
        occurredAt: new Date(Date.parse(level.updated_at)).toISOString(),
        data: { storeId: 'shopify-7002', sku: 'SOCK', onHand: 12 },
      })
      await run('inventory_levels/update', shop.inventoryLevel(itemId, 7002, 11))
      expect(shop.arrivals.map((arrival) => arrival.path)).toEqual([
        `/admin/api/${shop.apiVersion}/inventory_items/${itemId}.json`,
      ])
    })

    it('knows the SKU of an item whose product it has seen, without asking', async () => {
      const product = shop.addProduct({ title: 'Scarf', variants: [{ sku: 'SCARF', price: '14.00' }] })
      await run('products/create', product)
      shop.arrivals.length = 0
      const [event] = await run(
        'inventory_levels/update',
        shop.inventoryLevel(product.variants[0]!.inventory_item_id, 7003, -2),
      )
      expect(event!.data).toEqual({ storeId: 'shopify-7003', sku: 'SCARF', onHand: -2 })
      expect(shop.arrivals).toHaveLength(0)
    })

    it('an unknown item (404), an item without SKU or an untracked level is unmappable', async () => {
      await expect(run('inventory_levels/update', shop.inventoryLevel(999, 7002, 1))).rejects.toThrow(
        `GET /admin/api/${shop.apiVersion}/inventory_items/999.json answered HTTP 404`,
      )
      const product = shop.addProduct({ title: 'Loose', variants: [{ sku: null, price: '1.00' }] })
      const itemId = product.variants[0]!.inventory_item_id
      await expect(run('inventory_levels/update', shop.inventoryLevel(itemId, 7002, 1))).rejects.toThrow(
        `inventory item ${itemId} has no SKU`,
      )
      await expect(run('inventory_levels/update', shop.inventoryLevel(itemId, 7002, null))).rejects.toThrow(
        /not tracked/,
      )
    })

    it('a wrong access token (401) is unmappable, not retried', async () => {
      const product = shop.addProduct({ title: 'Hat', variants: [{ sku: 'HAT', price: '4.00' }] })
      const badHttp = shopifyHttp(testOutbound(), { ...config, accessToken: 'wrong' })
      const level = shop.inventoryLevel(product.variants[0]!.inventory_item_id, 1, 1)
      await expect(
        shopifyProvider.process(config, badHttp, webhook('inventory_levels/update', level), state),
      ).rejects.toThrow(Unmappable)
      expect(shop.arrivals).toHaveLength(1)
    })

    it('Shopify failing (5xx burst, 429, dropped connection, hang) surfaces as ProviderUnavailable', async () => {
      const product = shop.addProduct({ title: 'Belt', variants: [{ sku: 'BELT', price: '4.00' }] })
      const level = shop.inventoryLevel(product.variants[0]!.inventory_item_id, 1, 1)
      // A fresh target each time: the retries of one scenario do not spend the next one's retry budget.
      const attempt = () =>
        shopifyProvider.process(
          config,
          shopifyHttp(testOutbound(), config),
          webhook('inventory_levels/update', level),
          state,
        )
      shop.inject({ kind: 'status', status: 503 }, 3)
      await expect(attempt()).rejects.toThrow(ProviderUnavailable)
      shop.inject({ kind: 'throttle', retryAfter: '60' })
      const throttled = await attempt().catch((error: unknown) => error)
      expect(throttled).toBeInstanceOf(ProviderUnavailable)
      expect((throttled as ProviderUnavailable).retryAt).toBeGreaterThan(Date.now() + 50_000)
      shop.inject({ kind: 'drop' }, 3)
      await expect(attempt()).rejects.toThrow(/failed after 3 attempt\(s\): network/)
      const hurried = shopifyHttp(testOutbound({ timeoutMs: 200, retryMaxAttempts: 1 }), config)
      shop.inject({ kind: 'hang' })
      await expect(
        shopifyProvider.process(config, hurried, webhook('inventory_levels/update', level), state),
      ).rejects.toThrow(/failed after 1 attempt\(s\): timeout/)
      // A burst shorter than the attempts is absorbed by the retries.
      shop.inject({ kind: 'status', status: 502 }, 2)
      const [event] = (await attempt()).events
      expect(event!.data).toMatchObject({ sku: 'BELT' })
    })
  })

  it('maps every topic it lists, and refuses any other as unmappable', async () => {
    for (const topic of SHOPIFY_TOPICS) {
      const refused = await run(topic, {}).catch((error: unknown) => error)
      expect(refused, topic).toBeInstanceOf(Unmappable)
      expect((refused as Unmappable).reason, topic).toMatch(
        new RegExp(`^${topic}: /\\w+ must have required property`),
      )
    }
    await expect(run('customers/create', { id: 1 })).rejects.toThrow(
      'unknown Shopify topic "customers/create"',
    )
  })
})
