// SQL for stock levels as the API shows them: per store (by the tenant's store code) and SKU.
// Reads `stock_levels` and `stores`, which only the ingest write path writes (WRITE_BATCH and COUNT_STOCK in
// ingest/statements.ts; stores in ingest/projections.ts).
import type { Static } from '@fastify/type-provider-typebox'
import type { StockLevel } from '@pos/contracts/inventory'
import { and, asc, eq, gt, type SQL } from 'drizzle-orm'
import { stockLevels, stores } from '../../db/schema.js'
import type { Database } from '../../platform/database.js'
import { timedQuery } from '../../platform/metrics.js'
import { type PageRequest, type Slice, sliceRows } from '../../platform/pagination.js'

/** Stock of one SKU in one store; storeId is the tenant's store code, never the internal id. */
export type StockLevelView = Static<typeof StockLevel>

export interface StockLevelFilter {
  readonly storeCode?: string | undefined
  readonly sku?: string | undefined
}

export class InventoryRepository {
  constructor(private readonly db: Database) {}

  /** One page of the tenant's stock levels, in the order they were first stored. */
  listStockLevels(
    tenantId: string,
    filter: StockLevelFilter,
    page: PageRequest<number>,
  ): Promise<Slice<StockLevelView, number>> {
    return timedQuery('inventory.listStockLevels', async () => {
      const conditions: (SQL | undefined)[] = [
        eq(stockLevels.tenantId, tenantId),
        filter.storeCode === undefined ? undefined : eq(stores.code, filter.storeCode),
        filter.sku === undefined ? undefined : eq(stockLevels.sku, filter.sku),
        page.after === undefined ? undefined : gt(stockLevels.id, page.after),
      ]
      const rows = await this.db
        .select({
          id: stockLevels.id,
          storeCode: stores.code,
          sku: stockLevels.sku,
          onHand: stockLevels.onHand,
          countedAt: stockLevels.countedAt,
          updatedAt: stockLevels.updatedAt,
        })
        .from(stockLevels)
        .innerJoin(stores, eq(stores.id, stockLevels.storeId))
        .where(and(...conditions))
        .orderBy(asc(stockLevels.id))
        .limit(page.limit + 1)
      return sliceRows(
        rows,
        page.limit,
        (row) => ({
          storeId: row.storeCode,
          sku: row.sku,
          // numeric arrives as a decimal string; quantities are served as JSON numbers.
          onHand: Number(row.onHand),
          countedAt: row.countedAt?.toISOString() ?? null,
          updatedAt: row.updatedAt.toISOString(),
        }),
        (row) => row.id,
      )
    })
  }
}
