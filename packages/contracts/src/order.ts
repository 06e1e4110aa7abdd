// Orders as a POS reports them (the data of the order.* and refund.created events) and as the API shows them.
// Amounts here are signed Money, each for its own reason, unlike a product's Price.
import { type Static, Type } from 'typebox'
import { Quantity, StoreCode } from './inventory.js'
import { Currency, Money } from './money.js'
import { pageQuery } from './pagination.js'
import { Sku } from './product.js'

export const ORDER_STATUSES = ['OPEN', 'COMPLETED', 'CANCELED'] as const
export const OrderStatus = Type.Enum(ORDER_STATUSES, { description: 'OPEN, COMPLETED or CANCELED' })
export type OrderStatus = Static<typeof OrderStatus>

const OrderId = Type.String({ minLength: 1, maxLength: 200, description: "The POS's order id" })

/** One line of an order; its quantity is negative for an item returned. */
export const LineItem = Type.Object(
  {
    sku: Sku,
    quantity: Quantity,
    // Signed: a POS books a discount, a coupon or a deposit return as a line of its own with a negative price.
    unitPrice: Money,
  },
  { additionalProperties: false, title: 'LineItem' },
)

/** The data of the order.created, order.updated, order.completed and order.canceled events. */
export const OrderChange = Type.Object(
  {
    orderId: OrderId,
    storeId: StoreCode,
    version: Type.Optional(Type.Integer({ minimum: 0, maximum: Number.MAX_SAFE_INTEGER })),
    status: Type.Optional(OrderStatus),
    currency: Currency,
    lineItems: Type.Array(LineItem, { maxItems: 1000 }),
    // Signed: a return or an exchange can give back more than it takes.
    total: Money,
  },
  { additionalProperties: false, title: 'OrderChange' },
)

/** The data of a refund.created event. */
export const RefundCreation = Type.Object(
  {
    orderId: OrderId,
    refundId: Type.String({ minLength: 1, maxLength: 200 }),
    // Signed: a refund is something that happened, not a price; a POS that corrects an earlier refund with a
    // negative one must not have the correction refused, or refundedTotal would stay too high.
    amount: Money,
  },
  { additionalProperties: false, title: 'RefundCreation' },
)

const orderProperties = {
  orderId: Type.String({ description: "The POS's order id" }),
  storeId: Type.String({ description: 'The store code' }),
  status: OrderStatus,
  version: Type.Union([Type.Integer(), Type.Null()], { description: "The POS's version of the order" }),
  currency: Type.String(),
  total: Money,
  createdAt: Type.String({ format: 'date-time' }),
  updatedAt: Type.String({ format: 'date-time' }),
}

/** An order as a list shows it. */
export const Order = Type.Object(orderProperties, { title: 'Order' })

/** A refund recorded for an order. */
export const Refund = Type.Object(
  { refundId: Type.String(), amount: Money, occurredAt: Type.String({ format: 'date-time' }) },
  { title: 'Refund' },
)

/** One order in full, with its line items and refunds. */
export const OrderDetail = Type.Object(
  {
    ...orderProperties,
    lineItems: Type.Array(LineItem),
    refunds: Type.Array(Refund),
    // The refunds in the order's currency, added up.
    refundedTotal: Money,
  },
  { title: 'OrderDetail' },
)

/** The query of GET /v1/orders. */
export const OrderListQuery = Type.Object({
  storeId: Type.Optional(Type.String({ minLength: 1, description: 'A store code' })),
  status: Type.Optional(OrderStatus),
  updatedSince: Type.Optional(
    Type.String({ format: 'date-time', description: 'RFC 3339; orders updated at or after it' }),
  ),
  ...pageQuery,
})
