// Events: what a POS sends to POST /v1/ingest/:source (a batch of typed events, each with its data schema),
// what that answers, and how the change feed shows every stored event.
import { type Static, Type } from 'typebox'
import { StockAdjustment, StockCount } from './inventory.js'
import { OrderChange, RefundCreation } from './order.js'
import { NewProduct, ProductDeletion } from './product.js'

export const MAX_EVENTS_PER_REQUEST = 500

/** The schema of each event type's `data`. */
export const eventDataSchemas = {
  'product.upserted': NewProduct,
  'product.deleted': ProductDeletion,
  'inventory.adjusted': StockAdjustment,
  'inventory.counted': StockCount,
  'order.created': OrderChange,
  'order.updated': OrderChange,
  'order.completed': OrderChange,
  'order.canceled': OrderChange,
  'refund.created': RefundCreation,
} as const

export type EventType = keyof typeof eventDataSchemas
export const EVENT_TYPES = Object.keys(eventDataSchemas) as EventType[]

/** The schema each event type's data is checked against, named by the schema's title. */
export function eventDataSchemaName(type: EventType): string {
  return (eventDataSchemas[type] as { title?: string }).title ?? type
}

const DATA_DESCRIPTION = `Checked against the schema of its type: ${EVENT_TYPES.map(
  (type) => `${type} ${eventDataSchemaName(type)}`,
).join(', ')}`

/**
 * A batch of events. Each `data` is checked against its type's schema (eventDataSchemas) after the envelope,
 * so that a problem can name the event and field it found.
 */
export const IngestBody = Type.Object(
  {
    events: Type.Array(
      Type.Object(
        {
          id: Type.String({ minLength: 1, maxLength: 255, description: 'Unique per tenant and source' }),
          type: Type.Enum(EVENT_TYPES, {
            description: 'The event type; its data is checked against that type',
          }),
          occurredAt: Type.String({ format: 'date-time' }),
          data: Type.Object({}, { additionalProperties: true, description: DATA_DESCRIPTION }),
        },
        { additionalProperties: false },
      ),
      { minItems: 1, maxItems: MAX_EVENTS_PER_REQUEST },
    ),
  },
  { additionalProperties: false, title: 'IngestBody' },
)
export type IngestBody = Static<typeof IngestBody>

/**
 * The answer to a batch (201); a replay with the same Idempotency-Key gets the same answer, marked
 * `Idempotent-Replayed: true`.
 */
export const IngestAccepted = Type.Object(
  {
    accepted: Type.Integer({ description: 'Events stored by this request' }),
    duplicates: Type.Integer({ description: 'Events skipped because their id was stored before' }),
    eventIds: Type.Array(Type.String(), { description: 'Ids of the events stored by this request' }),
    duplicateEventIds: Type.Array(Type.String()),
    detail: Type.Optional(
      Type.String({
        description:
          'Only when nothing was stored because every event was a duplicate: says so in words, for a person',
      }),
    ),
  },
  { title: 'IngestAccepted' },
)
export type IngestAccepted = Static<typeof IngestAccepted>

/** A stored event, as the change feed shows it. */
export const FeedEvent = Type.Object(
  {
    id: Type.String({ description: "The client's event id" }),
    source: Type.String({ description: 'The source the event came from' }),
    type: Type.String(),
    occurredAt: Type.String({ format: 'date-time' }),
    receivedAt: Type.String({ format: 'date-time' }),
    data: Type.Unknown({ description: 'The payload of the event, as it was stored' }),
  },
  { title: 'Event' },
)

/** A page of the change feed; unlike other lists its nextCursor is never null. */
export const FeedPage = Type.Object({
  data: Type.Array(FeedEvent),
  nextCursor: Type.String({ description: 'Pass as ?after= to read on; never null, the feed has no end' }),
})
