// The catalog's API shapes, shared by its read and write routes.
import { Type } from '@fastify/type-provider-typebox'

export const Money = Type.Object({
  amount: Type.Integer({ description: 'Minor units (cents)' }),
  currency: Type.String({ description: 'ISO 4217 code' }),
})

export const Product = Type.Object({
  sku: Type.String(),
  name: Type.String(),
  price: Money,
  barcode: Type.Union([Type.String(), Type.Null()]),
  deleted: Type.Boolean(),
  updatedAt: Type.String({ format: 'date-time' }),
})
