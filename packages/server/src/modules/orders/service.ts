// Orders as the API shows them: a page at a time, or one in full with its line items and refunds. Orders and
// their line items are written only by the ingest write path (ingest/projections.ts), refunds by WRITE_BATCH.
import type { PageQuery } from '@pos/contracts/pagination'
import type { Database } from '../../platform/database.js'
import { type CursorCodec, type CursorSeal, idCursor } from '../../platform/pagination.js'
import { ProblemError } from '../../platform/problems.js'
import { type OrderDetailView, type OrderFilter, OrdersRepository } from './repository.js'

export class OrdersService {
  readonly #repository: OrdersRepository

  readonly #cursors: CursorCodec<number>

  /** `cursors` seals the list's cursors (CursorSeal.of the process's secrets). */
  constructor(db: Database, cursors: CursorSeal) {
    this.#repository = new OrdersRepository(db)
    this.#cursors = idCursor('orders', cursors)
  }

  async listOrders(tenantId: string, filter: OrderFilter, query: PageQuery) {
    const slice = await this.#repository.listOrders(tenantId, filter, this.#cursors.request(query))
    return this.#cursors.page(slice)
  }

  /** The order with the id the POS sent; 404 not-found when the tenant has none. */
  async getOrder(tenantId: string, orderId: string): Promise<OrderDetailView> {
    const order = await this.#repository.findOrder(tenantId, orderId)
    if (order === undefined) throw new ProblemError('not-found', `No order ${orderId}`)
    return order
  }
}
