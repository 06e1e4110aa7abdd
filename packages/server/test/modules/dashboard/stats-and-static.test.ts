import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import type { Stats } from '@pos/contracts/dashboard'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import {
  circuitBreakersOpen,
  connectorDeadLetters,
  reconciliationDriftRatio,
} from '../../../src/platform/metrics.js'
import { ADMIN_TOKEN, startTestApp, type TestApp } from '../../helpers/app.js'
import { ingest, orderEvent, productUpserted } from '../../helpers/ingest.js'
import { createTenant, type TenantFixture } from '../../helpers/tenants.js'
import { waitFor } from '../../helpers/wait.js'

const admin = { authorization: `Bearer ${ADMIN_TOKEN}` }

async function stats(t: TestApp): Promise<Stats> {
  const response = await t.app.inject({ method: 'GET', url: '/v1/admin/stats', headers: admin })
  expect(response.statusCode).toBe(200)
  return response.json()
}

describe('the dashboard API', () => {
  let t: TestApp
  let tenant: TenantFixture

  beforeAll(async () => {
    const dist = mkdtempSync(join(tmpdir(), 'pos-dashboard-'))
    mkdirSync(join(dist, 'assets'))
    writeFileSync(join(dist, 'index.html'), '<!doctype html><title>console</title>')
    writeFileSync(join(dist, 'assets', 'index-abc123.js'), 'console.log(1)')
    t = await startTestApp({ redis: true, env: { DASHBOARD_DIR: dist } })
    tenant = await createTenant(t.platform.database.db)
  })
  afterAll(() => t.close())

  it('counts ingested events and requests in the stats, with the dependencies health', async () => {
    const before = await stats(t)
    const events = [productUpserted('SKU-1'), orderEvent('order.created', 'ORD-1')]
    expect((await ingest(t.app, { key: tenant.key, events })).statusCode).toBe(201)
    const duplicate = await ingest(t.app, { key: tenant.key, events: [events[0]!] })
    expect(duplicate.statusCode).toBe(201)
    const refused = await t.app.inject({ method: 'GET', url: '/v1/admin/tenants' })
    expect(refused.statusCode).toBe(401)
    const after = await stats(t)
    expect(after.totals.events - before.totals.events).toBe(3)
    expect(after.totals.duplicates - before.totals.duplicates).toBe(1)
    expect(after.totals.ingestRequests - before.totals.ingestRequests).toBe(2)
    expect(after.ingest.eventsPerSecond).toBeGreaterThan(0)
    expect(after.http.clientErrorsPerSecond).toBeGreaterThan(0)
    expect(after.http.p95LatencyMs).toBeGreaterThan(0)
    expect(after.http.inFlight).toBeGreaterThanOrEqual(1)
    expect(after.health.database).toMatchObject({ status: 'ok' })
    expect(after.health.redis).toMatchObject({ status: 'ok' })
  })

  it("shows the breakers this replica sees open, and the connectors' dead letters and drift", async () => {
    circuitBreakersOpen.set({ target_kind: 'webhook' }, 2)
    connectorDeadLetters.set({ provider: 'square' }, 3)
    reconciliationDriftRatio.set({ provider: 'square' }, 0.25)
    try {
      const shown = await stats(t)
      expect(shown.outbound.openBreakers).toMatchObject({ webhook: 2 })
      expect(shown.connectors).toMatchObject({
        deadLetters: { square: 3 },
        reconciliationDrift: { square: 0.25 },
      })
    } finally {
      circuitBreakersOpen.set({ target_kind: 'webhook' }, 0)
      connectorDeadLetters.set({ provider: 'square' }, 0)
      reconciliationDriftRatio.set({ provider: 'square' }, 0)
    }
  })

  it('reads a tenant’s feed, orders, stock and products through the admin API', async () => {
    const base = `/v1/admin/tenants/${tenant.tenantId}`
    // An event is readable once every older transaction on the server has ended (other files run some).
    const feed = await waitFor(
      async () => {
        const page = await t.app.inject({ method: 'GET', url: `${base}/events?limit=10`, headers: admin })
        const types = page.json().data.map((event: { type: string }) => event.type)
        return types.length === 2 && types
      },
      { description: "the tenant's two events in the admin feed" },
    )
    expect(feed).toEqual(['product.upserted', 'order.created'])
    const orders = await t.app.inject({ method: 'GET', url: `${base}/orders?status=OPEN`, headers: admin })
    expect(orders.json().data.map((order: { orderId: string }) => order.orderId)).toEqual(['ORD-1'])
    const order = await t.app.inject({ method: 'GET', url: `${base}/orders/ORD-1`, headers: admin })
    expect(order.json()).toMatchObject({ orderId: 'ORD-1', refunds: [], lineItems: [{ sku: 'SKU-1' }] })
    const products = await t.app.inject({ method: 'GET', url: `${base}/products?sku=SKU-1`, headers: admin })
    expect(products.json().data).toMatchObject([{ sku: 'SKU-1' }])
    const stock = await t.app.inject({ method: 'GET', url: `${base}/inventory`, headers: admin })
    expect(stock.statusCode).toBe(200)
    const withKey = await t.app.inject({
      method: 'GET',
      url: `${base}/events`,
      headers: { authorization: `Bearer ${tenant.key}` },
    })
    expect(withKey.statusCode).toBe(401)
  })

  it("answers 404 not-found for an unknown tenant's feed, orders, stock and products, not an empty list", async () => {
    const unknown = '00000000-0000-4000-8000-000000000000'
    for (const path of ['events', 'orders', 'orders/ORD-1', 'inventory', 'products']) {
      for (const tenantId of [unknown, 'not-a-uuid']) {
        const url = `/v1/admin/tenants/${tenantId}/${path}`
        const res = await t.app.inject({ method: 'GET', url, headers: admin })
        expect(res.statusCode, url).toBe(404)
        expect(res.json(), url).toMatchObject({
          type: '/problems/not-found',
          detail: `No tenant ${tenantId}`,
        })
      }
    }
  })

  it('serves the console: index.html revalidated, hashed assets cached for a year, client routes fall back', async () => {
    const index = await t.app.inject({ method: 'GET', url: '/dashboard/' })
    expect(index.statusCode).toBe(200)
    expect(index.body).toContain('<title>console</title>')
    expect(index.headers['cache-control']).toBe('no-cache')
    const asset = await t.app.inject({ method: 'GET', url: '/dashboard/assets/index-abc123.js' })
    expect(asset.statusCode).toBe(200)
    expect(asset.headers['cache-control']).toBe('public, max-age=31536000, immutable')
    const route = await t.app.inject({ method: 'GET', url: '/dashboard/tenants/123/keys' })
    expect(route.statusCode).toBe(200)
    expect(route.body).toContain('<title>console</title>')
    expect(route.headers['cache-control']).toBe('no-cache')
    const missing = await t.app.inject({ method: 'GET', url: '/dashboard/assets/gone.js' })
    expect(missing.statusCode).toBe(404)
    expect(missing.json()).toMatchObject({ type: '/problems/not-found' })
    const bare = await t.app.inject({ method: 'GET', url: '/dashboard' })
    expect(bare.statusCode).toBe(308)
    expect(bare.headers.location).toBe('/dashboard/')
  })
})

describe('a checkout whose dashboard is not built', () => {
  let t: TestApp

  beforeAll(async () => {
    t = await startTestApp({ env: { DASHBOARD_DIR: mkdtempSync(join(tmpdir(), 'pos-no-dashboard-')) } })
  })
  afterAll(() => t.close())

  it('answers /dashboard/ with a problem that says how to build it', async () => {
    for (const url of ['/dashboard/', '/dashboard/tenants']) {
      const response = await t.app.inject({ method: 'GET', url })
      expect(response.statusCode, url).toBe(404)
      expect(response.json()).toMatchObject({ type: '/problems/not-found' })
      expect(response.json().detail).toContain('npm run build')
    }
  })
})
