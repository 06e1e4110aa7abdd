// Connector reconciliation across real server processes sharing PostgreSQL and Redis, against a fake Square
// whose pages are slow:
// - a replica SIGKILLed in the middle of a reconciliation leaves its cursor behind: another replica resumes
//   from it once the lease expired, and every provider object ends stored exactly once;
// - two replicas asked to reconcile the same source at the same moment run one reconciliation, one page at a
//   time: the fake never sees two of its list requests at once, though each page takes longer than the lease
//   (the lease is renewed while a provider call runs);
// - a webhook whose processing waits out Shopify's call limit for longer than the lease stays with its
//   replica: the other never takes it over and asks Shopify again.
import { randomUUID } from 'node:crypto'
import { sql } from 'drizzle-orm'
import pino from 'pino'
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest'
import { type DatabaseHandle, openDatabase } from '../../src/platform/database.js'
import { migrate } from '../../src/platform/migrations.js'
import { type FakeShopify, startFakeShopify } from '../fakes/shopify.js'
import { FakeSquare } from '../fakes/square.js'
import { ADMIN_TOKEN, REDIS_URL } from '../helpers/app.js'
import { createTestDatabase, type TestDatabase } from '../helpers/database.js'
import { type ServerProcess, startServerProcess } from '../helpers/server-process.js'
import { waitFor } from '../helpers/wait.js'

const NOTIFICATION_URL = 'https://pos.example.test/v1/webhooks/square/fleet'
const LEASE_MS = 1500

interface Replica {
  readonly process: ServerProcess
  readonly url: string
}

