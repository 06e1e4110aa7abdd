import { randomUUID } from 'node:crypto'
import { count, eq, sql } from 'drizzle-orm'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import {
  events,
  idempotencyKeys,
  orderLineItems,
  orders,
  products,
  refunds,
  stockLevels,
} from '../../../src/db/schema.js'
import { startTestApp, type TestApp } from '../../helpers/app.js'
import { ingest, nextTime, orderEvent, productUpserted } from '../../helpers/ingest.js'
import { createApiKey, createTenant, type TenantFixture } from '../../helpers/tenants.js'

describe('POST /v1/ingest/:source', () => {
  let t: TestApp
  let a: TenantFixture
  let b: TenantFixture
  beforeAll(async () => {
    t = await startTestApp()
    a = await createTenant(t.platform.database.db, { name: 'A' })
    b = await createTenant(t.platform.database.db, { name: 'B', source: 'b-pos' })
  })
  afterAll(() => t.close())

  const db = () => t.platform.database.db
  const stored = async () => {
    const [e] = await db().select({ n: count() }).from(events)
    const [k] = await db().select({ n: count() }).from(idempotencyKeys)
    return { events: e!.n, keys: k!.n }
  }
  const metric = async (name: string, labels: Record<string, string>) => {
    const text = (await t.app.inject('/metrics')).body
    const line = text
      .split('\n')
      .find(
        (l) =>
          l.startsWith(`${name}{`) && Object.entries(labels).every(([k, v]) => l.includes(`${k}="${v}"`)),
      )
    return line ? Number(line.slice(line.lastIndexOf(' ') + 1)) : 0
  }

  it('stores a new batch and answers 201 with what it accepted', async () => {
    const batch = [
      productUpserted('SKU-NEW-1'),
      productUpserted('SKU-NEW-2', 990, { barcode: '4006381333931' }),
    ]
    const res = await ingest(t.app, { key: a.key, events: batch })
    expect(res.statusCode).toBe(201)
    expect(res.json()).toEqual({
      accepted: 2,
      duplicates: 0,
      eventIds: batch.map((e) => e.id),
      duplicateEventIds: [],
    })
    const rows = await db().select().from(products).where(eq(products.tenantId, a.tenantId))
    expect(rows.map((r) => [r.sku, r.priceAmount, r.barcode]).sort()).toEqual([
      ['SKU-NEW-1', 350, null],
      ['SKU-NEW-2', 990, '4006381333931'],
    ])
  })

  it('counts the events of a batch refused with 422 as rejected in /metrics', async () => {
    const rejected = (type: string) =>
      metric('ingest_events_total', { source: 'pos', type, outcome: 'rejected' })
    const before = { product: await rejected('product.upserted'), unknown: await rejected('unknown') }
    // The data of the second event is wrong: the whole batch is refused, both events with it.
    const badData = [productUpserted('REJ-1'), { ...productUpserted('REJ-2'), data: { sku: 'REJ-2' } }]
    expect((await ingest(t.app, { key: a.key, events: badData })).statusCode).toBe(422)
    // The envelope is wrong (a type no one knows): the schema refuses it before any data is read.
    const badType = [{ ...productUpserted('REJ-3'), type: 'order.upserted' }]
    expect((await ingest(t.app, { key: a.key, events: badType })).statusCode).toBe(422)
    expect(await rejected('product.upserted')).toBe(before.product + 2)
    expect(await rejected('unknown')).toBe(before.unknown + 1)
  })

  it('answers a replay of the same request with the original 201 and Idempotent-Replayed, writing nothing', async () => {
    const key = randomUUID()
    const earlier = productUpserted('SKU-REPLAY-OLD')
    expect((await ingest(t.app, { key: a.key, events: [earlier] })).statusCode).toBe(201)
    const batch = [productUpserted('SKU-REPLAY'), earlier]
    const original = await ingest(t.app, { key: a.key, events: batch, idempotencyKey: key })
    expect(original.statusCode).toBe(201)
    expect(original.headers['idempotent-replayed']).toBeUndefined()
    const before = await stored()
    const dedupBefore = await metric('ingest_dedup_total', { tenant: a.tenantId, source: 'pos' })
    const replay = await ingest(t.app, { key: a.key, events: batch, idempotencyKey: key })
    expect(replay.statusCode).toBe(201)
    expect(replay.headers['idempotent-replayed']).toBe('true')
    expect(replay.json()).toEqual(original.json())
    expect(replay.json()).toEqual({
      accepted: 1,
      duplicates: 1,
      eventIds: [batch[0]!.id],
      duplicateEventIds: [earlier.id],
    })
    expect(await stored()).toEqual(before)
    expect(await metric('ingest_dedup_total', { tenant: a.tenantId, source: 'pos' })).toBe(dedupBefore + 1)
  })

  it('refuses the same key with a different body with 422, writing nothing', async () => {
    const key = randomUUID()
    expect(
      (await ingest(t.app, { key: a.key, events: [productUpserted('SKU-K1')], idempotencyKey: key }))
        .statusCode,
    ).toBe(201)
    const before = await stored()
    const res = await ingest(t.app, { key: a.key, events: [productUpserted('SKU-K2')], idempotencyKey: key })
    expect(res.statusCode).toBe(422)
    expect(res.json().type).toBe('/problems/idempotency-key-reused')
    expect(await stored()).toEqual(before)
  })

  it('scopes idempotency keys to the tenant', async () => {
    const key = randomUUID()
    expect(
      (await ingest(t.app, { key: a.key, events: [productUpserted('SKU-T')], idempotencyKey: key }))
        .statusCode,
    ).toBe(201)
    const other = await ingest(t.app, {
      key: b.key,
      source: 'b-pos',
      events: [productUpserted('SKU-T')],
      idempotencyKey: key,
    })
    expect(other.statusCode).toBe(201)
  })

  it('requires an Idempotency-Key of 1 to 255 printable ASCII characters', async () => {
    const before = await stored()
    for (const idempotencyKey of [null, '', 'x'.repeat(256), 'tab\tkey', 'clé']) {
      const res = await ingest(t.app, { key: a.key, events: [productUpserted('SKU-NOKEY')], idempotencyKey })
      expect(res.statusCode, String(idempotencyKey)).toBe(400)
      expect(res.json().type).toBe('/problems/idempotency-key-required')
    }
    expect(await stored()).toEqual(before)
  })

  it('skips events whose id was stored before, whatever key they come with', async () => {
    const first = productUpserted('SKU-DUP-1')
    expect((await ingest(t.app, { key: a.key, events: [first] })).statusCode).toBe(201)
    const second = productUpserted('SKU-DUP-2')
    const res = await ingest(t.app, { key: a.key, events: [first, second, second] })
    expect(res.statusCode).toBe(201)
    expect(res.json()).toEqual({
      accepted: 1,
      duplicates: 2,
      eventIds: [second.id],
      duplicateEventIds: [first.id, second.id],
    })
    const [row] = await db()
      .select({ n: count() })
      .from(events)
      .where(sql`${events.eventId} IN (${first.id}, ${second.id})`)
    expect(row!.n).toBe(2)
  })

  it('refuses bad input with a clear problem and writes nothing', async () => {
    const before = await stored()
    const cases: [Parameters<typeof ingest>[1], number, string][] = [
      [{ key: a.key, body: '{"events": [' }, 400, 'malformed-json'],
      [{ key: a.key, events: [] }, 422, 'validation-failed'],
      [
        { key: a.key, events: Array.from({ length: 501 }, () => productUpserted('S')) },
        422,
        'validation-failed',
      ],
      [
        { key: a.key, events: [{ ...productUpserted('S'), type: 'coffee.brewed' }] },
        422,
        'validation-failed',
      ],
      [
        { key: a.key, events: [{ ...productUpserted('S'), occurredAt: 'yesterday' }] },
        422,
        'validation-failed',
      ],
      [
        {
          key: a.key,
          events: [
            productUpserted('S'),
            {
              ...productUpserted('S'),
              data: { sku: 'S', name: 'x', price: { amount: 1.5, currency: 'EUR' } },
            },
          ],
        },
        422,
        'validation-failed',
      ],
      [
        { key: a.key, events: [productUpserted('S')], headers: { 'content-type': 'text/plain' } },
        415,
        'unsupported-media-type',
      ],
      [
        {
          key: a.key,
          body: JSON.stringify({ events: [productUpserted('x'.repeat(100))], pad: 'x'.repeat(1_100_000) }),
        },
        413,
        'payload-too-large',
      ],
    ]
    for (const [call, status, type] of cases) {
      const res = await ingest(t.app, call)
      expect(res.statusCode, type).toBe(status)
      expect(res.json().type).toBe(`/problems/${type}`)
    }
    const bad = await ingest(t.app, {
      key: a.key,
      events: [
        productUpserted('OK'),
        { ...productUpserted('S'), data: { sku: 'S', name: 'x', price: { amount: '100', currency: 'EUR' } } },
      ],
    })
    expect(bad.json()).toMatchObject({
      errors: [{ location: 'body', pointer: '/events/1/data/price/amount' }],
    })
    expect(bad.json().detail).toBe('events[1].data.price.amount must be a whole number')
    expect(await stored()).toEqual(before)
  })

  it("authenticates before anything else, and hides other tenants' sources", async () => {
    const events = [productUpserted('SKU-AUTH')]
    expect((await ingest(t.app, { key: 'pos_not-a-real-key-000000000000000000', events })).statusCode).toBe(
      401,
    )
    const noAuth = await t.app.inject({ method: 'POST', url: '/v1/ingest/pos', payload: { events } })
    expect(noAuth.statusCode).toBe(401)
    expect(noAuth.headers['www-authenticate']).toBe('Bearer')
    const readOnly = await createApiKey(db(), a.tenantId, ['read'])
    expect((await ingest(t.app, { key: readOnly, events })).statusCode).toBe(403)
    // Tenant B's source is as unknown to A as a source that does not exist.
    const foreign = await ingest(t.app, { key: a.key, source: 'b-pos', events })
    const missing = await ingest(t.app, { key: a.key, source: 'nope', events })
    expect([foreign.statusCode, missing.statusCode]).toEqual([404, 404])
    expect(foreign.json().type).toBe(missing.json().type)
  })

  it('rejects only the request whose data the database cannot store, not its neighbours', async () => {
    const good = Array.from({ length: 8 }, (_, i) =>
      ingest(t.app, { key: a.key, events: [productUpserted(`SKU-N${i}`)] }),
    )
    const poisoned = ingest(t.app, {
      key: a.key,
      events: [productUpserted('SKU-NUL', 1, { name: 'bad\u0000name' })],
    })
    const results = await Promise.all([...good, poisoned])
    expect(results.slice(0, 8).map((r) => r.statusCode)).toEqual(Array(8).fill(201))
    expect(results[8]!.statusCode).toBe(422)
    expect(results[8]!.json().type).toBe('/problems/unstorable-data')
    const [row] = await db().select({ n: count() }).from(products).where(eq(products.sku, 'SKU-NUL'))
    expect(row!.n).toBe(0)
  })

  it('keeps the newest order version when an older one arrives late', async () => {
    const orderId = `ORD-${randomUUID()}`
    const v2 = orderEvent('order.completed', orderId, {
      version: 2,
      total: 500,
      lineItems: [{ sku: 'A', quantity: 2, unitPrice: { amount: 250, currency: 'EUR' } }],
    })
    const v1 = { ...orderEvent('order.created', orderId, { version: 1, total: 300 }), occurredAt: nextTime() }
    expect((await ingest(t.app, { key: a.key, events: [v2] })).statusCode).toBe(201)
    expect((await ingest(t.app, { key: a.key, events: [v1] })).statusCode).toBe(201)
    const [order] = await db().select().from(orders).where(eq(orders.orderId, orderId))
    expect(order).toMatchObject({ status: 'COMPLETED', version: 2, totalAmount: 500 })
    const items = await db().select().from(orderLineItems).where(eq(orderLineItems.orderPk, order!.id))
    expect(items.map((i) => [i.sku, Number(i.quantity)])).toEqual([['A', 2]])

    const v3 = orderEvent('order.canceled', orderId, { version: 3, total: 0, lineItems: [] })
    await ingest(t.app, { key: a.key, events: [v3] })
    const [canceled] = await db().select().from(orders).where(eq(orders.orderId, orderId))
    expect(canceled).toMatchObject({ status: 'CANCELED', version: 3 })
    expect(await db().select().from(orderLineItems).where(eq(orderLineItems.orderPk, order!.id))).toEqual([])
  })

  it('records refunds, once each', async () => {
    const refund = {
      id: randomUUID(),
      type: 'refund.created',
      occurredAt: nextTime(),
      data: { orderId: 'ORD-R', refundId: 'R-1', amount: { amount: 120, currency: 'EUR' } },
    }
    await ingest(t.app, { key: a.key, events: [refund] })
    await ingest(t.app, { key: a.key, events: [{ ...refund, id: randomUUID() }] })
    const rows = await db().select().from(refunds).where(eq(refunds.orderId, 'ORD-R'))
    expect(rows.map((r) => [r.refundId, r.amount])).toEqual([['R-1', 120]])
  })

  it('keeps stock as the latest count plus the moves made after it, whatever order they arrive in', async () => {
    const at = (minute: number) =>
      new Date(Date.parse('2026-10-01T12:00:00Z') + minute * 60_000).toISOString()
    const move = (minute: number, delta: number) => ({
      id: randomUUID(),
      type: 'inventory.adjusted',
      occurredAt: at(minute),
      data: { storeId: 'S1', sku: 'STOCK-1', delta },
    })
    const countAt = (minute: number, onHand: number) => ({
      id: randomUUID(),
      type: 'inventory.counted',
      occurredAt: at(minute),
      data: { storeId: 'S1', sku: 'STOCK-1', onHand },
    })
    const onHand = async () => {
      const [row] = await db().select().from(stockLevels).where(eq(stockLevels.sku, 'STOCK-1'))
      return Number(row?.onHand)
    }
    await ingest(t.app, { key: a.key, events: [move(1, 5), move(2, -1.25)] })
    expect(await onHand()).toBe(3.75)
    await ingest(t.app, { key: a.key, events: [countAt(10, 20)] })
    expect(await onHand()).toBe(20)
    // A move made before the count, arriving after it, is already in the count.
    await ingest(t.app, { key: a.key, events: [move(5, 7)] })
    expect(await onHand()).toBe(20)
    // A move made after the count adds to it.
    await ingest(t.app, { key: a.key, events: [move(12, -2)] })
    expect(await onHand()).toBe(18)
    // An older count arriving late changes nothing; a newer count arriving late adds the moves after it.
    await ingest(t.app, { key: a.key, events: [countAt(8, 99)] })
    expect(await onHand()).toBe(18)
    await ingest(t.app, { key: a.key, events: [countAt(11, 30), move(11.5, 1)] })
    expect(await onHand()).toBe(30 - 2 + 1)
    // One batch with moves on both sides of the count: only those made after it add.
    await ingest(t.app, { key: a.key, events: [move(10.5, 4), move(13, 3), move(14, 0.5)] })
    expect(await onHand()).toBe(29 + 3 + 0.5)
  })

  it('lets a later product change win over an older one that arrives late, and deletes', async () => {
    const newer = { ...productUpserted('SKU-ORDER', 500), occurredAt: '2026-10-02T00:00:00Z' }
    const older = { ...productUpserted('SKU-ORDER', 100), occurredAt: '2026-10-01T00:00:00Z' }
    await ingest(t.app, { key: a.key, events: [newer] })
    await ingest(t.app, { key: a.key, events: [older] })
    const [row] = await db().select().from(products).where(eq(products.sku, 'SKU-ORDER'))
    expect(row!.priceAmount).toBe(500)
    await ingest(t.app, {
      key: a.key,
      events: [
        {
          id: randomUUID(),
          type: 'product.deleted',
          occurredAt: '2026-10-03T00:00:00Z',
          data: { sku: 'SKU-ORDER' },
        },
      ],
    })
    const [deleted] = await db().select().from(products).where(eq(products.sku, 'SKU-ORDER'))
    expect(deleted!.deletedAt).toEqual(new Date('2026-10-03T00:00:00Z'))
  })

  it('deletes idempotency keys older than the TTL', async () => {
    const old = randomUUID()
    await ingest(t.app, { key: a.key, events: [productUpserted('SKU-OLD')], idempotencyKey: old })
    await db()
      .update(idempotencyKeys)
      .set({ createdAt: new Date(Date.now() - 169 * 3_600_000) })
      .where(eq(idempotencyKeys.key, old))
    const fresh = await stored()
    expect(await t.app.ingest.idempotency.reap(168)).toBe(1)
    expect((await stored()).keys).toBe(fresh.keys - 1)
  })
})
