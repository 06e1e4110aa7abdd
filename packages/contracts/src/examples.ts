// Worked examples of the API's requests and answers, shown in the OpenAPI document and checked against the
// schemas they illustrate (a test validates each), so an example can never teach a shape the API refuses.
import type { Static } from 'typebox'
import type { DeviceConfig, DeviceConfigLevel, DeviceConfigPatch } from './device-config.js'
import type { EventType, FeedPage, IngestAccepted, IngestBody } from './events.js'
import type { StockLevel } from './inventory.js'
import type { Order, OrderDetail } from './order.js'
import type { Page } from './pagination.js'
import type { Problem } from './problem.js'
import type { NewProduct, Product, ProductUpdate } from './product.js'
import type {
  WebhookDelivery,
  WebhookEndpoint,
  WebhookEndpointDetail,
  WebhookEndpointWithSecret,
} from './webhook.js'

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

/** Examples of one shape, as a route's `examples` lists them; a single one is named `example`. */
export const oneExample = <T>(summary: string, value: T): Record<string, NamedExample<T>> => ({
  example: { summary, value },
})

/** The same tenant's data throughout: the coffee bar berlin-1 that sent the batches above. */
const later = '2026-11-28T10:15:02.184Z'
const nextCursor = 'b3Jk4Gm2xQ0VfN8kTzR1yW5pLcA7eHsJ9uDiX6oBnqMEvK'

const flatWhite: Static<typeof Product> = {
  sku: 'COF-1',
  name: 'Flat white',
  price: { amount: 350, currency: 'EUR' },
  barcode: '4001234567890',
  deleted: false,
  updatedAt: later,
}
const beans: Static<typeof Product> = {
  sku: 'BEANS-1KG',
  name: 'House blend beans, 1 kg',
  price: { amount: 1890, currency: 'EUR' },
  barcode: null,
  deleted: false,
  updatedAt: '2026-11-27T16:40:11.502Z',
}

export const newProductExamples = oneExample<Static<typeof NewProduct>>('A product with its barcode', {
  sku: 'COF-1',
  name: 'Flat white',
  price: { amount: 350, currency: 'EUR' },
  barcode: '4001234567890',
})

export const productUpdateExamples = oneExample<Static<typeof ProductUpdate>>(
  'The whole product but its SKU; a field left out is removed',
  { name: 'Flat white', price: { amount: 350, currency: 'EUR' }, barcode: '4001234567890' },
)

export const productExamples = oneExample('The product as it is stored now', flatWhite)

export const productPageExamples = oneExample<Static<ReturnType<typeof Page<typeof Product>>>>(
  'A page with more to read: pass nextCursor as ?after=',
  { data: [beans, flatWhite], nextCursor },
)

export const stockLevelPageExamples = oneExample<Static<ReturnType<typeof Page<typeof StockLevel>>>>(
  'Stock of one store: beans counted, cups sold since the last count',
  {
    data: [
      { storeId: 'berlin-1', sku: 'BEANS-1KG', onHand: 12.5, countedAt: at, updatedAt: later },
      { storeId: 'berlin-1', sku: 'COF-1', onHand: -2, countedAt: null, updatedAt: later },
    ],
    nextCursor: null,
  },
)

const orderSummary: Static<typeof Order> = {
  orderId: 'A-1001',
  storeId: 'berlin-1',
  status: 'COMPLETED',
  version: 3,
  currency: 'EUR',
  total: { amount: 700, currency: 'EUR' },
  createdAt: at,
  updatedAt: '2026-11-28T10:16:40.000Z',
}

export const orderPageExamples = oneExample<Static<ReturnType<typeof Page<typeof Order>>>>(
  'The last page of the list: nextCursor is null',
  { data: [orderSummary], nextCursor: null },
)

export const orderDetailExamples = oneExample<Static<typeof OrderDetail>>(
  'A completed order with one refund',
  {
    ...orderSummary,
    lineItems: [line],
    refunds: [
      { refundId: 'R-1', amount: { amount: 350, currency: 'EUR' }, occurredAt: '2026-11-28T11:02:00Z' },
    ],
    refundedTotal: { amount: 350, currency: 'EUR' },
  },
)

export const feedPageExamples = oneExample<Static<typeof FeedPage>>(
  'A reader that has caught up: fewer events than ?limit=, read on later from nextCursor',
  {
    data: [
      {
        id: 'evt-example-1',
        source: 'pos',
        type: 'product.upserted',
        occurredAt: at,
        receivedAt: later,
        data: eventData['product.upserted'],
      },
      {
        id: 'evt-example-5',
        source: 'pos',
        type: 'order.created',
        occurredAt: at,
        receivedAt: later,
        data: eventData['order.created'],
      },
    ],
    nextCursor,
  },
)

