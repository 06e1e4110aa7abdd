// The catalog module's service, used by its read and write routes.
import type { FastifyInstance } from 'fastify'
import fp from 'fastify-plugin'
import { CursorSeal } from '../../platform/pagination.js'
import { CatalogService } from './service.js'

declare module 'fastify' {
  interface FastifyInstance {
    catalog: CatalogService
  }
}

async function catalogModule(app: FastifyInstance): Promise<void> {
  app.decorate('catalog', new CatalogService(app.platform.database.db, CursorSeal.of(app.platform.secrets)))
}

export default fp(catalogModule, { name: 'catalog' })
