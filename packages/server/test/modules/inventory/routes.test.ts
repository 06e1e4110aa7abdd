import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { stockLevels } from '../../../src/db/schema.js'
import type { Database } from '../../../src/platform/database.js'
import type { TestApp } from '../../helpers/app.js'
import { createStore, getPage, type SeededTenant, startReadApp, walkPages } from '../../helpers/read-seed.js'

const COUNTED = new Date('2024-06-01T08:00:00.000Z')
const UPDATED = new Date('2024-06-02T09:15:30.250Z')

describe('GET /v1/inventory', () => {
  let t: TestApp
  let a: SeededTenant
  let b: SeededTenant

  beforeAll(async () => {
    let db: Database
    ;({ t, db, a, b } = await startReadApp())
    const aMain = await createStore(db, a.id, 'MAIN')
    const aAirport = await createStore(db, a.id, 'AIRPORT')
    const bMain = await createStore(db, b.id, 'MAIN')
    const level = { countedAt: null, updatedAt: UPDATED }
    await db.insert(stockLevels).values([
      { ...level, tenantId: a.id, storeId: aMain, sku: 'SKU-1', onHand: '12.500000', countedAt: COUNTED },
      { ...level, tenantId: a.id, storeId: aMain, sku: 'SKU-2', onHand: '3' },
      { ...level, tenantId: b.id, storeId: bMain, sku: 'SKU-1', onHand: '99' },
      { ...level, tenantId: a.id, storeId: aAirport, sku: 'SKU-1', onHand: '-2.25' },
      { ...level, tenantId: a.id, storeId: aAirport, sku: 'SKU-3', onHand: '0.000001' },
    ])
  })
  afterAll(() => t.close())

  const places = (page: { data: Record<string, unknown>[] }) =>
    page.data.map((item) => `${item.storeId}/${item.sku}`)

  it('lists stock levels by store code and SKU, with quantities as numbers', async () => {
    const page = await getPage(t, a.key, '/v1/inventory')
    expect(page).toEqual({
      data: [
        {
          storeId: 'MAIN',
          sku: 'SKU-1',
          onHand: 12.5,
          countedAt: '2024-06-01T08:00:00.000Z',
          updatedAt: '2024-06-02T09:15:30.250Z',
        },
        { storeId: 'MAIN', sku: 'SKU-2', onHand: 3, countedAt: null, updatedAt: '2024-06-02T09:15:30.250Z' },
        {
          storeId: 'AIRPORT',
          sku: 'SKU-1',
          onHand: -2.25,
          countedAt: null,
          updatedAt: '2024-06-02T09:15:30.250Z',
        },
        {
          storeId: 'AIRPORT',
          sku: 'SKU-3',
          onHand: 0.000001,
          countedAt: null,
          updatedAt: '2024-06-02T09:15:30.250Z',
        },
      ],
      nextCursor: null,
    })
    for (const item of page.data) expect(typeof item.onHand).toBe('number')
  })

  it('filters by store code, by SKU, and by both', async () => {
    expect(places(await getPage(t, a.key, '/v1/inventory?storeId=AIRPORT'))).toEqual([
      'AIRPORT/SKU-1',
      'AIRPORT/SKU-3',
    ])
    expect(places(await getPage(t, a.key, '/v1/inventory?sku=SKU-1'))).toEqual([
      'MAIN/SKU-1',
      'AIRPORT/SKU-1',
    ])
    expect(places(await getPage(t, a.key, '/v1/inventory?storeId=MAIN&sku=SKU-2'))).toEqual(['MAIN/SKU-2'])
    expect(places(await getPage(t, a.key, '/v1/inventory?storeId=NOWHERE'))).toEqual([])
  })

  it('walks every stock level exactly once across pages, filters included', async () => {
    const pages = await walkPages(t, a.key, '/v1/inventory', 1)
    expect(pages.map((page) => page.data.length)).toEqual([1, 1, 1, 1])
    expect(pages.flatMap(places)).toEqual(['MAIN/SKU-1', 'MAIN/SKU-2', 'AIRPORT/SKU-1', 'AIRPORT/SKU-3'])
    const filtered = await walkPages(t, a.key, '/v1/inventory?sku=SKU-1', 1)
    expect(filtered.flatMap(places)).toEqual(['MAIN/SKU-1', 'AIRPORT/SKU-1'])
    const full = await walkPages(t, a.key, '/v1/inventory', 4)
    expect(full.map((page) => page.nextCursor)).toEqual([null])
  })

  it("shows another tenant none of this tenant's stock, even under the same store code", async () => {
    const page = await getPage(t, b.key, '/v1/inventory')
    expect(places(page)).toEqual(['MAIN/SKU-1'])
    expect(page.data[0]).toMatchObject({ onHand: 99 })
    expect(places(await getPage(t, b.key, '/v1/inventory?storeId=MAIN&sku=SKU-1'))).toEqual(['MAIN/SKU-1'])
    expect(places(await getPage(t, b.key, '/v1/inventory?storeId=AIRPORT'))).toEqual([])
    expect(places(await getPage(t, b.key, '/v1/inventory?sku=SKU-3'))).toEqual([])
  })
})
