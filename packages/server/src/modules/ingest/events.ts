// Checks each event of a batch against its type's data schema (contracts/events.ts), which the envelope
// schema of the route cannot do, and types the events that pass.
import type { Static } from '@fastify/type-provider-typebox'
import { type EventType, eventDataSchemas, type IngestBody } from '@pos/contracts/events'
import type { StockAdjustment, StockCount } from '@pos/contracts/inventory'
import type { OrderChange, OrderStatus, RefundCreation } from '@pos/contracts/order'
import type { NewProduct, ProductDeletion } from '@pos/contracts/product'
import type { ValidateFunction } from 'ajv'
import { compileBodyValidator, schemaIssues } from '../../http/validation.js'

export type ProductUpsertedData = Static<typeof NewProduct>
export type ProductDeletedData = Static<typeof ProductDeletion>
export type InventoryAdjustedData = Static<typeof StockAdjustment>
export type InventoryCountedData = Static<typeof StockCount>
export type OrderChangedData = Static<typeof OrderChange>
export type RefundCreatedData = Static<typeof RefundCreation>

/** The status an order event implies unless its data names one. */
export const STATUS_OF_TYPE: Readonly<Record<string, OrderStatus>> = {
  'order.created': 'OPEN',
  'order.updated': 'OPEN',
  'order.completed': 'COMPLETED',
  'order.canceled': 'CANCELED',
}

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
      const [issue] = schemaIssues(validate.errors ?? [])
      const pointer = issue === undefined || issue.pointer === '/' ? '' : issue.pointer
      return {
        issue: { pointer: `/events/${i}/data${pointer}`, message: issue?.message ?? 'is invalid' },
      }
    }
    const occurredAt = new Date(event.occurredAt)
    if (Number.isNaN(occurredAt.getTime())) {
      return {
        issue: {
          pointer: `/events/${i}/occurredAt`,
          message: 'must be a date-time (RFC 3339, e.g. 2026-11-28T10:15:00Z)',
        },
      }
    }
    valid.push({ id: event.id, type: event.type, occurredAt, data: event.data } as ValidEvent)
  }
  return { events: valid }
}
