import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { orders, products } from '../../src/db/schema.js'
import type { TestApp } from '../helpers/app.js'
import { createStore, get, getPage, type SeededTenant, startReadApp } from '../helpers/read-seed.js'
import { createApiKey } from '../helpers/tenants.js'

const ROUTES = [
  '/v1/products',
  '/v1/products/SKU-1',
  '/v1/inventory',
  '/v1/orders',
  '/v1/orders/ORD-1',
  '/v1/events',
]
const LISTS = ['/v1/products', '/v1/inventory', '/v1/orders', '/v1/events']

const base64url = (text: string) => Buffer.from(text, 'utf8').toString('base64url')

describe('access to the read API', () => {
  let t: TestApp
  let a: SeededTenant
  let ingestOnlyKey: string

  beforeAll(async () => {
    const seeded = await startReadApp()
    t = seeded.t
    a = seeded.a
    const db = seeded.db
    ingestOnlyKey = await createApiKey(db, a.id, ['ingest', 'write'])
    const store = await createStore(db, a.id, 'MAIN')
    const at = new Date('2024-01-01T00:00:00.000Z')
    for (const sku of ['SKU-1', 'SKU-2']) {
      await db
        .insert(products)
        .values({ tenantId: a.id, sku, name: sku, priceAmount: 1, currency: 'EUR', changedAt: at })
    }
    await db.insert(orders).values({
      tenantId: a.id,
      orderId: 'ORD-1',
      storeId: store,
      status: 'OPEN',
      currency: 'EUR',
      totalAmount: 1,
      changedAt: at,
    })
  })
  afterAll(() => t.close())

  it('answers every route with 200 to a key with the read scope', async () => {
    for (const url of ROUTES) expect((await get(t, a.key, url)).statusCode, url).toBe(200)
  })

  it('is 401 on every route without a key, or with a key that does not exist', async () => {
    for (const url of ROUTES) {
      const missing = await t.app.inject({ method: 'GET', url })
      expect(missing.statusCode, url).toBe(401)
      expect(missing.headers['www-authenticate']).toBe('Bearer')
      expect(missing.json()).toMatchObject({ type: '/problems/unauthorized' })
      const unknown = await get(t, `pos_${'x'.repeat(32)}`, url)
      expect(unknown.statusCode, url).toBe(401)
    }
  })

  it('is 403 on every route for a key without the read scope', async () => {
    for (const url of ROUTES) {
      const res = await get(t, ingestOnlyKey, url)
      expect(res.statusCode, url).toBe(403)
      expect(res.json()).toMatchObject({ type: '/problems/forbidden' })
    }
  })

  it('refuses a malformed cursor on every list with 400 invalid-parameters', async () => {
    const cursors = [
      'not a cursor',
      '%%%',
      'abc',
      base64url('products'),
      base64url('products.'),
      base64url('products.abc'),
      base64url('products.1.2'),
      base64url('products.-1'),
      base64url('products.01'),
      base64url('products.99999999999999999999'),
      base64url('events.1'),
      base64url('events.1.x'),
      base64url('events.99999999999999999999.1'),
      'A'.repeat(201),
    ]
    for (const url of LISTS) {
      for (const cursor of cursors) {
        const res = await get(t, a.key, `${url}?after=${encodeURIComponent(cursor)}`)
        expect(res.statusCode, `${url} ${cursor}`).toBe(400)
        expect(res.json()).toMatchObject({ type: '/problems/invalid-parameters', status: 400 })
      }
    }
  })

  it("refuses one list's cursor on another list", async () => {
    const { nextCursor } = await getPage(t, a.key, '/v1/products?limit=1')
    expect(nextCursor).toEqual(expect.any(String))
    expect((await get(t, a.key, `/v1/products?after=${nextCursor}`)).statusCode).toBe(200)
    for (const url of ['/v1/inventory', '/v1/orders', '/v1/events']) {
      const res = await get(t, a.key, `${url}?after=${nextCursor}`)
      expect(res.statusCode, url).toBe(400)
      expect(res.json()).toMatchObject({ type: '/problems/invalid-parameters' })
    }
  })

  it('refuses a cursor spelled differently from the one the service handed out', async () => {
    const { nextCursor } = await getPage(t, a.key, '/v1/products?limit=1')
    const cursor = nextCursor!
    const bytes = Buffer.from(cursor, 'base64url')
    // The last character of base64url carries unused bits: other spellings decode to the same bytes.
    const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_'
    const respellings = [...alphabet]
      .map((last) => `${cursor.slice(0, -1)}${last}`)
      .filter((spelling) => spelling !== cursor && Buffer.from(spelling, 'base64url').equals(bytes))
    expect(respellings.length).toBeGreaterThan(0)
    for (const spelling of [...respellings, `${cursor}=`]) {
      const res = await get(t, a.key, `/v1/products?after=${encodeURIComponent(spelling)}`)
      expect(res.statusCode, spelling).toBe(400)
    }
  })

  it('refuses a limit outside 1..500 with 400 invalid-parameters', async () => {
    for (const url of LISTS) {
      for (const limit of ['0', '501', '-1', '2.5', 'ten']) {
        const res = await get(t, a.key, `${url}?limit=${limit}`)
        expect(res.statusCode, `${url} ${limit}`).toBe(400)
        expect(res.json()).toMatchObject({ type: '/problems/invalid-parameters' })
      }
      expect((await get(t, a.key, `${url}?limit=500`)).statusCode).toBe(200)
    }
  })

  it('describes every read route in the OpenAPI document, tagged by resource', async () => {
    const document = (await t.app.inject('/openapi.json')).json() as {
      paths: Record<string, { get?: { tags?: string[] } }>
    }
    expect(document.paths['/v1/products']?.get?.tags).toEqual(['products'])
    expect(document.paths['/v1/products/{sku}']?.get?.tags).toEqual(['products'])
    expect(document.paths['/v1/inventory']?.get?.tags).toEqual(['inventory'])
    expect(document.paths['/v1/orders']?.get?.tags).toEqual(['orders'])
    expect(document.paths['/v1/orders/{orderId}']?.get?.tags).toEqual(['orders'])
    expect(document.paths['/v1/events']?.get?.tags).toEqual(['events'])
  })
})
