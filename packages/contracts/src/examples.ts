// Worked examples of the API's requests and answers, shown in the OpenAPI document and checked against the
// schemas they illustrate (a test validates each), so an example can never teach a shape the API refuses.
import type { EventType, IngestAccepted, IngestBody } from './events.js'

/** A named example, as an OpenAPI media type lists it. */
export interface NamedExample<T> {
  readonly summary: string
  readonly value: T
}

const at = '2026-11-28T10:15:00Z'
const line = { sku: 'COF-1', quantity: 2, unitPrice: { amount: 350, currency: 'EUR' } }
const order = (version: number) => ({
  orderId: 'A-1001',
  storeId: 'berlin-1',
  version,
  currency: 'EUR',
  lineItems: [line],
  total: { amount: 700, currency: 'EUR' },
})

/** The data of one event of each type, as a POS would send it. */
const eventData: Record<EventType, Record<string, unknown>> = {
  'product.upserted': {
    sku: 'COF-1',
    name: 'Flat white',
    price: { amount: 350, currency: 'EUR' },
    barcode: '4001234567890',
  },
  'product.deleted': { sku: 'COF-9' },
  'inventory.adjusted': { storeId: 'berlin-1', sku: 'COF-1', delta: -2 },
  'inventory.counted': { storeId: 'berlin-1', sku: 'BEANS-1KG', onHand: 12.5 },
  'order.created': order(1),
  'order.updated': order(2),
  'order.completed': order(3),
  'order.canceled': order(4),
  'refund.created': { orderId: 'A-1001', refundId: 'R-1', amount: { amount: 350, currency: 'EUR' } },
}

/** A batch of one event of each type, named by its type. */
export const ingestBatchExamples: Record<string, NamedExample<IngestBody>> = Object.fromEntries(
  (Object.keys(eventData) as EventType[]).map((type, index) => [
    type,
    {
      summary: `A batch with one ${type} event`,
      value: {
        events: [{ id: `evt-example-${index + 1}`, type, occurredAt: at, data: eventData[type] }],
      } as IngestBody,
    },
  ]),
)

/** What a batch stored now answers, and what its replay or a batch of known events answers. */
export const ingestAcceptedExamples: Record<string, NamedExample<IngestAccepted>> = {
  stored: {
    summary: 'Every event of the batch was new and is stored',
    value: { accepted: 1, duplicates: 0, eventIds: ['evt-example-1'], duplicateEventIds: [] },
  },
  duplicates: {
    summary: 'The events were stored before (another batch carried them): nothing new is stored',
    value: { accepted: 0, duplicates: 1, eventIds: [], duplicateEventIds: ['evt-example-1'] },
  },
}
