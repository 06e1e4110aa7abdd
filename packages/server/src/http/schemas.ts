// Response shapes every feature shares.
import { Type } from '@fastify/type-provider-typebox'

/** Money as the API shows it: an integer amount in minor units and an ISO 4217 code. */
export const Money = Type.Object({
  amount: Type.Integer({ description: 'Minor units (cents)' }),
  currency: Type.String({ description: 'ISO 4217 code' }),
})
