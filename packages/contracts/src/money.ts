// Money as the API takes and shows it: an integer amount in minor units (cents for EUR) and an ISO 4217
// code. Integers, never floats, so that no amount is ever rounded on its way through JSON.
import { Type } from 'typebox'

export const Currency = Type.String({ pattern: '^[A-Z]{3}$', description: 'ISO 4217 code' })

const MinorUnits = (minimum: number) =>
  Type.Integer({ minimum, maximum: Number.MAX_SAFE_INTEGER, description: 'Minor units (cents)' })

/**
 * A signed amount: an order total, a line's unit price, a refund. Each field that takes it says why it may
 * be negative.
 */
export const Money = Type.Object(
  { amount: MinorUnits(-Number.MAX_SAFE_INTEGER), currency: Currency },
  { additionalProperties: false, title: 'Money' },
)

/**
 * What a product costs: never negative, on ingest and through the API alike. A discount or a refund is not a
 * price; it is a line or an event of its own.
 */
export const Price = Type.Object(
  { amount: MinorUnits(0), currency: Currency },
  { additionalProperties: false, title: 'Price' },
)
