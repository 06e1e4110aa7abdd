// Building ingest requests for tests: events of each type, and injecting a batch through the real route.
import { randomUUID } from 'node:crypto'
import type { App } from '../../src/app.js'
import { signPayload } from '../../src/modules/ingest/signature.js'

export interface TestEvent {
  id: string
  type: string
  occurredAt: string
  data: Record<string, unknown>
}

let clock = Date.parse('2026-11-01T10:00:00Z')
/** Strictly increasing occurrence times, unless a test says otherwise. */
export function nextTime(): string {
  clock += 1000
  return new Date(clock).toISOString()
}

export const productUpserted = (
  sku: string,
  amount = 350,
  extra: Record<string, unknown> = {},
): TestEvent => ({
  id: randomUUID(),
  type: 'product.upserted',
  occurredAt: nextTime(),
  data: { sku, name: `Product ${sku}`, price: { amount, currency: 'EUR' }, ...extra },
})

export const orderEvent = (
  type: string,
  orderId: string,
  options: { version?: number; storeId?: string; total?: number; lineItems?: unknown[] } = {},
): TestEvent => ({
  id: randomUUID(),
  type,
  occurredAt: nextTime(),
  data: {
    orderId,
    storeId: options.storeId ?? 'store-1',
    ...(options.version === undefined ? {} : { version: options.version }),
    currency: 'EUR',
    lineItems: options.lineItems ?? [
      { sku: 'SKU-1', quantity: 1.5, unitPrice: { amount: 200, currency: 'EUR' } },
    ],
    total: { amount: options.total ?? 300, currency: 'EUR' },
  },
})

export interface IngestCall {
  key: string
  source?: string
  events?: TestEvent[]
  body?: string
  idempotencyKey?: string | null
  signWith?: string
  signedAt?: number
  headers?: Record<string, string>
}

export function ingest(app: App, call: IngestCall) {
  const body = call.body ?? JSON.stringify({ events: call.events ?? [] })
  const headers: Record<string, string> = {
    authorization: `Bearer ${call.key}`,
    'content-type': 'application/json',
    ...call.headers,
  }
  if (call.idempotencyKey !== null) headers['idempotency-key'] = call.idempotencyKey ?? randomUUID()
  if (call.signWith) {
    headers['x-signature'] = signPayload(call.signWith, call.signedAt ?? Math.floor(Date.now() / 1000), body)
  }
  return app.inject({ method: 'POST', url: `/v1/ingest/${call.source ?? 'pos'}`, headers, payload: body })
}
