// Stock on hand as the API shows it: per store (by the tenant's store code) and SKU, a page at a time. Stock
// levels are written only by the ingest write path (inventory.adjusted in WRITE_BATCH, inventory.counted in
// COUNT_STOCK), never here.
import type { PageQuery } from '@pos/contracts/pagination'
import type { Database } from '../../platform/database.js'
import { idCursor } from '../../platform/pagination.js'
import { InventoryRepository, type StockLevelFilter } from './repository.js'

const stockCursor = idCursor('inventory')

export class InventoryService {
  readonly #repository: InventoryRepository

  constructor(db: Database) {
    this.#repository = new InventoryRepository(db)
  }

  async listStockLevels(tenantId: string, filter: StockLevelFilter, query: PageQuery) {
    const slice = await this.#repository.listStockLevels(tenantId, filter, stockCursor.request(query))
    return stockCursor.page(slice)
  }
}
