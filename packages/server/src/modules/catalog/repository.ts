// SQL for the tenant's product catalog as the API shows it. Every query is scoped to one tenant.
// Reads `products`, which only the ingest write path writes (WRITE_BATCH in ingest/statements.ts).
import type { Static } from '@fastify/type-provider-typebox'
import type { Product } from '@pos/contracts/product'
import { and, asc, eq, gt, isNull, type SQL } from 'drizzle-orm'
import { products } from '../../db/schema.js'
import type { Database } from '../../platform/database.js'
import { timedQuery } from '../../platform/metrics.js'
import { type PageRequest, type Slice, sliceRows } from '../../platform/pagination.js'

export type ProductView = Static<typeof Product>

export interface ProductFilter {
  readonly sku?: string | undefined
  readonly barcode?: string | undefined
  readonly includeDeleted: boolean
}

const productColumns = {
  id: products.id,
  sku: products.sku,
  name: products.name,
  priceAmount: products.priceAmount,
  currency: products.currency,
  barcode: products.barcode,
  deletedAt: products.deletedAt,
  updatedAt: products.updatedAt,
}

function toProductView(row: {
  sku: string
  name: string
  priceAmount: number
  currency: string
  barcode: string | null
  deletedAt: Date | null
  updatedAt: Date
}): ProductView {
  return {
    sku: row.sku,
    name: row.name,
    price: { amount: row.priceAmount, currency: row.currency },
    barcode: row.barcode,
    deleted: row.deletedAt !== null,
    updatedAt: row.updatedAt.toISOString(),
  }
}

export class CatalogRepository {
  constructor(private readonly db: Database) {}

  /** One page of the tenant's products, in the order they were first stored. */
  listProducts(
    tenantId: string,
    filter: ProductFilter,
    page: PageRequest<number>,
  ): Promise<Slice<ProductView, number>> {
    return timedQuery('catalog.listProducts', async () => {
      const conditions: (SQL | undefined)[] = [
        eq(products.tenantId, tenantId),
        filter.sku === undefined ? undefined : eq(products.sku, filter.sku),
        filter.barcode === undefined ? undefined : eq(products.barcode, filter.barcode),
        filter.includeDeleted ? undefined : isNull(products.deletedAt),
        page.after === undefined ? undefined : gt(products.id, page.after),
      ]
      const rows = await this.db
        .select(productColumns)
        .from(products)
        .where(and(...conditions))
        .orderBy(asc(products.id))
        .limit(page.limit + 1)
      return sliceRows(rows, page.limit, toProductView, (row) => row.id)
    })
  }

  /** The tenant's product with this SKU, unless it is missing or deleted. */
  findProduct(tenantId: string, sku: string): Promise<ProductView | undefined> {
    return timedQuery('catalog.findProduct', async () => {
      const rows = await this.db
        .select(productColumns)
        .from(products)
        .where(and(eq(products.tenantId, tenantId), eq(products.sku, sku), isNull(products.deletedAt)))
        .limit(1)
      const row = rows[0]
      return row && toProductView(row)
    })
  }
}
