// The scale bench's seed writes its rows in SQL, beside the write path rather than through it. This test keeps
// the two from drifting apart: it seeds a small database, ingests the very events the seed stored through the
// API of a second app, and checks that the read API answers the same over both.
import { sql } from 'drizzle-orm'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { seedDatabaseAt } from '../../bench/support/scale-database.js'
import type { SeedResult } from '../../bench/support/scale-seed.js'
import { startTestApp, type TestApp } from '../helpers/app.js'
import { ingest } from '../helpers/ingest.js'
import { get, walkPages } from '../helpers/read-seed.js'
import { createApiKey, createTenant } from '../helpers/tenants.js'

// 1650 events end just after a product's deletion, before its next upsert, so a deleted product is compared too.
const EVENTS = 1650
/** Not a divisor of the generator's cycle of ten, so requests cut across orders and their stock moves. */
const EVENTS_PER_REQUEST = 97

let seeded: TestApp
let ingested: TestApp
let seed: SeedResult

beforeAll(async () => {
  ;[seeded, ingested] = await Promise.all([startTestApp(), startTestApp()])
  seed = await seedDatabaseAt(seeded.database.url, {
    events: EVENTS,
    smallTenants: 5,
    eventsPerSmallTenant: 50,
  })
}, 60_000)

afterAll(async () => {
  await Promise.all([seeded?.close(), ingested?.close()])
})

type StoredEvent = {
  readonly event_id: string
  readonly type: string
  readonly payload: Record<string, unknown>
  /** timestamptz, as the driver hands it to drizzle: text. */
  readonly occurred_at: string
}

/** Ingests the events the seed stored for `tenantId`, in feed order; answers a read key of the new tenant. */
async function ingestSeededEvents(tenantId: string): Promise<string> {
  const { rows } = await seeded.platform.database.db.execute<StoredEvent>(
    sql`SELECT event_id, type, payload, occurred_at FROM events WHERE tenant_id = ${tenantId} ORDER BY tx_id, seq`,
  )
  const tenant = await createTenant(ingested.platform.database.db, { source: 'pos' })
  for (let first = 0; first < rows.length; first += EVENTS_PER_REQUEST) {
    const events = rows.slice(first, first + EVENTS_PER_REQUEST).map((row) => ({
      id: row.event_id,
      type: row.type,
      occurredAt: new Date(row.occurred_at).toISOString(),
      data: row.payload,
    }))
    const res = await ingest(ingested.app, { key: tenant.key, events })
    expect(res.statusCode, res.body).toBe(201)
    expect(res.json().accepted).toBe(events.length)
  }
  return tenant.key
}

type Item = Record<string, unknown>

const all = async (t: TestApp, key: string, url: string): Promise<Item[]> =>
  (await walkPages(t, key, url, 500)).flatMap((page) => page.data)

const byKey = (key: (item: Item) => string) => (a: Item, b: Item) => (key(a) < key(b) ? -1 : 1)

/** What the read API shows of a tenant, without the times at which rows were written (those differ). */
async function readModel(t: TestApp, key: string) {
  const feed = (await all(t, key, '/v1/events')).map(({ receivedAt: _, ...event }) => event)
  const orders = (await all(t, key, '/v1/orders'))
    .map(({ createdAt: _c, updatedAt: _u, ...order }) => order)
    .sort(byKey((order) => String(order.orderId)))
  const details = await Promise.all(
    orders.map(async (order) => {
      const res = await get(t, key, `/v1/orders/${order.orderId}`)
      expect(res.statusCode, res.body).toBe(200)
      const { createdAt: _c, updatedAt: _u, ...detail } = res.json() as Item
      return detail
    }),
  )
  const stock = (await all(t, key, '/v1/inventory'))
    .map(({ updatedAt: _, ...level }) => level)
    .sort(byKey((level) => `${level.storeId}\u0000${level.sku}`))
  const products = (await all(t, key, '/v1/products?includeDeleted=true'))
    .map(({ updatedAt: _, ...product }) => product)
    .sort(byKey((product) => String(product.sku)))
  return { feed, orders, details, stock, products }
}

describe('the scale seed', () => {
  it('serves what ingesting its events through the API serves: feed, orders, stock and catalog', async () => {
    const seededKey = await createApiKey(seeded.platform.database.db, seed.large.tenantId, ['read'])
    const ingestedKey = await ingestSeededEvents(seed.large.tenantId)
    const fromSeed = await readModel(seeded, seededKey)
    const fromApi = await readModel(ingested, ingestedKey)

    expect(fromSeed.feed).toHaveLength(EVENTS)
    expect(fromSeed.feed).toEqual(fromApi.feed)
    expect(fromSeed.orders).toEqual(fromApi.orders)
    expect(fromSeed.details).toEqual(fromApi.details)
    expect(fromSeed.stock).toEqual(fromApi.stock)
    expect(fromSeed.products).toEqual(fromApi.products)
    // The comparison covers every kind of projection the generator produces.
    expect(new Set(fromSeed.orders.map((order) => order.status))).toEqual(
      new Set(['OPEN', 'COMPLETED', 'CANCELED']),
    )
    expect(
      fromSeed.details.filter((order) => (order.refunds as unknown[]).length > 0).length,
    ).toBeGreaterThan(0)
    expect(fromSeed.stock.filter((level) => level.countedAt !== null).length).toBeGreaterThan(0)
    expect(fromSeed.products.filter((product) => product.deleted).length).toBeGreaterThan(0)
  }, 120_000)

  it('seeds small tenants beside the large one, each with its own events and projections', async () => {
    expect(seed.small).toHaveLength(5)
    const [first] = seed.small
    const seededKey = await createApiKey(seeded.platform.database.db, first!.tenantId, ['read'])
    const ingestedKey = await ingestSeededEvents(first!.tenantId)
    const fromSeed = await readModel(seeded, seededKey)
    expect(fromSeed.feed).toHaveLength(50)
    expect(fromSeed).toEqual(await readModel(ingested, ingestedKey))
  }, 60_000)
})
