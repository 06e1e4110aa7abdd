// The inventory module's service, for its read routes.
import type { FastifyInstance } from 'fastify'
import fp from 'fastify-plugin'
import { CursorSeal } from '../../platform/pagination.js'
import { InventoryService } from './service.js'

declare module 'fastify' {
  interface FastifyInstance {
    inventory: InventoryService
  }
}

async function inventoryModule(app: FastifyInstance): Promise<void> {
  app.decorate(
    'inventory',
    new InventoryService(app.platform.database.db, CursorSeal.of(app.platform.secrets)),
  )
}

export default fp(inventoryModule, { name: 'inventory' })
