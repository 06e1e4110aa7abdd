// The sources module's service: the admin operations on sources, and the lookup the ingest route makes of the
// source an event batch comes from.
import type { FastifyInstance } from 'fastify'
import fp from 'fastify-plugin'
import { SourcesService } from './service.js'

declare module 'fastify' {
  interface FastifyInstance {
    sources: SourcesService
  }
}

async function sourcesModule(app: FastifyInstance): Promise<void> {
  const { database, secrets, invalidation } = app.platform
  app.decorate('sources', new SourcesService(database.db, secrets, app.tenants, invalidation))
}

export default fp(sourcesModule, { name: 'sources', dependencies: ['tenants'] })
