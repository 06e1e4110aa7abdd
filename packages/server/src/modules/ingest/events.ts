// The event types a POS may send, each with its JSON schema, and the envelope they arrive in. Money is an
// integer amount in minor units with an ISO 4217 code; quantities may be fractional (weighed goods).
import { type Static, Type } from '@fastify/type-provider-typebox'
import type { ValidateFunction } from 'ajv'
import { compileBodyValidator } from '../../http/validation.js'

export const MAX_EVENTS_PER_REQUEST = 500

const Text = (maxLength = 200) => Type.String({ minLength: 1, maxLength })
const Money = Type.Object(
  {
    amount: Type.Integer({ minimum: -Number.MAX_SAFE_INTEGER, maximum: Number.MAX_SAFE_INTEGER }),
    currency: Type.String({ pattern: '^[A-Z]{3}$' }),
  },
  { additionalProperties: false },
)
const Quantity = Type.Number({ minimum: -1e12, maximum: 1e12, multipleOf: 0.000001 })

const ProductUpserted = Type.Object(
  { sku: Text(), name: Text(500), price: Money, barcode: Type.Optional(Text(100)) },
  { additionalProperties: false },
)
const ProductDeleted = Type.Object({ sku: Text() }, { additionalProperties: false })
const InventoryAdjusted = Type.Object(
  { storeId: Text(), sku: Text(), delta: Quantity },
  { additionalProperties: false },
)
const InventoryCounted = Type.Object(
  { storeId: Text(), sku: Text(), onHand: Quantity },
  { additionalProperties: false },
)
export const ORDER_STATUSES = ['OPEN', 'COMPLETED', 'CANCELED'] as const
const OrderChanged = Type.Object(
  {
    orderId: Text(),
    storeId: Text(),
    version: Type.Optional(Type.Integer({ minimum: 0, maximum: Number.MAX_SAFE_INTEGER })),
    status: Type.Optional(Type.Union(ORDER_STATUSES.map((s) => Type.Literal(s)))),
    currency: Type.String({ pattern: '^[A-Z]{3}$' }),
    lineItems: Type.Array(
      Type.Object({ sku: Text(), quantity: Quantity, unitPrice: Money }, { additionalProperties: false }),
      { maxItems: 1000 },
    ),
    total: Money,
  },
  { additionalProperties: false },
)
const RefundCreated = Type.Object(
  { orderId: Text(), refundId: Text(), amount: Money },
  { additionalProperties: false },
)

export type ProductUpsertedData = Static<typeof ProductUpserted>
export type ProductDeletedData = Static<typeof ProductDeleted>
export type InventoryAdjustedData = Static<typeof InventoryAdjusted>
export type InventoryCountedData = Static<typeof InventoryCounted>
export type OrderChangedData = Static<typeof OrderChanged>
export type RefundCreatedData = Static<typeof RefundCreated>
export type OrderStatus = (typeof ORDER_STATUSES)[number]

export const eventDataSchemas = {
  'product.upserted': ProductUpserted,
  'product.deleted': ProductDeleted,
  'inventory.adjusted': InventoryAdjusted,
  'inventory.counted': InventoryCounted,
  'order.created': OrderChanged,
  'order.updated': OrderChanged,
  'order.completed': OrderChanged,
  'order.canceled': OrderChanged,
  'refund.created': RefundCreated,
} as const

export type EventType = keyof typeof eventDataSchemas
export const EVENT_TYPES = Object.keys(eventDataSchemas) as EventType[]

/** The status an order event implies unless its data names one. */
export const STATUS_OF_TYPE: Readonly<Record<string, OrderStatus>> = {
  'order.created': 'OPEN',
  'order.updated': 'OPEN',
  'order.completed': 'COMPLETED',
  'order.canceled': 'CANCELED',
}

export const IngestBody = Type.Object(
  {
    events: Type.Array(
      Type.Object(
        {
          id: Type.String({ minLength: 1, maxLength: 255 }),
          type: Type.Union(EVENT_TYPES.map((t) => Type.Literal(t))),
          occurredAt: Type.String({ format: 'date-time' }),
          data: Type.Object({}, { additionalProperties: true }),
        },
        { additionalProperties: false },
      ),
      { minItems: 1, maxItems: MAX_EVENTS_PER_REQUEST },
    ),
  },
  { additionalProperties: false },
)
export type IngestBody = Static<typeof IngestBody>

/** An event whose envelope and data passed validation. */
export type ValidEvent =
  | { id: string; type: 'product.upserted'; occurredAt: Date; data: ProductUpsertedData }
  | { id: string; type: 'product.deleted'; occurredAt: Date; data: ProductDeletedData }
  | { id: string; type: 'inventory.adjusted'; occurredAt: Date; data: InventoryAdjustedData }
  | { id: string; type: 'inventory.counted'; occurredAt: Date; data: InventoryCountedData }
  | {
      id: string
      type: 'order.created' | 'order.updated' | 'order.completed' | 'order.canceled'
      occurredAt: Date
      data: OrderChangedData
    }
  | { id: string; type: 'refund.created'; occurredAt: Date; data: RefundCreatedData }

export interface EventIssue {
  readonly pointer: string
  readonly message: string
}

const validators = Object.fromEntries(
  Object.entries(eventDataSchemas).map(([type, schema]) => [type, compileBodyValidator(schema)]),
) as Record<EventType, ValidateFunction>

/** Validates each event's data against its type's schema; the first issue names the event and field. */
export function validateEventData(
  events: IngestBody['events'],
): { events: ValidEvent[] } | { issue: EventIssue } {
  const valid: ValidEvent[] = []
  for (let i = 0; i < events.length; i++) {
    const event = events[i]!
    const validate = validators[event.type as EventType]
    if (!validate(event.data)) {
      const error = validate.errors?.[0]
      const missing =
        error?.params && 'missingProperty' in error.params ? `/${error.params.missingProperty}` : ''
      return {
        issue: {
          pointer: `/events/${i}/data${error?.instancePath ?? ''}${missing}`,
          message: error?.message ?? 'is invalid',
        },
      }
    }
    const occurredAt = new Date(event.occurredAt)
    if (Number.isNaN(occurredAt.getTime())) {
      return { issue: { pointer: `/events/${i}/occurredAt`, message: 'must be an RFC 3339 date-time' } }
    }
    valid.push({ id: event.id, type: event.type, occurredAt, data: event.data } as ValidEvent)
  }
  return { events: valid }
}
