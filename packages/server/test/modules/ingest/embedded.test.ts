import { randomUUID } from 'node:crypto'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { startTestApp, type TestApp } from '../../helpers/app.js'
import { ingest, nextTime, orderEvent, productUpserted } from '../../helpers/ingest.js'
import { createTenant, type TenantFixture } from '../../helpers/tenants.js'

describe('ingest on the embedded database (PGlite)', () => {
  let t: TestApp
  let a: TenantFixture
  beforeAll(async () => {
    t = await startTestApp({ embedded: true })
    a = await createTenant(t.platform.database.db)
  }, 60_000)
  afterAll(() => t.close())

  const get = (url: string) =>
    t.app.inject({ url, headers: { authorization: `Bearer ${a.key}` } }).then((r) => r.json())

  it('runs the same write path: every event type, replays, duplicates and the read side', async () => {
    expect(t.platform.database.mode).toBe('embedded')
    const idempotencyKey = randomUUID()
    const events = [
      productUpserted('EMB-1', 450, { barcode: '123' }),
      {
        id: randomUUID(),
        type: 'inventory.adjusted',
        occurredAt: nextTime(),
        data: { storeId: 'E1', sku: 'EMB-1', delta: 2.5 },
      },
      {
        id: randomUUID(),
        type: 'inventory.counted',
        occurredAt: nextTime(),
        data: { storeId: 'E1', sku: 'EMB-1', onHand: 10 },
      },
      orderEvent('order.completed', 'EMB-O1', { storeId: 'E1', version: 1 }),
      {
        id: randomUUID(),
        type: 'refund.created',
        occurredAt: nextTime(),
        data: { orderId: 'EMB-O1', refundId: 'R1', amount: { amount: 100, currency: 'EUR' } },
      },
    ]
    const first = await ingest(t.app, { key: a.key, events, idempotencyKey })
    expect(first.statusCode).toBe(201)
    expect(first.json()).toMatchObject({ accepted: 5, duplicates: 0 })
    const replay = await ingest(t.app, { key: a.key, events, idempotencyKey })
    expect(replay.statusCode).toBe(201)
    expect(replay.headers['idempotent-replayed']).toBe('true')
    expect(replay.json()).toEqual(first.json())
    expect((await ingest(t.app, { key: a.key, events })).json()).toMatchObject({ accepted: 0, duplicates: 5 })

    expect(await get('/v1/products/EMB-1')).toMatchObject({ price: { amount: 450 }, barcode: '123' })
    expect((await get('/v1/inventory?storeId=E1')).data).toEqual([
      expect.objectContaining({ sku: 'EMB-1', onHand: 10 }),
    ])
    expect(await get('/v1/orders/EMB-O1')).toMatchObject({
      status: 'COMPLETED',
      refunds: [expect.objectContaining({ refundId: 'R1' })],
    })
    expect((await get('/v1/events')).data).toHaveLength(5)
  })

  it('isolates a request whose data cannot be stored from the others in its commit', async () => {
    const results = await Promise.all([
      ingest(t.app, { key: a.key, events: [productUpserted('EMB-OK')] }),
      ingest(t.app, { key: a.key, events: [productUpserted('EMB-NUL', 1, { name: 'bad\u0000name' })] }),
    ])
    expect(results.map((r) => r.statusCode)).toEqual([201, 422])
  })
})
