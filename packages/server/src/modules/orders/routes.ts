// The read side of orders (scope `read`): the tenant's orders as a paginated list, and one order in full.
import { type FastifyPluginAsyncTypebox, Type } from '@fastify/type-provider-typebox'
import { Order, OrderDetail, OrderStatus } from '../../contracts/order.js'
import { Page, pageQuery } from '../../contracts/pagination.js'
import { principalOf } from '../../http/auth.js'
import { idCursor } from '../../http/pagination.js'
import { ProblemError } from '../../platform/problems.js'
import { OrdersRepository } from './repository.js'

const ordersCursor = idCursor('orders')
const read = { scope: 'read' } as const

const ordersRoutes: FastifyPluginAsyncTypebox = async (app) => {
  const repository = new OrdersRepository(app.platform.database.db)

  app.get(
    '/v1/orders',
    {
      config: read,
      schema: {
        tags: ['orders'],
        summary: 'Lists orders',
        querystring: Type.Object({
          storeId: Type.Optional(Type.String({ minLength: 1, description: 'A store code' })),
          status: Type.Optional(OrderStatus),
          updatedSince: Type.Optional(
            Type.String({ format: 'date-time', description: 'RFC 3339; orders updated at or after it' }),
          ),
          ...pageQuery,
        }),
        response: { 200: Page(Order) },
      },
    },
    async (request) => {
      const { storeId, status, updatedSince } = request.query
      const slice = await repository.listOrders(
        principalOf(request).tenantId,
        { storeCode: storeId, status, updatedSince },
        ordersCursor.request(request.query),
      )
      return ordersCursor.page(slice)
    },
  )

  app.get(
    '/v1/orders/:orderId',
    {
      config: read,
      schema: {
        tags: ['orders'],
        summary: 'One order with its line items and refunds',
        params: Type.Object({ orderId: Type.String({ minLength: 1 }) }),
        response: { 200: OrderDetail },
      },
    },
    async (request) => {
      const order = await repository.findOrder(principalOf(request).tenantId, request.params.orderId)
      if (order === undefined) throw new ProblemError('not-found', `No order ${request.params.orderId}`)
      return order
    },
  )
}

export default ordersRoutes
