import { randomUUID } from 'node:crypto'
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest'
import type { Database } from '../src/platform/database.js'
import type { TestApp } from './helpers/app.js'
import { ingest, nextTime, orderEvent, productUpserted, type TestEvent } from './helpers/ingest.js'
import { get, getPage, type SeededTenant, startReadApp } from './helpers/read-seed.js'
import { createTenant, type TenantFixture } from './helpers/tenants.js'

describe('reading what the ingest pipeline stored', () => {
  let t: TestApp
  let writer: TenantFixture
  let other: SeededTenant
  const batch: TestEvent[] = [
    productUpserted('SKU-E2E', 450, { barcode: '4006381333931' }),
    {
      id: randomUUID(),
      type: 'inventory.counted',
      occurredAt: nextTime(),
      data: { storeId: 'store-1', sku: 'SKU-E2E', onHand: 7.25 },
    },
    orderEvent('order.completed', 'E2E-1', {
      version: 2,
      total: 675,
      lineItems: [{ sku: 'SKU-E2E', quantity: 1.5, unitPrice: { amount: 450, currency: 'EUR' } }],
    }),
    {
      id: randomUUID(),
      type: 'refund.created',
      occurredAt: nextTime(),
      data: { orderId: 'E2E-1', refundId: 'RF-1', amount: { amount: 225, currency: 'EUR' } },
    },
  ]

  beforeAll(async () => {
    let db: Database
    ;({ t, db, a: other } = await startReadApp())
    writer = await createTenant(db, { name: 'Writer' })
    const res = await ingest(t.app, { key: writer.key, events: batch })
    expect(res.statusCode, res.body).toBe(201)
  })
  afterAll(() => t.close())

  it('serves the product, the stock level and the order with its refund', async () => {
    expect((await get(t, writer.key, '/v1/products/SKU-E2E')).json()).toMatchObject({
      sku: 'SKU-E2E',
      price: { amount: 450, currency: 'EUR' },
      barcode: '4006381333931',
      deleted: false,
    })
    expect((await getPage(t, writer.key, '/v1/inventory')).data).toEqual([
      expect.objectContaining({ storeId: 'store-1', sku: 'SKU-E2E', onHand: 7.25 }),
    ])
    expect((await get(t, writer.key, '/v1/orders/E2E-1')).json()).toMatchObject({
      orderId: 'E2E-1',
      storeId: 'store-1',
      status: 'COMPLETED',
      version: 2,
      total: { amount: 675, currency: 'EUR' },
      lineItems: [{ sku: 'SKU-E2E', quantity: 1.5, unitPrice: { amount: 450, currency: 'EUR' } }],
      refunds: [{ refundId: 'RF-1', amount: { amount: 225, currency: 'EUR' } }],
      refundedTotal: { amount: 225, currency: 'EUR' },
    })
    expect((await getPage(t, writer.key, '/v1/orders?status=COMPLETED')).data).toHaveLength(1)
  })

  it('serves the batch on the change feed, in the order it was sent, with the data as sent', async () => {
    const page = await vi.waitFor(
      async () => {
        const read = await getPage(t, writer.key, '/v1/events')
        expect(read.data).toHaveLength(batch.length)
        return read
      },
      { timeout: 10_000, interval: 10 },
    )
    expect(page.data).toEqual(
      batch.map((event) => ({
        id: event.id,
        source: writer.sourceName,
        type: event.type,
        occurredAt: event.occurredAt,
        receivedAt: expect.any(String),
        data: event.data,
      })),
    )
  })

  it('shows none of it to another tenant', async () => {
    expect((await get(t, other.key, '/v1/products/SKU-E2E')).statusCode).toBe(404)
    expect((await get(t, other.key, '/v1/orders/E2E-1')).statusCode).toBe(404)
    for (const url of ['/v1/products', '/v1/inventory', '/v1/orders', '/v1/events']) {
      expect((await getPage(t, other.key, url)).data, url).toEqual([])
    }
  })
})
