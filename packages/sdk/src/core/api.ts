// The typed client of the public API: every request and response type is the server's own TypeBox schema
// (@pos/contracts), so a change of the API's shapes breaks the SDK's build, not a device in a store.
import type {
  FeedEvent,
  FeedPage,
  IngestAccepted,
  IngestBody,
  Order,
  OrderDetail,
  OrderListQuery,
  Page,
  PageQuery,
  Product,
  ProductListQuery,
  StockLevel,
  StockLevelQuery,
} from '@pos/contracts'
import type { Static } from 'typebox'
import { uuidV4 } from './crypto.js'
import type { CryptoPort, QueueStore } from './ports.js'
import { errorOf, type Transport } from './transport.js'

export type ProductPage = Static<ReturnType<typeof Page<typeof Product>>>
export type StockLevelPage = Static<ReturnType<typeof Page<typeof StockLevel>>>
export type OrderPage = Static<ReturnType<typeof Page<typeof Order>>>
export type FeedEventRecord = Static<typeof FeedEvent>
export type FeedPageBody = Static<typeof FeedPage>

/** Query parameters with the schema's defaults optional, as a caller writes them. */
type QueryOf<T> = Partial<T>

export interface IngestResult extends Static<typeof IngestAccepted> {
  /** The server had stored this very request before and answered it again. */
  readonly replayed: boolean
}

/** Where a follower keeps its cursor: the client's queue store by default, or any store of named values. */
export type CursorStore = Pick<QueueStore, 'getState' | 'setState'>

export interface FollowOptions {
  /** Where the cursor persists across restarts; defaults to the client's queue store. */
  readonly store?: CursorStore
  /** The name the cursor is kept under in that store; one per consumer. */
  readonly name?: string
  /** Only events whose data names this POS store (`data.storeId`); the feed itself has no store filter. */
  readonly storeId?: string
  /** The pause between two polls once the feed is caught up. */
  readonly pollIntervalMs?: number
  readonly pageSize?: number
  readonly signal?: AbortSignal
}

/** Where a follower stands: the page it reads (`after`) and how many of that page's events it has handled. */
interface FeedPosition {
  readonly after: string | undefined
  readonly handled: number
}

export function createApi(transport: Transport, queue: QueueStore, crypto: CryptoPort) {
  return {
    /** POST /v1/ingest/:source directly, without the queue (the queue is `client.record`). */
    async ingest(
      source: string,
      body: IngestBody,
      options: { idempotencyKey?: string } = {},
    ): Promise<IngestResult> {
      const response = await transport.send('POST', `/v1/ingest/${encodeURIComponent(source)}`, {
        body: JSON.stringify(body),
        sign: true,
        headers: { 'idempotency-key': options.idempotencyKey ?? `sdk-${uuidV4(crypto)}` },
      })
      if (!response.ok) throw await errorOf(response)
      const accepted = (await response.json()) as Static<typeof IngestAccepted>
      return { ...accepted, replayed: response.headers.get('idempotent-replayed') === 'true' }
    },

    products: {
      list: (query: QueryOf<Static<typeof ProductListQuery>> = {}) =>
        transport.getJson<ProductPage>('/v1/products', query),
      get: (sku: string) =>
        transport.getJson<Static<typeof Product>>(`/v1/products/${encodeURIComponent(sku)}`),
    },

    inventory: {
      list: (query: QueryOf<Static<typeof StockLevelQuery>> = {}) =>
        transport.getJson<StockLevelPage>('/v1/inventory', query),
    },

    orders: {
      list: (query: QueryOf<Static<typeof OrderListQuery>> = {}) =>
        transport.getJson<OrderPage>('/v1/orders', query),
      get: (orderId: string) =>
        transport.getJson<Static<typeof OrderDetail>>(`/v1/orders/${encodeURIComponent(orderId)}`),
    },

    events: {
      list: (query: QueryOf<Static<typeof PageQuery>> = {}) =>
        transport.getJson<FeedPageBody>('/v1/events', query),

      /**
       * The change feed, for ever (until `signal` aborts or the loop breaks), resuming where the last follower
       * of the same name stopped. The position is saved when the next event is asked for, so an event the loop
       * was handling when the process died is delivered again: at least once, in feed order.
       */
      async *follow(options: FollowOptions = {}): AsyncGenerator<FeedEventRecord, void, undefined> {
        const cursors = options.store ?? queue
        const stateName = `feed:${options.name ?? 'default'}`
        const saved = await cursors.getState(stateName)
        let position: FeedPosition =
          saved === undefined ? { after: undefined, handled: 0 } : JSON.parse(saved)
        const limit = options.pageSize ?? 100
        const save = (next: FeedPosition) => cursors.setState(stateName, JSON.stringify(next))
        // The position after the event the loop holds now: a loop that breaks out has handled it.
        let holding: FeedPosition | undefined
        try {
          while (options.signal?.aborted !== true) {
            const page = await transport.getJson<FeedPageBody>('/v1/events', { limit, after: position.after })
            for (const event of page.data.slice(position.handled)) {
              const next = { after: position.after, handled: position.handled + 1 }
              if (matchesStore(event, options.storeId)) {
                holding = next
                yield event
                holding = undefined
                await save(next)
              }
              position = next
            }
            position = { after: page.nextCursor, handled: 0 }
            await save(position)
            // A page that is not full is the end of the feed for now: wait before asking again.
            if (page.data.length < limit) await pause(options.pollIntervalMs ?? 5_000, options.signal)
          }
        } finally {
          if (holding !== undefined) await save(holding)
        }
      },
    },
  }
}

export type Api = ReturnType<typeof createApi>

function matchesStore(event: FeedEventRecord, storeId: string | undefined): boolean {
  if (storeId === undefined) return true
  const data = event.data as { storeId?: unknown } | null
  return typeof data === 'object' && data !== null && data.storeId === storeId
}

function pause(ms: number, signal: AbortSignal | undefined): Promise<void> {
  return new Promise((resolve) => {
    const timer = setTimeout(done, ms)
    function done() {
      clearTimeout(timer)
      signal?.removeEventListener('abort', done)
      resolve()
    }
    signal?.addEventListener('abort', done, { once: true })
  })
}
