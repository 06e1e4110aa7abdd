// The change feed module's service, for its read route.
import type { FastifyInstance } from 'fastify'
import fp from 'fastify-plugin'
import { CursorSeal } from '../../platform/pagination.js'
import { ChangeFeedService } from './service.js'

declare module 'fastify' {
  interface FastifyInstance {
    changeFeed: ChangeFeedService
  }
}

async function changeFeedModule(app: FastifyInstance): Promise<void> {
  app.decorate(
    'changeFeed',
    new ChangeFeedService(app.platform.database.db, CursorSeal.of(app.platform.secrets)),
  )
}

export default fp(changeFeedModule, { name: 'change-feed' })
