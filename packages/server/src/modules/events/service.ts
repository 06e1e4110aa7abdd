// The change feed: every event of a tenant, in the order it became visible. Unlike the other lists the feed
// never ends: nextCursor is always the place to read on from, also when the page is empty. Events are written
// only by the ingest write path (WRITE_BATCH appends them), never here.
import type { Static } from '@fastify/type-provider-typebox'
import type { FeedPage } from '@pos/contracts/events'
import type { PageQuery } from '@pos/contracts/pagination'
import type { Database } from '../../platform/database.js'
import { CursorCodec, type CursorSeal } from '../../platform/pagination.js'
import { EventsRepository, FEED_START, type FeedPosition } from './repository.js'

const XID8_MAX = 2n ** 64n - 1n

/** The change feed's cursors: the transaction id and sequence of the last event read. */
export function feedCursor(seal: CursorSeal): CursorCodec<FeedPosition> {
  return new CursorCodec<FeedPosition>(
    'events',
    seal,
    (position) => [position.txId, position.seq],
    (keys) => {
      const [txId, seqKey] = keys
      const seq = Number(seqKey)
      if (keys.length !== 2 || txId === undefined || BigInt(txId) > XID8_MAX) return undefined
      return Number.isSafeInteger(seq) ? { txId, seq } : undefined
    },
  )
}

export class ChangeFeedService {
  readonly #repository: EventsRepository

  readonly #cursors: CursorCodec<FeedPosition>

  /** `cursors` seals the feed's cursors (CursorSeal.of the process's secrets). */
  constructor(db: Database, cursors: CursorSeal) {
    this.#repository = new EventsRepository(db)
    this.#cursors = feedCursor(cursors)
  }

  async readFeed(tenantId: string, query: PageQuery): Promise<Static<typeof FeedPage>> {
    const page = this.#cursors.request(query)
    const slice = await this.#repository.readFeed(tenantId, page)
    // Caught up: the client's own cursor (checked above) keeps its place; a new one would spell it anew.
    const nextCursor =
      slice.last !== undefined
        ? this.#cursors.encode(slice.last)
        : (query.after ?? this.#cursors.encode(FEED_START))
    return { data: slice.items, nextCursor }
  }
}
