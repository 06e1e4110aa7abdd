import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { orderLineItems, orders, refunds } from '../../../src/db/schema.js'
import type { Database } from '../../../src/platform/database.js'
import type { TestApp } from '../../helpers/app.js'
import {
  createStore,
  get,
  getPage,
  type SeededTenant,
  startReadApp,
  walkPages,
} from '../../helpers/read-seed.js'

const CREATED = new Date('2023-12-31T23:00:00.000Z')

/** Tenant A's ORD-1 as the API shows it in the list. */
const ORD_1 = {
  orderId: 'ORD-1',
  storeId: 'MAIN',
  status: 'COMPLETED',
  version: 3,
  currency: 'EUR',
  total: { amount: 1250, currency: 'EUR' },
  createdAt: '2023-12-31T23:00:00.000Z',
  updatedAt: '2024-01-01T10:00:00.000Z',
}

async function addOrder(
  db: Database,
  order: Omit<typeof orders.$inferInsert, 'changedAt' | 'createdAt'> & { updatedAt: Date },
): Promise<number> {
  const [row] = await db
    .insert(orders)
    .values({ changedAt: order.updatedAt, createdAt: CREATED, ...order })
    .returning({ id: orders.id })
  return row!.id
}

async function addRefund(
  db: Database,
  tenantId: string,
  orderId: string,
  refund: { refundId: string; amount: number; currency: string; occurredAt: Date },
): Promise<void> {
  await db.insert(refunds).values({ tenantId, orderId, ...refund })
}

