// The change feed (scope `read`): every event of the tenant, in the order it became visible. Unlike the
// other lists the feed never ends: nextCursor is always the place to read on from, also when the page is
// empty, and a page shorter than `limit` means the reader has caught up for now. The admin API reads any
// tenant's feed the same way (the dashboard's live feed).
import { type FastifyPluginAsyncTypebox, Type } from '@fastify/type-provider-typebox'
import { TenantParams } from '@pos/contracts/admin'
import { FeedPage } from '@pos/contracts/events'
import { feedPageExamples } from '@pos/contracts/examples'
import { pageQuery } from '@pos/contracts/pagination'
import { principalOf } from '../../http/auth.js'
import { requireKnownTenant } from '../tenants/known-tenant.js'

const eventsRoutes: FastifyPluginAsyncTypebox = async (app) => {
  app.get(
    '/v1/events',
    {
      config: { scope: 'read' },
      schema: {
        tags: ['events'],
        summary: 'The change feed: events in the order they became visible',
        querystring: Type.Object(pageQuery),
        response: { 200: FeedPage },
        examples: { responses: { 200: feedPageExamples } },
      },
    },
    async (request) => {
      return app.changeFeed.readFeed(principalOf(request).tenantId, request.query)
    },
  )

  app.get(
    '/v1/admin/tenants/:tenantId/events',
    {
      config: { admin: true },
      preHandler: requireKnownTenant(app.tenants),
      schema: {
        tags: ['admin'],
        summary: "A tenant's change feed, as GET /v1/events reads it",
        params: TenantParams,
        querystring: Type.Object(pageQuery),
        response: { 200: FeedPage },
        examples: { responses: { 200: feedPageExamples } },
      },
    },
    async (request) => app.changeFeed.readFeed(request.params.tenantId, request.query),
  )
}

export default eventsRoutes
