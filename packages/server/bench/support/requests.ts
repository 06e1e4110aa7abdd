// The requests the bench sends, as autocannon builds them: signed ingest of new events (recorded in a
// Ledger), feed pages read on from where the previous page ended, and lookups of stored orders.
import { randomInt, randomUUID } from 'node:crypto'
import type autocannon from 'autocannon'
import type { PosEvent } from './events.js'
import { type IngestCredentials, ingestHeaders } from './ingest-client.js'
import type { Ledger } from './ledger.js'

/** Per connection: the event ids of the request in flight (one at a time per connection). */
interface IngestContext {
  inFlight?: number
}

/** Every request a new batch from `batch()`, with a new Idempotency-Key and its signature. */
export function ingestRequest(
  credentials: IngestCredentials,
  ledger: Ledger,
  batch: () => PosEvent[],
): autocannon.Request {
  return {
    setupRequest: (request, context: IngestContext) => {
      const events = batch()
      const body = JSON.stringify({ events })
      for (const event of events) ledger.sent.add(event.id)
      context.inFlight = events.length
      return {
        ...request,
        method: 'POST',
        path: `/v1/ingest/${credentials.sourceName}`,
        headers: ingestHeaders(credentials, randomUUID(), body),
        body,
      }
    },
    onResponse: (status, body, context: IngestContext) => {
      ledger.answeredRequests++
      ledger.answeredEvents += context.inFlight ?? 0
      if (status !== 201) return
      for (const id of (JSON.parse(body) as { eventIds: string[] }).eventIds) ledger.confirmed.add(id)
    },
  }
}

const readHeaders = (readKey: string) => ({ authorization: `Bearer ${readKey}` })

/**
 * GET /v1/events pages of `limit`, each connection reading on from the cursor of its previous page like a
 * consumer catching up, and starting again from the beginning once it has caught up (a short page).
 */
export function feedPageRequest(readKey: string, limit: number): autocannon.Request {
  return {
    setupRequest: (request, context: { after?: string }) => ({
      ...request,
      method: 'GET',
      path: `/v1/events?limit=${limit}${context.after === undefined ? '' : `&after=${encodeURIComponent(context.after)}`}`,
      headers: readHeaders(readKey),
    }),
    onResponse: (status, body, context: { after?: string }) => {
      if (status !== 200) return
      const page = JSON.parse(body) as { data: unknown[]; nextCursor: string }
      context.after = page.data.length < limit ? undefined : page.nextCursor
    },
  }
}

/** GET /v1/orders/:orderId of a stored order picked at random. */
export function orderLookupRequest(readKey: string, orderIds: readonly string[]): autocannon.Request {
  return {
    setupRequest: (request) => ({
      ...request,
      method: 'GET',
      path: `/v1/orders/${encodeURIComponent(orderIds[randomInt(orderIds.length)]!)}`,
      headers: readHeaders(readKey),
    }),
  }
}
