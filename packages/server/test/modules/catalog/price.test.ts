// A price is never negative, whichever way a product arrives: one Price schema serves ingest's
// product.upserted and the product write routes. Signed amounts stay allowed where an order needs them.
import { eq } from 'drizzle-orm'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { events, products } from '../../../src/db/schema.js'
import { startTestApp, type TestApp } from '../../helpers/app.js'
import { ingest, orderEvent, productUpserted } from '../../helpers/ingest.js'
import { createTenant, type TenantFixture } from '../../helpers/tenants.js'

describe('product prices', () => {
  let t: TestApp
  let a: TenantFixture
  beforeAll(async () => {
    t = await startTestApp()
    a = await createTenant(t.platform.database.db)
  })
  afterAll(() => t.close())

  const db = () => t.platform.database.db
  const storedEvents = async () =>
    (await db().select({ id: events.eventId }).from(events).where(eq(events.tenantId, a.tenantId))).length

  it('refuses a negative price on ingest with 422 validation-failed, storing nothing of the batch', async () => {
    const before = await storedEvents()
    const res = await ingest(t.app, {
      key: a.key,
      events: [productUpserted('FINE', 100), productUpserted('NEGATIVE', -1)],
    })
    expect(res.statusCode).toBe(422)
    expect(res.headers['content-type']).toMatch(/^application\/problem\+json/)
    expect(res.json()).toMatchObject({
      type: '/problems/validation-failed',
      errors: [{ location: 'body', pointer: '/events/1/data/price/amount', message: 'must be 0 or more' }],
    })
    expect(await storedEvents()).toBe(before)
    expect(await db().select().from(products).where(eq(products.tenantId, a.tenantId))).toEqual([])
  })

  it('accepts a price of zero on ingest', async () => {
    const res = await ingest(t.app, { key: a.key, events: [productUpserted('FREE', 0)] })
    expect(res.statusCode).toBe(201)
    const [row] = await db().select().from(products).where(eq(products.sku, 'FREE'))
    expect(row?.priceAmount).toBe(0)
  })

  it('refuses a negative price on the write routes with 422, as before', async () => {
    const headers = { authorization: `Bearer ${a.key}` }
    const price = { amount: -1, currency: 'EUR' }
    const created = await t.app.inject({
      method: 'POST',
      url: '/v1/products',
      headers,
      payload: { sku: 'W-NEG', name: 'X', price },
    })
    const replaced = await t.app.inject({
      method: 'PUT',
      url: '/v1/products/W-NEG',
      headers,
      payload: { name: 'X', price },
    })
    for (const res of [created, replaced]) {
      expect(res.statusCode).toBe(422)
      expect(res.json()).toMatchObject({
        type: '/problems/validation-failed',
        errors: [{ location: 'body', pointer: '/price/amount' }],
      })
    }
    expect((await t.app.inject({ url: '/v1/products/W-NEG', headers })).statusCode).toBe(404)
  })

  it('still takes negative order amounts: a discount line, a return order, a refund correction', async () => {
    const order = orderEvent('order.completed', 'RETURN-1', {
      total: -250,
      lineItems: [
        { sku: 'MUG', quantity: -1, unitPrice: { amount: 300, currency: 'EUR' } },
        { sku: 'COUPON', quantity: 1, unitPrice: { amount: -50, currency: 'EUR' } },
      ],
    })
    const refund = {
      ...productUpserted('unused'),
      type: 'refund.created',
      data: { orderId: 'RETURN-1', refundId: 'R-1', amount: { amount: -100, currency: 'EUR' } },
    }
    const res = await ingest(t.app, { key: a.key, events: [order, refund] })
    expect(res.statusCode).toBe(201)
    const detail = await t.app.inject({
      url: '/v1/orders/RETURN-1',
      headers: { authorization: `Bearer ${a.key}` },
    })
    expect(detail.json()).toMatchObject({
      total: { amount: -250, currency: 'EUR' },
      lineItems: [
        { sku: 'MUG', quantity: -1, unitPrice: { amount: 300, currency: 'EUR' } },
        { sku: 'COUPON', quantity: 1, unitPrice: { amount: -50, currency: 'EUR' } },
      ],
      refundedTotal: { amount: -100, currency: 'EUR' },
    })
  })
})
