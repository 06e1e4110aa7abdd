// The catalog's API shapes, shared by its read and write routes.
import { Type } from '@fastify/type-provider-typebox'
import { Money } from '../../http/schemas.js'

export const Product = Type.Object({
  sku: Type.String(),
  name: Type.String(),
  price: Money,
  barcode: Type.Union([Type.String(), Type.Null()]),
  deleted: Type.Boolean(),
  updatedAt: Type.String({ format: 'date-time' }),
})
