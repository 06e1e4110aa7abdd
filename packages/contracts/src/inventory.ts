// Stock: how much of a SKU a store has, and the counts and moves that change it. Quantities may be fractional
// (weighed goods) and negative (a move out, or stock sold before it was counted in).
import { Type } from 'typebox'
import { pageQuery } from './pagination.js'
import { Sku } from './product.js'

/** Up to six decimals, within ±10^12: what the database's numeric(20, 6) holds exactly. */
export const Quantity = Type.Number({ minimum: -1e12, maximum: 1e12, multipleOf: 0.000001 })

/** The tenant's own store code; a new one creates the store. */
export const StoreCode = Type.String({ minLength: 1, maxLength: 200, description: 'The store code' })

/** The data of an `inventory.adjusted` event: stock moved by `delta`. */
export const StockAdjustment = Type.Object(
  { storeId: StoreCode, sku: Sku, delta: Quantity },
  { additionalProperties: false, title: 'StockAdjustment' },
)

/** The data of an `inventory.counted` event: a physical count found `onHand`. */
export const StockCount = Type.Object(
  { storeId: StoreCode, sku: Sku, onHand: Quantity },
  { additionalProperties: false, title: 'StockCount' },
)

/** Stock on hand of one SKU in one store, as the API shows it. */
export const StockLevel = Type.Object(
  {
    storeId: Type.String({ description: 'The store code' }),
    sku: Type.String(),
    // Not a Quantity: the sum of many moves is not held to the bounds of one.
    onHand: Type.Number({ description: 'The latest count plus every move since' }),
    countedAt: Type.Union([Type.String({ format: 'date-time' }), Type.Null()], {
      description: 'Time of the latest physical count',
    }),
    updatedAt: Type.String({ format: 'date-time' }),
  },
  { title: 'StockLevel' },
)

/** The query of GET /v1/inventory. */
export const StockLevelQuery = Type.Object({
  storeId: Type.Optional(Type.String({ minLength: 1, description: 'A store code' })),
  sku: Type.Optional(Type.String({ minLength: 1 })),
  ...pageQuery,
})
