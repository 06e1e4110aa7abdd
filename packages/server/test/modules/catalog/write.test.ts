import { randomUUID } from 'node:crypto'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { startTestApp, type TestApp } from '../../helpers/app.js'
import { createApiKey, createTenant, type TenantFixture } from '../../helpers/tenants.js'
import { waitFor } from '../../helpers/wait.js'

describe('product writes', () => {
  let t: TestApp
  let a: TenantFixture
  let b: TenantFixture
  beforeAll(async () => {
    t = await startTestApp()
    a = await createTenant(t.platform.database.db, { name: 'A' })
    b = await createTenant(t.platform.database.db, { name: 'B' })
  })
  afterAll(() => t.close())

  const call = (
    key: string,
    method: 'POST' | 'PUT' | 'DELETE' | 'GET',
    url: string,
    payload?: object,
    headers = {},
  ) =>
    t.app.inject({
      method,
      url,
      headers: { authorization: `Bearer ${key}`, ...headers },
      ...(payload ? { payload } : {}),
    })

  it('creates, replaces and deletes a product, each change landing in the change feed', async () => {
    const created = await call(a.key, 'POST', '/v1/products', {
      sku: 'W-1',
      name: 'Espresso',
      price: { amount: 250, currency: 'EUR' },
    })
    expect(created.statusCode).toBe(201)
    expect(created.json()).toMatchObject({
      sku: 'W-1',
      name: 'Espresso',
      price: { amount: 250, currency: 'EUR' },
      barcode: null,
      deleted: false,
    })

    const replaced = await call(a.key, 'PUT', '/v1/products/W-1', {
      name: 'Double espresso',
      price: { amount: 390, currency: 'EUR' },
      barcode: '123',
    })
    expect(replaced.statusCode).toBe(200)
    expect(replaced.json()).toMatchObject({
      sku: 'W-1',
      name: 'Double espresso',
      price: { amount: 390 },
      barcode: '123',
    })
    expect((await call(a.key, 'GET', '/v1/products/W-1')).json().name).toBe('Double espresso')

    expect((await call(a.key, 'DELETE', '/v1/products/W-1')).statusCode).toBe(204)
    expect((await call(a.key, 'GET', '/v1/products/W-1')).statusCode).toBe(404)
    expect((await call(a.key, 'DELETE', '/v1/products/W-1')).statusCode).toBe(404)

    // An event is in the feed once every older transaction of the PostgreSQL server has ended, and other
    // test files (or anything else on the server) may hold one open a while: wait for the third change.
    const changes = await waitFor(
      async () => {
        const feed = (await call(a.key, 'GET', '/v1/events?limit=500')).json() as {
          data: { source: string; type: string; data: { sku: string } }[]
        }
        const found = feed.data.filter((e) => e.data.sku === 'W-1').map((e) => [e.source, e.type])
        return found.length >= 3 ? found : undefined
      },
      { description: 'the three changes in the feed' },
    )
    expect(changes).toEqual([
      ['api', 'product.upserted'],
      ['api', 'product.upserted'],
      ['api', 'product.deleted'],
    ])
  })

  it('refuses to create a SKU that exists with 409, and PUT creates one that does not', async () => {
    await call(a.key, 'PUT', '/v1/products/W-2', { name: 'Tea', price: { amount: 200, currency: 'EUR' } })
    const again = await call(a.key, 'POST', '/v1/products', {
      sku: 'W-2',
      name: 'Tea',
      price: { amount: 200, currency: 'EUR' },
    })
    expect(again.statusCode).toBe(409)
    expect(again.json().type).toBe('/problems/conflict')
  })

  it('PUT takes the product without its SKU and replaces it whole, as the read-api guide says', async () => {
    const body = { name: 'Tea', price: { amount: 200, currency: 'EUR' }, barcode: '4006381333931' }
    expect((await call(a.key, 'PUT', '/v1/products/PUT-1', body)).json()).toMatchObject({
      barcode: '4006381333931',
    })
    const { barcode: _dropped, ...withoutBarcode } = body
    const replaced = await call(a.key, 'PUT', '/v1/products/PUT-1', withoutBarcode)
    expect(replaced.statusCode).toBe(200)
    expect(replaced.json()).toMatchObject({ sku: 'PUT-1', name: 'Tea', barcode: null })
    const withSku = await call(a.key, 'PUT', '/v1/products/PUT-1', { sku: 'PUT-1', ...body })
    expect(withSku.statusCode).toBe(422)
    expect(withSku.json().detail).toBe('sku is not a field of this object')
  })

  it('enforces an Idempotency-Key when one is sent', async () => {
    const key = randomUUID()
    const body = { sku: 'W-3', name: 'Cake', price: { amount: 450, currency: 'EUR' } }
    expect((await call(a.key, 'POST', '/v1/products', body, { 'idempotency-key': key })).statusCode).toBe(201)
    const replay = await call(a.key, 'POST', '/v1/products', body, { 'idempotency-key': key })
    expect(replay.statusCode).toBe(201)
    expect(replay.headers['idempotent-replayed']).toBe('true')
    expect(replay.json()).toMatchObject({ sku: 'W-3', name: 'Cake' })
    const reused = await call(
      a.key,
      'POST',
      '/v1/products',
      { ...body, name: 'Pie' },
      { 'idempotency-key': key },
    )
    expect(reused.statusCode).toBe(422)
    expect((await call(a.key, 'GET', '/v1/products/W-3')).json().name).toBe('Cake')
  })

  it('validates the body strictly', async () => {
    const res = await call(a.key, 'POST', '/v1/products', {
      sku: 'W-4',
      name: 'X',
      price: { amount: '10', currency: 'EUR' },
    })
    expect(res.statusCode).toBe(422)
    expect(res.json()).toMatchObject({ errors: [{ pointer: '/price/amount' }] })
    const unknown = await call(a.key, 'PUT', '/v1/products/W-4', {
      name: 'X',
      price: { amount: 1, currency: 'EUR' },
      colour: 'red',
    })
    expect(unknown.statusCode).toBe(422)
  })

  it('needs the write scope, and keeps tenants apart', async () => {
    const readOnly = await createApiKey(t.platform.database.db, a.tenantId, ['read', 'ingest'])
    expect(
      (await call(readOnly, 'PUT', '/v1/products/W-5', { name: 'X', price: { amount: 1, currency: 'EUR' } }))
        .statusCode,
    ).toBe(403)
    await call(a.key, 'PUT', '/v1/products/W-6', { name: 'Only A', price: { amount: 1, currency: 'EUR' } })
    expect((await call(b.key, 'DELETE', '/v1/products/W-6')).statusCode).toBe(404)
    expect((await call(b.key, 'GET', '/v1/products/W-6')).statusCode).toBe(404)
    expect((await call(a.key, 'GET', '/v1/products/W-6')).statusCode).toBe(200)
    // B creating the same SKU does not touch A's product.
    expect(
      (
        await call(b.key, 'POST', '/v1/products', {
          sku: 'W-6',
          name: 'Only B',
          price: { amount: 2, currency: 'EUR' },
        })
      ).statusCode,
    ).toBe(201)
    expect((await call(a.key, 'GET', '/v1/products/W-6')).json().name).toBe('Only A')
  })
})
