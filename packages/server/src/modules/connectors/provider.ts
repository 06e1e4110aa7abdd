// What a POS provider (Square, Shopify) contributes to the connectors: how its webhooks are verified and
// named, how a verified webhook becomes canonical events (fetching what the webhook leaves out), and how its
// list endpoints are paged for reconciliation. Everything else (the inbox, leases, dead letters, the write
// path, the reconciliation job and its cursor) is the connectors module's and the same for every provider.
// A provider never calls fetch itself: every request goes through ProviderHttp, i.e. the outbound layer
// (timeouts, bounded retries, the retry budget and the fleet's breaker for this source).
import type { IncomingHttpHeaders } from 'node:http'
import type { EventType } from '@pos/contracts/events'

/** A canonical event, exactly what POST /v1/ingest accepts as one element of `events`. */
export interface CanonicalEvent {
  /**
   * Deterministic: the same provider object at the same version always gives the same id (for example
   * `square:order:<id>:v<version>`), so that a redelivery or a reconciliation finding it again is a duplicate.
   */
  readonly id: string
  readonly type: EventType
  /** ISO 8601. */
  readonly occurredAt: string
  readonly data: unknown
}

/** A webhook as the connector stored it in its inbox, after its signature was verified. */
export interface InboxWebhook {
  /** The provider's event id (Square `event_id`; Shopify `X-Shopify-Event-Id`, else `X-Shopify-Webhook-Id`). */
  readonly providerEventId: string
  /** Square's `type`, Shopify's `X-Shopify-Topic`. */
  readonly topic: string
  /** The parsed JSON body. */
  readonly payload: unknown
  /** When we received it (epoch ms). */
  readonly receivedAt: number
}

/** One request to the provider's API; the path is joined to the source's `baseUrl`. */
export interface ProviderRequest {
  readonly method: 'GET' | 'POST'
  /** Path and query, e.g. `/v2/orders/batch-retrieve` or `/admin/api/2025-01/orders.json?limit=250`. */
  readonly path: string
  readonly body?: unknown
}

export interface ProviderResponse {
  readonly status: number
  readonly headers: Headers
  /** The body parsed as JSON (undefined when empty). */
  readonly body: unknown
}

/**
 * The provider's API, with the source's credentials applied by the provider's own `authHeaders`. Throws
 * ProviderUnavailable when the call did not get an answer worth reading (network, timeout, 5xx or 429 after
 * the retry policy, or an open breaker): the work is postponed and retried later, never dead-lettered for it.
 */
export interface ProviderHttp {
  request(request: ProviderRequest): Promise<ProviderResponse>
}

/** The provider could not be reached; try again no sooner than `retryAt` (epoch ms) when it is known. */
export class ProviderUnavailable extends Error {
  readonly retryAt: number | undefined
  constructor(message: string, retryAt?: number) {
    super(message)
    this.name = 'ProviderUnavailable'
    this.retryAt = retryAt
  }
}

/**
 * The webhook or object cannot become events however often we try (an unknown shape, a missing SKU, a 4xx
 * from the provider such as 404 or 401): it goes to the dead letters with `reason`.
 */
export class Unmappable extends Error {
  constructor(readonly reason: string) {
    super(reason)
    this.name = 'Unmappable'
  }
}

/** What processing one webhook or one reconciliation page gives. */
export interface Mapped {
  readonly events: readonly CanonicalEvent[]
  /**
   * Provider state to save only once the events are stored (Square's catalog `begin_time`): saved before, a
   * write that failed afterwards would leave the provider's changes behind the saved mark, never asked for
   * again. State that is a mere cache (a SKU) may be saved at once with ProviderState.set.
   */
  readonly stateAfter?: Readonly<Record<string, string>>
}

/** A provider object a reconciliation page listed but could not map (the rest of the page is still stored). */
export interface UnmappableObject {
  /** The provider's kind and id of the object, e.g. `order:5600000000001`: one dead letter per object. */
  readonly objectId: string
  readonly reason: string
}

/** One page of a reconciliation pass. */
export interface ReconcilePage extends Mapped {
  /** Provider objects on the page (orders, products, counts), for the run's summary and drift. */
  readonly objects: number
  /** Objects on the page that cannot be mapped: the connectors module dead-letters each and counts them. */
  readonly unmappable: readonly UnmappableObject[]
  /** Where the next page starts; null: this pass is complete. Opaque to the connectors module. */
  readonly nextCursor: string | null
}

export interface Provider<Config> {
  readonly kind: 'square' | 'shopify'
  /** Headers every API request of this source carries (authorization, version). */
  authHeaders(config: Config): Record<string, string>
  /** Whether the raw body is signed by this source, compared in constant time; false for anything missing. */
  verify(config: Config, rawBody: Buffer, headers: IncomingHttpHeaders): boolean
  /** The provider's id of this webhook delivery, for dedup; undefined when it has none (refused as 400). */
  eventId(headers: IncomingHttpHeaders, payload: unknown): string | undefined
  /** The topic (event type) of the webhook. */
  topic(headers: IncomingHttpHeaders, payload: unknown): string | undefined
  /** Fetches what the webhook leaves out and maps it; throws ProviderUnavailable or Unmappable. */
  process(config: Config, http: ProviderHttp, webhook: InboxWebhook, state: ProviderState): Promise<Mapped>
  /**
   * One page of reconciliation from `cursor` (null: start a new pass from `since`, epoch ms of the last
   * complete pass, or 0). Throws ProviderUnavailable (the job stops and resumes from the same cursor later).
   */
  reconcilePage(
    config: Config,
    http: ProviderHttp,
    cursor: string | null,
    since: number,
    state: ProviderState,
  ): Promise<ReconcilePage>
}

/**
 * A small key-value store per source that survives restarts, for what a provider remembers between webhooks:
 * Square's last catalog version seen, Shopify's inventory item id → SKU cache.
 */
export interface ProviderState {
  get(key: string): Promise<string | undefined>
  set(key: string, value: string): Promise<void>
}
