// The parts of Shopify's REST Admin API objects (Order, Refund, Product, InventoryLevel, InventoryItem, Shop)
// that the connector reads, as webhooks carry them and the API answers them. Everything else Shopify sends is
// allowed and ignored. A payload that does not fit is Unmappable, with the field that did not.
import { type Static, type TSchema, Type } from 'typebox'
import { compileBodyValidator } from '../../../http/validation.js'
import { Unmappable } from '../provider.js'

/** Shopify's numeric ids; JSON numbers (safe up to 2^53, which Shopify's ids are) or digit strings. */
const Id = Type.Union([Type.Integer({ minimum: 1 }), Type.String({ pattern: '^[0-9]{1,20}$' })])
const Timestamp = Type.String({ format: 'date-time' })
/** A decimal string such as "19.99", converted exactly by money.ts. */
const Decimal = Type.String()
const Nullable = <T extends TSchema>(schema: T) => Type.Optional(Type.Union([schema, Type.Null()]))

const MoneySet = Type.Object({
  shop_money: Type.Object({ amount: Decimal, currency_code: Type.String() }),
})

export const ShopifyLineItem = Type.Object({
  id: Id,
  sku: Nullable(Type.String()),
  title: Nullable(Type.String()),
  quantity: Type.Integer(),
  price: Decimal,
})

export const ShopifyRefund = Type.Object({
  id: Id,
  order_id: Id,
  created_at: Timestamp,
  processed_at: Nullable(Timestamp),
  transactions: Type.Optional(
    Type.Array(
      Type.Object({
        kind: Type.String(),
        status: Type.String(),
        amount: Decimal,
        currency: Type.String(),
      }),
    ),
  ),
  refund_line_items: Type.Optional(
    Type.Array(Type.Object({ subtotal_set: MoneySet, total_tax_set: Type.Optional(MoneySet) })),
  ),
})
export type ShopifyRefund = Static<typeof ShopifyRefund>

export const ShopifyOrder = Type.Object({
  id: Id,
  created_at: Timestamp,
  updated_at: Timestamp,
  cancelled_at: Nullable(Timestamp),
  closed_at: Nullable(Timestamp),
  currency: Type.String(),
  total_price: Decimal,
  financial_status: Nullable(Type.String()),
  fulfillment_status: Nullable(Type.String()),
  location_id: Nullable(Id),
  line_items: Type.Array(ShopifyLineItem),
  refunds: Type.Optional(Type.Array(ShopifyRefund)),
})
export type ShopifyOrder = Static<typeof ShopifyOrder>

export const ShopifyVariant = Type.Object({
  id: Id,
  sku: Nullable(Type.String()),
  title: Nullable(Type.String()),
  price: Decimal,
  barcode: Nullable(Type.String()),
  inventory_item_id: Nullable(Id),
  updated_at: Nullable(Timestamp),
})

export const ShopifyProduct = Type.Object({
  id: Id,
  title: Type.String(),
  updated_at: Timestamp,
  variants: Type.Array(ShopifyVariant),
})
export type ShopifyProduct = Static<typeof ShopifyProduct>

/** The payload of products/delete: only the id. */
export const ShopifyProductDeletion = Type.Object({ id: Id })

/** The payload of inventory_levels/update. `available` is null when the item is not tracked. */
export const ShopifyInventoryLevel = Type.Object({
  inventory_item_id: Id,
  location_id: Id,
  available: Type.Union([Type.Integer(), Type.Null()]),
  updated_at: Timestamp,
})

/** GET /admin/api/{version}/inventory_items/{id}.json */
export const InventoryItemAnswer = Type.Object({
  inventory_item: Type.Object({ id: Id, sku: Nullable(Type.String()) }),
})

/** GET /admin/api/{version}/shop.json */
export const ShopAnswer = Type.Object({ shop: Type.Object({ currency: Type.String() }) })

export const OrdersPage = Type.Object({ orders: Type.Array(Type.Unknown()) })
export const ProductsPage = Type.Object({ products: Type.Array(Type.Unknown()) })

const validators = new WeakMap<TSchema, ReturnType<typeof compileBodyValidator>>()

/** `value` typed by `schema`, or Unmappable naming `what` and the first field that does not fit. */
export function parse<T extends TSchema>(schema: T, value: unknown, what: string): Static<T> {
  let validate = validators.get(schema)
  if (validate === undefined) {
    validate = compileBodyValidator(schema)
    validators.set(schema, validate)
  }
  if (validate(value)) return value as Static<T>
  const error = validate.errors?.[0]
  const missing = error?.params && 'missingProperty' in error.params ? `/${error.params.missingProperty}` : ''
  throw new Unmappable(`${what}: ${error?.instancePath ?? ''}${missing} ${error?.message ?? 'is invalid'}`)
}

/** An id as text; a number is printed in full (no exponent). */
export function idText(id: number | string): string {
  return typeof id === 'number' ? BigInt(id).toString() : id
}
