import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { products } from '../../../src/db/schema.js'
import type { Database } from '../../../src/platform/database.js'
import type { TestApp } from '../../helpers/app.js'
import {
  createTenant,
  get,
  getPage,
  type SeededTenant,
  startReadApp,
  walkPages,
} from '../../helpers/read-seed.js'

const UPDATED = new Date('2024-05-01T12:30:00.123Z')

/** Tenant A's SKU-1 as the API shows it. */
const ESPRESSO = {
  sku: 'SKU-1',
  name: 'Espresso',
  price: { amount: 250, currency: 'EUR' },
  barcode: '4001',
  deleted: false,
  updatedAt: '2024-05-01T12:30:00.123Z',
}

async function addProduct(
  db: Database,
  tenantId: string,
  sku: string,
  fields: Partial<typeof products.$inferInsert> = {},
): Promise<void> {
  await db.insert(products).values({
    tenantId,
    sku,
    name: `Product ${sku}`,
    priceAmount: 100,
    currency: 'EUR',
    changedAt: UPDATED,
    updatedAt: UPDATED,
    ...fields,
  })
}

describe('the product routes', () => {
  let t: TestApp
  let a: SeededTenant
  let b: SeededTenant
  let many: SeededTenant
  let db: Database

  beforeAll(async () => {
    ;({ t, db, a, b } = await startReadApp())
    many = await createTenant(db, 'Tenant with many products')
    await addProduct(db, a.id, 'SKU-1', { name: 'Espresso', priceAmount: 250, barcode: '4001' })
    await addProduct(db, a.id, 'SKU-2', { name: 'Latte', priceAmount: 390 })
    await addProduct(db, a.id, 'SKU-3', { name: 'Retired', barcode: '4003', deletedAt: UPDATED })
    await addProduct(db, a.id, 'SKU-4', { name: 'Big', priceAmount: 9_007_199_254_740_991, currency: 'JPY' })
    await addProduct(db, b.id, 'SKU-1', {
      name: 'Green tea',
      priceAmount: 120,
      currency: 'USD',
      barcode: '4001',
    })
    await addProduct(db, b.id, 'SKU-B', { name: 'Only in B' })
    for (let i = 0; i < 60; i++) await addProduct(db, many.id, `M-${String(i).padStart(2, '0')}`)
  })
  afterAll(() => t.close())

  describe('GET /v1/products', () => {
    const skus = (page: { data: Record<string, unknown>[] }) => page.data.map((item) => item.sku)

    it('lists the products of the tenant in the order they were stored, leaving out deleted ones', async () => {
      const page = await getPage(t, a.key, '/v1/products')
      expect(page).toEqual({
        data: [
          ESPRESSO,
          {
            sku: 'SKU-2',
            name: 'Latte',
            price: { amount: 390, currency: 'EUR' },
            barcode: null,
            deleted: false,
            updatedAt: '2024-05-01T12:30:00.123Z',
          },
          {
            sku: 'SKU-4',
            name: 'Big',
            price: { amount: 9_007_199_254_740_991, currency: 'JPY' },
            barcode: null,
            deleted: false,
            updatedAt: '2024-05-01T12:30:00.123Z',
          },
        ],
        nextCursor: null,
      })
    })

    it('includes deleted products, marked deleted, with ?includeDeleted=true', async () => {
      const page = await getPage(t, a.key, '/v1/products?includeDeleted=true')
      expect(skus(page)).toEqual(['SKU-1', 'SKU-2', 'SKU-3', 'SKU-4'])
      expect(page.data[2]).toMatchObject({ sku: 'SKU-3', deleted: true, barcode: '4003' })
      expect(skus(await getPage(t, a.key, '/v1/products?includeDeleted=false'))).toEqual([
        'SKU-1',
        'SKU-2',
        'SKU-4',
      ])
    })

    it('filters by SKU and by barcode', async () => {
      expect(skus(await getPage(t, a.key, '/v1/products?sku=SKU-2'))).toEqual(['SKU-2'])
      expect(skus(await getPage(t, a.key, '/v1/products?barcode=4001'))).toEqual(['SKU-1'])
      expect(skus(await getPage(t, a.key, '/v1/products?sku=SKU-1&barcode=4003'))).toEqual([])
      expect(skus(await getPage(t, a.key, '/v1/products?sku=nothing'))).toEqual([])
    })

    it('finds a deleted product by SKU or barcode only with ?includeDeleted=true', async () => {
      expect(skus(await getPage(t, a.key, '/v1/products?sku=SKU-3'))).toEqual([])
      expect(skus(await getPage(t, a.key, '/v1/products?barcode=4003'))).toEqual([])
      expect(skus(await getPage(t, a.key, '/v1/products?barcode=4003&includeDeleted=true'))).toEqual([
        'SKU-3',
      ])
    })

    it('serves 50 products per page by default, then the rest', async () => {
      const first = await getPage(t, many.key, '/v1/products')
      expect(first.data).toHaveLength(50)
      expect(first.nextCursor).toEqual(expect.any(String))
      const second = await getPage(t, many.key, `/v1/products?after=${first.nextCursor}`)
      expect(second.data).toHaveLength(10)
      expect(second.nextCursor).toBeNull()
    })

    it('walks every product exactly once across pages, in order', async () => {
      const pages = await walkPages(t, many.key, '/v1/products', 7)
      expect(pages.map((page) => page.data.length)).toEqual([7, 7, 7, 7, 7, 7, 7, 7, 4])
      const expected = Array.from({ length: 60 }, (_, i) => `M-${String(i).padStart(2, '0')}`)
      expect(pages.flatMap(skus)).toEqual(expected)
    })

    it('keeps the filters across pages', async () => {
      const pages = await walkPages(t, a.key, '/v1/products?includeDeleted=true', 1)
      expect(pages.flatMap(skus)).toEqual(['SKU-1', 'SKU-2', 'SKU-3', 'SKU-4'])
      expect(pages.at(-1)?.nextCursor).toBeNull()
    })

    it('shows a product stored during a walk once, on a later page, without repeating any', async () => {
      const c = await createTenant(db, 'Tenant growing during a walk')
      for (const sku of ['G-1', 'G-2', 'G-3']) await addProduct(db, c.id, sku)
      const first = await getPage(t, c.key, '/v1/products?limit=2')
      await addProduct(db, c.id, 'G-4')
      const second = await getPage(t, c.key, `/v1/products?limit=2&after=${first.nextCursor}`)
      expect([...skus(first), ...skus(second)]).toEqual(['G-1', 'G-2', 'G-3', 'G-4'])
      expect(second.nextCursor).toBeNull()
    })

    it('shows another tenant none of these products', async () => {
      const page = await getPage(t, b.key, '/v1/products?includeDeleted=true&limit=500')
      expect(page.data).toEqual([
        expect.objectContaining({ sku: 'SKU-1', name: 'Green tea', price: { amount: 120, currency: 'USD' } }),
        expect.objectContaining({ sku: 'SKU-B' }),
      ])
      expect(skus(await getPage(t, b.key, '/v1/products?sku=SKU-2'))).toEqual([])
      expect(skus(await getPage(t, b.key, '/v1/products?barcode=4003&includeDeleted=true'))).toEqual([])
    })

    it('refuses a hand-made or edited cursor with 400, and its cursors show no id', async () => {
      const nextCursor = (await getPage(t, a.key, '/v1/products?limit=1')).nextCursor ?? ''
      expect(Buffer.from(nextCursor, 'base64url').toString('latin1')).not.toMatch(/products\.\d/)
      const edited = `${nextCursor.slice(0, 20)}${nextCursor[20] === 'A' ? 'B' : 'A'}${nextCursor.slice(21)}`
      for (const after of [Buffer.from('products.0').toString('base64url'), edited]) {
        const res = await get(t, a.key, `/v1/products?after=${after}`)
        expect(res.statusCode).toBe(400)
        expect(res.json()).toMatchObject({ type: '/problems/invalid-parameters' })
      }
    })

    it("reads only the caller's products when handed another tenant's cursor", async () => {
      // A's first product was stored before all of B's: the cursor only says where to start.
      const { nextCursor } = await getPage(t, a.key, '/v1/products?limit=1')
      const page = await getPage(t, b.key, `/v1/products?after=${nextCursor}`)
      expect(skus(page)).toEqual(['SKU-1', 'SKU-B'])
    })
  })

  describe('GET /v1/products/:sku', () => {
    it('answers one product', async () => {
      const res = await get(t, a.key, '/v1/products/SKU-1')
      expect(res.statusCode).toBe(200)
      expect(res.json()).toEqual(ESPRESSO)
    })

    it('finds a SKU with reserved characters when it is percent-encoded', async () => {
      const c = await createTenant(db, 'Tenant with odd SKUs')
      await addProduct(db, c.id, 'SKU 2/x', { name: 'Odd SKU' })
      const res = await get(t, c.key, `/v1/products/${encodeURIComponent('SKU 2/x')}`)
      expect(res.statusCode).toBe(200)
      expect(res.json()).toMatchObject({ sku: 'SKU 2/x', name: 'Odd SKU' })
    })

    it('is 404 not-found for a deleted product and for a missing one', async () => {
      for (const sku of ['SKU-3', 'SKU-404']) {
        const res = await get(t, a.key, `/v1/products/${sku}`)
        expect(res.statusCode).toBe(404)
        expect(res.json()).toMatchObject({ type: '/problems/not-found', status: 404 })
      }
    })

    it("answers each tenant with its own product of a shared SKU, and never with another tenant's", async () => {
      expect((await get(t, b.key, '/v1/products/SKU-1')).json()).toMatchObject({ name: 'Green tea' })
      const foreign = await get(t, b.key, '/v1/products/SKU-2')
      const missing = await get(t, b.key, '/v1/products/SKU-404')
      expect(foreign.statusCode).toBe(404)
      expect(foreign.json().title).toBe(missing.json().title)
      expect(foreign.json().type).toBe(missing.json().type)
    })
  })
})