describe('GET /v1/orders and /v1/orders/:orderId', () => {
  let t: TestApp
  let db: Database
  let a: SeededTenant
  let b: SeededTenant
  let aMain: string

  beforeAll(async () => {
    ;({ t, db, a, b } = await startReadApp())
    aMain = await createStore(db, a.id, 'MAIN')
    const aAirport = await createStore(db, a.id, 'AIRPORT')
    const bMain = await createStore(db, b.id, 'MAIN')

    const ord1 = await addOrder(db, {
      tenantId: a.id,
      orderId: 'ORD-1',
      storeId: aMain,
      status: 'COMPLETED',
      version: 3,
      currency: 'EUR',
      totalAmount: 1250,
      updatedAt: new Date('2024-01-01T10:00:00.000Z'),
    })
    // Stored out of order: the API lists line items by position.
    await db.insert(orderLineItems).values([
      { orderPk: ord1, position: 2, sku: 'SKU-2', quantity: '1', unitPriceAmount: 500, currency: 'EUR' },
      {
        orderPk: ord1,
        position: 1,
        sku: 'SKU-1',
        quantity: '1.500000',
        unitPriceAmount: 500,
        currency: 'EUR',
      },
    ])
    await addRefund(db, a.id, 'ORD-1', {
      refundId: 'R-2',
      amount: 100,
      currency: 'EUR',
      occurredAt: new Date('2024-01-03T00:00:00.000Z'),
    })
    await addRefund(db, a.id, 'ORD-1', {
      refundId: 'R-1',
      amount: 150,
      currency: 'EUR',
      occurredAt: new Date('2024-01-02T00:00:00.000Z'),
    })
    await addOrder(db, {
      tenantId: a.id,
      orderId: 'ORD-2',
      storeId: aAirport,
      status: 'OPEN',
      version: null,
      currency: 'EUR',
      totalAmount: 800,
      updatedAt: new Date('2024-02-01T00:00:00.000Z'),
    })
    await addOrder(db, {
      tenantId: a.id,
      orderId: 'ORD-3',
      storeId: aMain,
      status: 'OPEN',
      version: 1,
      currency: 'EUR',
      totalAmount: 300,
      updatedAt: new Date('2024-03-01T00:00:00.000Z'),
    })
    // A refund that arrived before its order.
    await addRefund(db, a.id, 'LATE-1', {
      refundId: 'R-9',
      amount: 300,
      currency: 'EUR',
      occurredAt: new Date('2024-04-01T00:00:00.000Z'),
    })

    // Tenant B reuses the order id ORD-1 and the store code MAIN.
    const bOrd1 = await addOrder(db, {
      tenantId: b.id,
      orderId: 'ORD-1',
      storeId: bMain,
      status: 'OPEN',
      version: 7,
      currency: 'USD',
      totalAmount: 5000,
      updatedAt: new Date('2024-01-05T00:00:00.000Z'),
    })
    await db.insert(orderLineItems).values({
      orderPk: bOrd1,
      position: 1,
      sku: 'B-SKU',
      quantity: '2',
      unitPriceAmount: 2500,
      currency: 'USD',
    })
    await addRefund(db, b.id, 'ORD-1', {
      refundId: 'RB-1',
      amount: 50,
      currency: 'USD',
      occurredAt: new Date('2024-01-06T00:00:00.000Z'),
    })
    await addOrder(db, {
      tenantId: b.id,
      orderId: 'ORD-B',
      storeId: bMain,
      status: 'OPEN',
      currency: 'USD',
      totalAmount: 10,
      updatedAt: new Date('2024-01-07T00:00:00.000Z'),
    })
  })
  afterAll(() => t.close())

  const orderIds = (page: { data: Record<string, unknown>[] }) => page.data.map((item) => item.orderId)

  it('lists the orders of the tenant with the store code, money and numbers typed', async () => {
    const page = await getPage(t, a.key, '/v1/orders?limit=3')
    expect(page.nextCursor).toBeNull()
    expect(page.data).toEqual([
      ORD_1,
      {
        orderId: 'ORD-2',
        storeId: 'AIRPORT',
        status: 'OPEN',
        version: null,
        currency: 'EUR',
        total: { amount: 800, currency: 'EUR' },
        createdAt: '2023-12-31T23:00:00.000Z',
        updatedAt: '2024-02-01T00:00:00.000Z',
      },
      {
        orderId: 'ORD-3',
        storeId: 'MAIN',
        status: 'OPEN',
        version: 1,
        currency: 'EUR',
        total: { amount: 300, currency: 'EUR' },
        createdAt: '2023-12-31T23:00:00.000Z',
        updatedAt: '2024-03-01T00:00:00.000Z',
      },
    ])
  })

  it('filters by store code, status and update time, alone and together', async () => {
    expect(orderIds(await getPage(t, a.key, '/v1/orders?storeId=MAIN'))).toEqual(['ORD-1', 'ORD-3'])
    expect(orderIds(await getPage(t, a.key, '/v1/orders?status=OPEN'))).toEqual(['ORD-2', 'ORD-3'])
    expect(orderIds(await getPage(t, a.key, '/v1/orders?storeId=MAIN&status=OPEN'))).toEqual(['ORD-3'])
    expect(orderIds(await getPage(t, a.key, '/v1/orders?status=CANCELED'))).toEqual([])
  })

  it('counts an order updated exactly at updatedSince as updated since, whatever the offset', async () => {
    const since = (value: string) => getPage(t, a.key, `/v1/orders?updatedSince=${encodeURIComponent(value)}`)
    expect(orderIds(await since('2024-02-01T00:00:00Z'))).toEqual(['ORD-2', 'ORD-3'])
    expect(orderIds(await since('2024-02-01T10:00:00+10:00'))).toEqual(['ORD-2', 'ORD-3'])
    expect(orderIds(await since('2024-02-01T00:00:00.000001Z'))).toEqual(['ORD-3'])
    expect(orderIds(await since('2030-01-01T00:00:00Z'))).toEqual([])
  })

  it('refuses a status that orders cannot have with 400 invalid-parameters', async () => {
    for (const status of ['open', 'SHIPPED', '']) {
      const res = await get(t, a.key, `/v1/orders?status=${status}`)
      expect(res.statusCode, status).toBe(400)
      expect(res.json()).toMatchObject({ type: '/problems/invalid-parameters' })
    }
  })

  it('refuses an updatedSince that is not an RFC 3339 date-time with 400 invalid-parameters', async () => {
    for (const value of ['yesterday', '2024-02-01', '2024-02-01T00:00:00', '2024-02-30T00:00:00Z']) {
      const res = await get(t, a.key, `/v1/orders?updatedSince=${encodeURIComponent(value)}`)
      expect(res.statusCode, value).toBe(400)
      expect(res.json()).toMatchObject({ type: '/problems/invalid-parameters' })
    }
  })

  it('walks every order exactly once across pages, filters included', async () => {
    const pages = await walkPages(t, a.key, '/v1/orders', 2)
    expect(pages.map((page) => page.data.length)).toEqual([2, 1])
    expect(pages.flatMap(orderIds)).toEqual(['ORD-1', 'ORD-2', 'ORD-3'])
    const open = await walkPages(t, a.key, '/v1/orders?status=OPEN', 1)
    expect(open.flatMap(orderIds)).toEqual(['ORD-2', 'ORD-3'])
  })

  it('answers one order with its line items by position, its refunds and the refunded total', async () => {
    const res = await get(t, a.key, '/v1/orders/ORD-1')
    expect(res.statusCode).toBe(200)
    expect(res.json()).toEqual({
      ...ORD_1,
      lineItems: [
        { sku: 'SKU-1', quantity: 1.5, unitPrice: { amount: 500, currency: 'EUR' } },
        { sku: 'SKU-2', quantity: 1, unitPrice: { amount: 500, currency: 'EUR' } },
      ],
      refunds: [
        { refundId: 'R-1', amount: { amount: 150, currency: 'EUR' }, occurredAt: '2024-01-02T00:00:00.000Z' },
        { refundId: 'R-2', amount: { amount: 100, currency: 'EUR' }, occurredAt: '2024-01-03T00:00:00.000Z' },
      ],
      refundedTotal: { amount: 250, currency: 'EUR' },
    })
  })

  it('answers an order without line items or refunds with empty lists and a zero refunded total', async () => {
    const res = await get(t, a.key, '/v1/orders/ORD-2')
    expect(res.json()).toMatchObject({
      orderId: 'ORD-2',
      version: null,
      lineItems: [],
      refunds: [],
      refundedTotal: { amount: 0, currency: 'EUR' },
    })
  })

  it('is 404 for an order id that only refunds know of, until the order itself is stored', async () => {
    const before = await get(t, a.key, '/v1/orders/LATE-1')
    expect(before.statusCode).toBe(404)
    expect(before.json()).toMatchObject({ type: '/problems/not-found' })

    await addOrder(db, {
      tenantId: a.id,
      orderId: 'LATE-1',
      storeId: aMain,
      status: 'COMPLETED',
      currency: 'EUR',
      totalAmount: 300,
      updatedAt: new Date('2024-03-31T00:00:00.000Z'),
    })
    const after = await get(t, a.key, '/v1/orders/LATE-1')
    expect(after.statusCode).toBe(200)
    expect(after.json()).toMatchObject({
      refunds: [
        { refundId: 'R-9', amount: { amount: 300, currency: 'EUR' }, occurredAt: '2024-04-01T00:00:00.000Z' },
      ],
      refundedTotal: { amount: 300, currency: 'EUR' },
    })
  })

  it("shows another tenant none of this tenant's orders in the list", async () => {
    const page = await getPage(t, b.key, '/v1/orders?limit=500')
    expect(orderIds(page)).toEqual(['ORD-1', 'ORD-B'])
    expect(page.data[0]).toMatchObject({ storeId: 'MAIN', total: { amount: 5000, currency: 'USD' } })
    expect(orderIds(await getPage(t, b.key, '/v1/orders?storeId=AIRPORT'))).toEqual([])
    expect(orderIds(await getPage(t, b.key, '/v1/orders?status=COMPLETED'))).toEqual([])
    expect(orderIds(await getPage(t, b.key, '/v1/orders?updatedSince=2024-02-01T00:00:00Z'))).toEqual([])
  })

  it("answers a shared order id with the caller's own order, line items and refunds only", async () => {
    const res = await get(t, b.key, '/v1/orders/ORD-1')
    expect(res.statusCode).toBe(200)
    expect(res.json()).toMatchObject({
      orderId: 'ORD-1',
      status: 'OPEN',
      version: 7,
      total: { amount: 5000, currency: 'USD' },
      lineItems: [{ sku: 'B-SKU', quantity: 2, unitPrice: { amount: 2500, currency: 'USD' } }],
      refunds: [
        { refundId: 'RB-1', amount: { amount: 50, currency: 'USD' }, occurredAt: '2024-01-06T00:00:00.000Z' },
      ],
      refundedTotal: { amount: 50, currency: 'USD' },
    })
  })

  it("is 404 for another tenant's order id, exactly like a missing one", async () => {
    const foreign = await get(t, b.key, '/v1/orders/ORD-2')
    const missing = await get(t, b.key, '/v1/orders/ORD-404')
    expect(foreign.statusCode).toBe(404)
    expect(missing.statusCode).toBe(404)
    const { detail: _foreignDetail, instance: _foreignInstance, ...foreignProblem } = foreign.json()
    const { detail: _missingDetail, instance: _missingInstance, ...missingProblem } = missing.json()
    expect(foreignProblem).toEqual(missingProblem)
    expect(foreignProblem).toMatchObject({ type: '/problems/not-found', status: 404 })
    expect((await get(t, a.key, '/v1/orders/ORD-B')).statusCode).toBe(404)
  })
})
