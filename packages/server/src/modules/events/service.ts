// The change feed: every event of a tenant, in the order it became visible. Unlike the other lists the feed
// never ends: nextCursor is always the place to read on from, also when the page is empty. Events are written
// only by the ingest write path (WRITE_BATCH appends them), never here.
import type { Static } from '@fastify/type-provider-typebox'
import type { FeedPage } from '@pos/contracts/events'
import type { PageQuery } from '@pos/contracts/pagination'
import type { Database } from '../../platform/database.js'
import { CursorCodec } from '../../platform/pagination.js'
import { EventsRepository, FEED_START, type FeedPosition } from './repository.js'

const XID8_MAX = 2n ** 64n - 1n

const feedCursor = new CursorCodec<FeedPosition>(
  'events',
  (position) => [position.txId, position.seq],
  (keys) => {
    const [txId, seqKey] = keys
    const seq = Number(seqKey)
    if (keys.length !== 2 || txId === undefined || BigInt(txId) > XID8_MAX) return undefined
    return Number.isSafeInteger(seq) ? { txId, seq } : undefined
  },
)

export class ChangeFeedService {
  readonly #repository: EventsRepository

  constructor(db: Database) {
    this.#repository = new EventsRepository(db)
  }

  async readFeed(tenantId: string, query: PageQuery): Promise<Static<typeof FeedPage>> {
    const page = feedCursor.request(query)
    const slice = await this.#repository.readFeed(tenantId, page)
    return { data: slice.items, nextCursor: feedCursor.encode(slice.last ?? page.after ?? FEED_START) }
  }
}
