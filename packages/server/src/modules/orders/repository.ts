// SQL for orders as the API shows them: the order, its line items and the refunds recorded for its id.
// Reads `orders`, `order_line_items` and `refunds`, which only the ingest write path writes (ingest/projections.ts
// for orders and line items, WRITE_BATCH for refunds).
import type { Static } from '@fastify/type-provider-typebox'
import type { Order, OrderDetail, OrderStatus } from '@pos/contracts/order'
import { and, asc, eq, gt, type SQL, sql } from 'drizzle-orm'
import { orderLineItems, orders, refunds, stores } from '../../db/schema.js'
import type { Database } from '../../platform/database.js'
import { timedQuery } from '../../platform/metrics.js'
import { type PageRequest, type Slice, sliceRows } from '../../platform/pagination.js'

/** An order as a list shows it; storeId is the tenant's store code, never the internal id. */
export type OrderView = Static<typeof Order>
export type OrderDetailView = Static<typeof OrderDetail>

export interface OrderFilter {
  readonly storeCode?: string | undefined
  readonly status?: OrderStatus | undefined
  /** RFC 3339; PostgreSQL parses it, so sub-millisecond precision and any offset are kept. */
  readonly updatedSince?: string | undefined
}

const orderColumns = {
  id: orders.id,
  orderId: orders.orderId,
  storeCode: stores.code,
  status: orders.status,
  version: orders.version,
  currency: orders.currency,
  totalAmount: orders.totalAmount,
  createdAt: orders.createdAt,
  updatedAt: orders.updatedAt,
}

function toOrderView(row: {
  orderId: string
  storeCode: string
  status: OrderStatus
  version: number | null
  currency: string
  totalAmount: number
  createdAt: Date
  updatedAt: Date
}): OrderView {
  return {
    orderId: row.orderId,
    storeId: row.storeCode,
    status: row.status,
    version: row.version,
    currency: row.currency,
    total: { amount: row.totalAmount, currency: row.currency },
    createdAt: row.createdAt.toISOString(),
    updatedAt: row.updatedAt.toISOString(),
  }
}

export class OrdersRepository {
  constructor(private readonly db: Database) {}

  /** One page of the tenant's orders, in the order they were first stored. */
  listOrders(
    tenantId: string,
    filter: OrderFilter,
    page: PageRequest<number>,
  ): Promise<Slice<OrderView, number>> {
    return timedQuery('orders.listOrders', async () => {
      const conditions: (SQL | undefined)[] = [
        eq(orders.tenantId, tenantId),
        filter.storeCode === undefined ? undefined : eq(stores.code, filter.storeCode),
        filter.status === undefined ? undefined : eq(orders.status, filter.status),
        filter.updatedSince === undefined
          ? undefined
          : sql`${orders.updatedAt} >= ${filter.updatedSince}::timestamptz`,
        page.after === undefined ? undefined : gt(orders.id, page.after),
      ]
      const rows = await this.db
        .select(orderColumns)
        .from(orders)
        .innerJoin(stores, eq(stores.id, orders.storeId))
        .where(and(...conditions))
        .orderBy(asc(orders.id))
        .limit(page.limit + 1)
      return sliceRows(rows, page.limit, toOrderView, (row) => row.id)
    })
  }

  /**
   * The tenant's order with its line items and refunds, read from one snapshot so that the three agree;
   * undefined until the order itself is stored, even when refunds for its id already are.
   */
  findOrder(tenantId: string, orderId: string): Promise<OrderDetailView | undefined> {
    return timedQuery('orders.findOrder', () =>
      this.db.transaction(
        async (tx) => {
          const [order] = await tx
            .select(orderColumns)
            .from(orders)
            .innerJoin(stores, eq(stores.id, orders.storeId))
            .where(and(eq(orders.tenantId, tenantId), eq(orders.orderId, orderId)))
            .limit(1)
          if (order === undefined) return undefined
          const lineItems = await tx
            .select({
              sku: orderLineItems.sku,
              quantity: orderLineItems.quantity,
              unitPriceAmount: orderLineItems.unitPriceAmount,
              currency: orderLineItems.currency,
            })
            .from(orderLineItems)
            .where(eq(orderLineItems.orderPk, order.id))
            .orderBy(asc(orderLineItems.position))
          const orderRefunds = await tx
            .select({
              refundId: refunds.refundId,
              amount: refunds.amount,
              currency: refunds.currency,
              occurredAt: refunds.occurredAt,
            })
            .from(refunds)
            .where(and(eq(refunds.tenantId, tenantId), eq(refunds.orderId, orderId)))
            .orderBy(asc(refunds.occurredAt), asc(refunds.id))
          // Only refunds in the order's currency add up to its refunded total; others are listed as they are.
          const refunded = orderRefunds
            .filter((refund) => refund.currency === order.currency)
            .reduce((sum, refund) => sum + refund.amount, 0)
          return {
            ...toOrderView(order),
            lineItems: lineItems.map((item) => ({
              sku: item.sku,
              // numeric arrives as a decimal string; quantities are served as JSON numbers.
              quantity: Number(item.quantity),
              unitPrice: { amount: item.unitPriceAmount, currency: item.currency },
            })),
            refunds: orderRefunds.map((refund) => ({
              refundId: refund.refundId,
              amount: { amount: refund.amount, currency: refund.currency },
              occurredAt: refund.occurredAt.toISOString(),
            })),
            refundedTotal: { amount: refunded, currency: order.currency },
          }
        },
        { isolationLevel: 'repeatable read', accessMode: 'read only' },
      ),
    )
  }
}
