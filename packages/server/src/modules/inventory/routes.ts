// The read side of inventory (scope `read`): stock on hand per store and SKU.
import { type FastifyPluginAsyncTypebox, Type } from '@fastify/type-provider-typebox'
import { StockLevel } from '../../contracts/inventory.js'
import { Page, pageQuery } from '../../contracts/pagination.js'
import { principalOf } from '../../http/auth.js'
import { idCursor } from '../../http/pagination.js'
import { InventoryRepository } from './repository.js'

const stockCursor = idCursor('inventory')

const inventoryRoutes: FastifyPluginAsyncTypebox = async (app) => {
  const repository = new InventoryRepository(app.platform.database.db)

  app.get(
    '/v1/inventory',
    {
      config: { scope: 'read' },
      schema: {
        tags: ['inventory'],
        summary: 'Lists stock levels, per store and SKU',
        querystring: Type.Object({
          storeId: Type.Optional(Type.String({ minLength: 1, description: 'A store code' })),
          sku: Type.Optional(Type.String({ minLength: 1 })),
          ...pageQuery,
        }),
        response: { 200: Page(StockLevel) },
      },
    },
    async (request) => {
      const { storeId, sku } = request.query
      const slice = await repository.listStockLevels(
        principalOf(request).tenantId,
        { storeCode: storeId, sku },
        stockCursor.request(request.query),
      )
      return stockCursor.page(slice)
    },
  )
}

export default inventoryRoutes
