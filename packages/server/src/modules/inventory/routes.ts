// The read side of inventory (scope `read`): stock on hand per store and SKU; the admin API reads any
// tenant's the same way (the dashboard).
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { TenantParams } from '@pos/contracts/admin'
import { stockLevelPageExamples } from '@pos/contracts/examples'
import { StockLevel, StockLevelQuery } from '@pos/contracts/inventory'
import { Page } from '@pos/contracts/pagination'
import { principalOf } from '../../http/auth.js'
import { requireKnownTenant } from '../tenants/known-tenant.js'

const inventoryRoutes: FastifyPluginAsyncTypebox = async (app) => {
  app.get(
    '/v1/inventory',
    {
      config: { scope: 'read' },
      schema: {
        tags: ['inventory'],
        summary: 'Lists stock levels, per store and SKU',
        querystring: StockLevelQuery,
        response: { 200: Page(StockLevel) },
        examples: { responses: { 200: stockLevelPageExamples } },
      },
    },
    async (request) => {
      const { storeId, sku } = request.query
      return app.inventory.listStockLevels(
        principalOf(request).tenantId,
        { storeCode: storeId, sku },
        request.query,
      )
    },
  )

  app.get(
    '/v1/admin/tenants/:tenantId/inventory',
    {
      config: { admin: true },
      preHandler: requireKnownTenant(app.tenants),
      schema: {
        tags: ['admin'],
        summary: "Lists a tenant's stock levels, as GET /v1/inventory does",
        params: TenantParams,
        querystring: StockLevelQuery,
        response: { 200: Page(StockLevel) },
        examples: { responses: { 200: stockLevelPageExamples } },
      },
    },
    async (request) => {
      const { storeId, sku } = request.query
      return app.inventory.listStockLevels(
        request.params.tenantId,
        { storeCode: storeId, sku },
        request.query,
      )
    },
  )
}

export default inventoryRoutes
