// Stock on hand as the API shows it: per store (by the tenant's store code) and SKU, a page at a time. Stock
// levels are written only by the ingest write path (inventory.adjusted in WRITE_BATCH, inventory.counted in
// COUNT_STOCK), never here.
import type { PageQuery } from '@pos/contracts/pagination'
import type { Database } from '../../platform/database.js'
import { type CursorCodec, type CursorSeal, idCursor } from '../../platform/pagination.js'
import { InventoryRepository, type StockLevelFilter } from './repository.js'

export class InventoryService {
  readonly #repository: InventoryRepository

  readonly #cursors: CursorCodec<number>

  /** `cursors` seals the list's cursors (CursorSeal.of the process's secrets). */
  constructor(db: Database, cursors: CursorSeal) {
    this.#repository = new InventoryRepository(db)
    this.#cursors = idCursor('inventory', cursors)
  }

  async listStockLevels(tenantId: string, filter: StockLevelFilter, query: PageQuery) {
    const slice = await this.#repository.listStockLevels(tenantId, filter, this.#cursors.request(query))
    return this.#cursors.page(slice)
  }
}
