// The change feed (scope `read`): every event of the tenant, in the order it became visible. Unlike the
// other lists the feed never ends: nextCursor is always the place to read on from, also when the page is
// empty, and a page shorter than `limit` means the reader has caught up for now.
import { type FastifyPluginAsyncTypebox, Type } from '@fastify/type-provider-typebox'
import { FeedPage } from '../../contracts/events.js'
import { pageQuery } from '../../contracts/pagination.js'
import { principalOf } from '../../http/auth.js'
import { CursorCodec } from '../../http/pagination.js'
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

const eventsRoutes: FastifyPluginAsyncTypebox = async (app) => {
  const repository = new EventsRepository(app.platform.database.db)

  app.get(
    '/v1/events',
    {
      config: { scope: 'read' },
      schema: {
        tags: ['events'],
        summary: 'The change feed: events in the order they became visible',
        querystring: Type.Object(pageQuery),
        response: { 200: FeedPage },
      },
    },
    async (request) => {
      const page = feedCursor.request(request.query)
      const slice = await repository.readFeed(principalOf(request).tenantId, page)
      return { data: slice.items, nextCursor: feedCursor.encode(slice.last ?? page.after ?? FEED_START) }
    },
  )
}

export default eventsRoutes