const endpoint: Static<typeof WebhookEndpoint> = {
  id: '5f0c2a8e-7b1d-4c39-9e6a-3d8b2f41c7a0',
  url: 'https://erp.example.com/hooks/pos',
  eventTypes: ['order.completed', 'refund.created'],
  description: 'ERP: completed orders and refunds',
  enabled: true,
  disabledReason: null,
  failingSince: null,
  createdAt: '2026-11-20T09:00:00.000Z',
}

// Not typed as NewWebhookEndpoint: its event types are a union TypeScript cannot see through (the test checks
// this example against the schema, as every other).
export const newWebhookEndpointExamples = oneExample('Completed orders and refunds to the ERP', {
  url: endpoint.url,
  eventTypes: endpoint.eventTypes,
  description: 'ERP: completed orders and refunds',
})

export const webhookEndpointWithSecretExamples = oneExample<Static<typeof WebhookEndpointWithSecret>>(
  'The endpoint and its signing secret (a placeholder here), shown only in this answer',
  { ...endpoint, secret: 'whsec_xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx' },
)

export const webhookEndpointPageExamples = oneExample<
  Static<ReturnType<typeof Page<typeof WebhookEndpoint>>>
>("The tenant's only endpoint", { data: [endpoint], nextCursor: null })

export const webhookEndpointDetailExamples: Record<
  string,
  NamedExample<Static<typeof WebhookEndpointDetail>>
> = {
  healthy: {
    summary: 'Deliveries go out',
    value: { ...endpoint, circuitBreaker: { state: 'closed', retryAt: null } },
  },
  failing: {
    summary: 'Every recent attempt failed: no delivery goes out until retryAt',
    value: {
      ...endpoint,
      failingSince: '2026-11-28T09:00:00.000Z',
      circuitBreaker: { state: 'open', retryAt: '2026-11-28T10:20:00.000Z' },
    },
  },
}

const delivered: Static<typeof WebhookDelivery> = {
  id: '1042',
  eventId: 'evt-example-7',
  eventType: 'order.completed',
  status: 'succeeded',
  nextAttemptAt: null,
  createdAt: later,
  attempts: [
    { attemptedAt: '2026-11-28T10:15:02.300Z', statusCode: 503, durationMs: 212, error: 'HTTP 503' },
    { attemptedAt: '2026-11-28T10:15:07.410Z', statusCode: 200, durationMs: 95, error: null },
  ],
}
const deadLetter: Static<typeof WebhookDelivery> = {
  id: '1041',
  eventId: 'evt-example-9',
  eventType: 'refund.created',
  status: 'failed',
  nextAttemptAt: null,
  createdAt: '2026-11-23T08:12:00.000Z',
  attempts: [
    {
      attemptedAt: '2026-11-28T08:12:00.000Z',
      statusCode: null,
      durationMs: 10000,
      error: 'timeout',
    },
  ],
}

export const webhookDeliveryPageExamples = oneExample<
  Static<ReturnType<typeof Page<typeof WebhookDelivery>>>
>('Newest first: a delivery that succeeded on its second attempt, and one that failed for good', {
  data: [delivered, deadLetter],
  nextCursor: null,
})

const effective: DeviceConfig = {
  syncEnabled: true,
  minFlushIntervalSec: 10,
  maxBatchSize: 100,
  retryCap: 300,
  maintenanceMode: false,
  minSdkVersion: '1.4.0',
}

export const deviceConfigExamples = oneExample<DeviceConfig>(
  'Sync on, at most every 10 s, SDK 1.4.0 or newer',
  effective,
)

export const deviceConfigPatchExamples = oneExample<DeviceConfigPatch>(
  'Flush at most every 10 s and require SDK 1.4.0; clear the stored batch size',
  { minFlushIntervalSec: 10, minSdkVersion: '1.4.0', maxBatchSize: null },
)

export const deviceConfigLevelExamples = oneExample<Static<typeof DeviceConfigLevel>>(
  "The tenant's settings after that change: what is not set comes from the defaults",
  {
    settings: {
      syncEnabled: null,
      minFlushIntervalSec: 10,
      maxBatchSize: null,
      retryCap: null,
      maintenanceMode: null,
      minSdkVersion: '1.4.0',
    },
    effective,
    updatedAt: later,
  },
)

/** A 422 of a product body: each field in error under `errors`. */
export const productValidationFailedExamples = oneExample<Static<typeof Problem>>(
  'A price in a string: the body breaks the schema',
  {
    type: '/problems/validation-failed',
    title: 'The request body does not match the schema',
    status: 422,
    detail: 'price.amount must be a whole number',
    instance: '/v1/products',
    errors: [{ location: 'body', pointer: '/price/amount', message: 'must be a whole number' }],
  },
)
