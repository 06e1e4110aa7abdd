// The orders module's service, for its read routes.
import type { FastifyInstance } from 'fastify'
import fp from 'fastify-plugin'
import { CursorSeal } from '../../platform/pagination.js'
import { OrdersService } from './service.js'

declare module 'fastify' {
  interface FastifyInstance {
    orders: OrdersService
  }
}

async function ordersModule(app: FastifyInstance): Promise<void> {
  app.decorate('orders', new OrdersService(app.platform.database.db, CursorSeal.of(app.platform.secrets)))
}

export default fp(ordersModule, { name: 'orders' })
