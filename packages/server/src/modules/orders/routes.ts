// The read side of orders (scope `read`): the tenant's orders as a paginated list, and one order in full;
// the admin API reads any tenant's the same way (the dashboard).
import { type FastifyPluginAsyncTypebox, Type } from '@fastify/type-provider-typebox'
import { TenantParams } from '@pos/contracts/admin'
import { orderDetailExamples, orderPageExamples } from '@pos/contracts/examples'
import { Order, OrderDetail, OrderListQuery } from '@pos/contracts/order'
import { Page } from '@pos/contracts/pagination'
import { principalOf } from '../../http/auth.js'
import { requireKnownTenant } from '../tenants/known-tenant.js'

const read = { scope: 'read' } as const
const admin = { admin: true } as const
const OrderParams = Type.Object({ orderId: Type.String({ minLength: 1 }) })

const ordersRoutes: FastifyPluginAsyncTypebox = async (app) => {
  const knownTenant = requireKnownTenant(app.tenants)

  app.get(
    '/v1/orders',
    {
      config: read,
      schema: {
        tags: ['orders'],
        summary: 'Lists orders',
        querystring: OrderListQuery,
        response: { 200: Page(Order) },
        examples: { responses: { 200: orderPageExamples } },
      },
    },
    async (request) => {
      const { storeId, status, updatedSince } = request.query
      const filter = { storeCode: storeId, status, updatedSince }
      return app.orders.listOrders(principalOf(request).tenantId, filter, request.query)
    },
  )

  app.get(
    '/v1/orders/:orderId',
    {
      config: read,
      schema: {
        tags: ['orders'],
        summary: 'One order with its line items and refunds',
        params: OrderParams,
        response: { 200: OrderDetail },
        examples: { responses: { 200: orderDetailExamples } },
      },
    },
    async (request) => {
      return app.orders.getOrder(principalOf(request).tenantId, request.params.orderId)
    },
  )

  app.get(
    '/v1/admin/tenants/:tenantId/orders',
    {
      config: admin,
      preHandler: knownTenant,
      schema: {
        tags: ['admin'],
        summary: "Lists a tenant's orders, as GET /v1/orders does",
        params: TenantParams,
        querystring: OrderListQuery,
        response: { 200: Page(Order) },
        examples: { responses: { 200: orderPageExamples } },
      },
    },
    async (request) => {
      const { storeId, status, updatedSince } = request.query
      const filter = { storeCode: storeId, status, updatedSince }
      return app.orders.listOrders(request.params.tenantId, filter, request.query)
    },
  )

  app.get(
    '/v1/admin/tenants/:tenantId/orders/:orderId',
    {
      config: admin,
      preHandler: knownTenant,
      schema: {
        tags: ['admin'],
        summary: "One of a tenant's orders with its line items and refunds",
        params: Type.Object({ ...TenantParams.properties, ...OrderParams.properties }),
        response: { 200: OrderDetail },
        examples: { responses: { 200: orderDetailExamples } },
      },
    },
    async (request) => app.orders.getOrder(request.params.tenantId, request.params.orderId),
  )
}

export default ordersRoutes