describe('connector reconciliation across replicas', () => {
  let database: TestDatabase
  let handle: DatabaseHandle
  let square: FakeSquare | undefined
  let shop: FakeShopify | undefined
  const servers: ServerProcess[] = []
  let baseEnv: Record<string, string>

  beforeAll(async () => {
    database = await createTestDatabase()
    handle = await openDatabase({ databaseUrl: database.url, dataDir: '', log: pino({ level: 'silent' }) })
    await migrate(handle.db)
    baseEnv = {
      DATABASE_URL: database.url,
      ADMIN_TOKEN,
      REDIS_URL,
      REDIS_KEY_PREFIX: `test:${database.name}:`,
      SHUTDOWN_READINESS_DELAY_MS: '0',
      CONNECTOR_POLL_INTERVAL_MS: '50',
      CONNECTOR_LEASE_MS: String(LEASE_MS),
      RECONCILE_INTERVAL_MINUTES: '0',
      OUTBOUND_TIMEOUT_MS: '5000',
    }
  })
  afterEach(async () => {
    for (const server of servers.splice(0)) {
      server.kill()
      await server.exited
    }
    await square?.close()
    await shop?.close()
    square = undefined
    shop = undefined
  })
  afterAll(async () => {
    await handle?.close()
    await database?.drop()
  })

  async function start(): Promise<Replica> {
    const server = startServerProcess(baseEnv)
    servers.push(server)
    const url = await server.url(90_000)
    await server.waitForLine((line) => line.msg === 'start-up complete', 60_000)
    return { process: server, url }
  }

  async function admin(replica: Replica, method: string, path: string, body?: unknown) {
    const res = await fetch(`${replica.url}${path}`, {
      method,
      headers: {
        authorization: `Bearer ${ADMIN_TOKEN}`,
        ...(body === undefined ? {} : { 'content-type': 'application/json' }),
      },
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
    })
    return { status: res.status, body: (await res.json()) as Record<string, unknown> }
  }

  /** A tenant with a Square source pointed at the fake; answers the admin path of the source. */
  async function squareSource(replica: Replica): Promise<{ sourceId: string; path: string }> {
    const tenant = await admin(replica, 'POST', '/v1/admin/tenants', { name: `fleet-${randomUUID()}` })
    expect(tenant.status).toBe(201)
    const source = await admin(replica, 'POST', `/v1/admin/tenants/${tenant.body.id}/sources`, {
      name: 'square',
      kind: 'square',
      connector: {
        signatureKey: square!.signatureKey,
        notificationUrl: NOTIFICATION_URL,
        accessToken: square!.accessToken,
        baseUrl: square!.url,
      },
    })
    expect(source.status).toBe(201)
    const sourceId = source.body.id as string
    return { sourceId, path: `/v1/admin/tenants/${tenant.body.id}/sources/${sourceId}` }
  }

  /** A shop of `n` orders, one variation each, so that SearchOrders gives n / pageSize slow pages. */
  function seedOrders(n: number): void {
    for (let i = 0; i < n; i++) {
      square!.addVariation(`FLEET-${i}`, 100 + i)
      square!.putOrder(`FLEET-ORDER-${i}`, [{ sku: `FLEET-${i}`, quantity: '1', price: 100 + i }])
    }
  }

  async function run(sourceId: string) {
    const { rows } = await handle.db.execute(
      sql`SELECT id::text, status, pages, objects, cursor FROM reconciliation_runs WHERE source_id = ${sourceId} ORDER BY id`,
    )
    return rows as { id: string; status: string; pages: number; objects: number; cursor: string | null }[]
  }

  /** Each order's event ids in the event log, and its rows in the orders projection. */
  async function storedOrders(sourceId: string) {
    const events = await handle.db.execute(
      sql`SELECT event_id, count(*)::int AS n FROM events WHERE source_id = ${sourceId} GROUP BY event_id`,
    )
    const orders = await handle.db.execute(
      sql`SELECT o.order_id, count(*)::int AS n FROM orders o JOIN sources s ON s.tenant_id = o.tenant_id
          WHERE s.id = ${sourceId} AND o.order_id LIKE 'FLEET-ORDER-%' GROUP BY o.order_id`,
    )
    return {
      events: events.rows as { event_id: string; n: number }[],
      orders: orders.rows as { order_id: string; n: number }[],
    }
  }

  it('resumes a reconciliation whose replica was SIGKILLed from its cursor, storing every order once', async () => {
    square = await FakeSquare.start()
    square.pageSize = 2
    seedOrders(24)
    const first = await start()
    const { sourceId, path } = await squareSource(first)
    square.delayMs = 250
    const requested = await admin(first, 'POST', `${path}/reconcile`)
    expect(requested.status).toBe(202)
    await waitFor(async () => ((await run(sourceId))[0]?.pages ?? 0) >= 3, {
      description: 'the first replica to have stored three pages',
      timeoutMs: 60_000,
    })
    first.process.kill()
    await first.process.exited
    const [killed] = await run(sourceId)
    expect(killed).toMatchObject({ status: 'running' })
    expect(killed!.cursor).not.toBeNull()
    const searchesBefore = square.requests.filter((r) => r.path === '/v2/orders/search').length

    const second = await start()
    await second.process.waitForLine((line) => line.msg === 'reconciliation resumed from its cursor', 60_000)
    const completed = await waitFor(
      async () => {
        const [current] = await run(sourceId)
        return current?.status === 'completed' ? current : undefined
      },
      { description: 'the reconciliation to complete on the second replica', timeoutMs: 90_000 },
    )
    // The second replica started from the stored cursor, not from the first page.
    const resumed = square.requests.filter((r) => r.path === '/v2/orders/search').slice(searchesBefore)
    expect(resumed[0]?.body).toHaveProperty('cursor')
    expect(completed.objects).toBeGreaterThanOrEqual(24)

    const { events, orders } = await storedOrders(sourceId)
    const orderEvents = events.filter((e) => e.event_id.startsWith('square:order:FLEET-ORDER-'))
    expect(orderEvents.map((e) => e.event_id).sort()).toEqual(
      [...Array(24).keys()].map((i) => `square:order:FLEET-ORDER-${i}:v1`).sort(),
    )
    expect(orderEvents.every((e) => e.n === 1)).toBe(true)
    expect(orders).toHaveLength(24)
    expect(orders.every((o) => o.n === 1)).toBe(true)
    // The run is marked completed in the database before the replica's log line reaches us: wait for it.
    const log = await second.process.waitForLine((line) => line.msg === 'reconciliation completed', 30_000)
    expect(log).toMatchObject({ provider: 'square', objects: completed.objects })
  }, 240_000)

  it('runs one reconciliation of a source at a time when two replicas are asked at the same moment', async () => {
    square = await FakeSquare.start()
    square.pageSize = 2
    seedOrders(12)
    const [a, b] = await Promise.all([start(), start()])
    const { sourceId, path } = await squareSource(a!)
    // A page (SearchOrders, then the SKUs of its variations) takes longer than the whole lease: only the
    // renewals while it is read keep the other replica from taking the run over.
    square.delayMs = 900
    square.maxInFlight = 0
    const [fromA, fromB] = await Promise.all([
      admin(a!, 'POST', `${path}/reconcile`),
      admin(b!, 'POST', `${path}/reconcile`),
    ])
    expect([fromA.status, fromB.status]).toEqual([202, 202])
    expect(fromB.body.id).toBe(fromA.body.id)
    await waitFor(async () => (await run(sourceId))[0]?.status === 'completed', {
      description: 'the reconciliation to complete',
      timeoutMs: 90_000,
    })
    expect(await run(sourceId)).toHaveLength(1)
    expect(square.maxInFlight).toBe(1)
    for (const replica of [a!, b!])
      expect(replica.process.lines.some((line) => line.msg === 'reconciliation lease lost')).toBe(false)
    const { events } = await storedOrders(sourceId)
    expect(
      events.filter((e) => e.event_id.startsWith('square:order:FLEET-ORDER-')).every((e) => e.n === 1),
    ).toBe(true)
  }, 240_000)

  it('keeps a webhook with its replica while Shopify call-limit pacing outlasts the lease', async () => {
    shop = await startFakeShopify()
    const [a, b] = await Promise.all([start(), start()])
    const tenant = await admin(a!, 'POST', '/v1/admin/tenants', { name: `pacing-${randomUUID()}` })
    const source = await admin(a!, 'POST', `/v1/admin/tenants/${tenant.body.id}/sources`, {
      name: 'shopify',
      kind: 'shopify',
      connector: shop.config(),
    })
    expect(source.status).toBe(201)
    const sourceId = source.body.id as string
    // The shop's currency is read for a product; the answer says the bucket is full ("40/40"): the provider
    // waits 4 s for it to drain to 80 %, more than twice the lease.
    shop.fillBucket(39)
    const product = shop.addProduct({ title: 'Tea', variants: [{ sku: 'PACED-1', price: '3.00' }] })
    const sent = await shop.deliver(`${a!.url}/v1/webhooks/shopify/${sourceId}`, 'products/create', product)
    expect(sent.status).toBe(200)
    await waitFor(
      async () => {
        const { rows } = await handle.db.execute(
          sql`SELECT status FROM connector_inbox WHERE source_id = ${sourceId}`,
        )
        return (rows as { status: string }[])[0]?.status === 'done'
      },
      { description: 'the paced webhook to be processed', timeoutMs: 60_000 },
    )
    expect(shop.arrivals.filter((arrival) => arrival.path.endsWith('/shop.json'))).toHaveLength(1)
    // The pacing did happen: the one answer said the bucket was full.
    expect(shop.lastCallLimit).toBe('40/40')
    for (const replica of [a!, b!])
      expect(
        replica.process.lines.some(
          (line) => line.msg === 'connector inbox lease expired before the outcome was recorded',
        ),
      ).toBe(false)
  }, 240_000)
})
