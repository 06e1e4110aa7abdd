// The read side of the catalog (scope `read`): the tenant's products, by SKU or as a paginated list; the admin
// API lists any tenant's the same way (the dashboard).
import { type FastifyPluginAsyncTypebox, Type } from '@fastify/type-provider-typebox'
import { TenantParams } from '@pos/contracts/admin'
import { productExamples, productPageExamples } from '@pos/contracts/examples'
import { Page } from '@pos/contracts/pagination'
import { Product, ProductListQuery } from '@pos/contracts/product'
import { principalOf } from '../../http/auth.js'
import { requireKnownTenant } from '../tenants/known-tenant.js'

const read = { scope: 'read' } as const

const catalogReadRoutes: FastifyPluginAsyncTypebox = async (app) => {
  app.get(
    '/v1/products',
    {
      config: read,
      schema: {
        tags: ['products'],
        summary: 'Lists the products of the catalog',
        querystring: ProductListQuery,
        response: { 200: Page(Product) },
        examples: { responses: { 200: productPageExamples } },
      },
    },
    async (request) => {
      const { tenantId } = principalOf(request)
      const { sku, barcode, includeDeleted } = request.query
      return app.catalog.listProducts(tenantId, { sku, barcode, includeDeleted }, request.query)
    },
  )

  app.get(
    '/v1/products/:sku',
    {
      config: read,
      schema: {
        tags: ['products'],
        summary: 'One product by SKU; 404 when it is missing or deleted',
        params: Type.Object({ sku: Type.String({ minLength: 1 }) }),
        response: { 200: Product },
        examples: { responses: { 200: productExamples } },
      },
    },
    async (request) => {
      return app.catalog.getProduct(principalOf(request).tenantId, request.params.sku)
    },
  )

  app.get(
    '/v1/admin/tenants/:tenantId/products',
    {
      config: { admin: true },
      preHandler: requireKnownTenant(app.tenants),
      schema: {
        tags: ['admin'],
        summary: "Lists a tenant's products, as GET /v1/products does",
        params: TenantParams,
        querystring: ProductListQuery,
        response: { 200: Page(Product) },
        examples: { responses: { 200: productPageExamples } },
      },
    },
    async (request) => {
      const { sku, barcode, includeDeleted } = request.query
      return app.catalog.listProducts(
        request.params.tenantId,
        { sku, barcode, includeDeleted },
        request.query,
      )
    },
  )
}

export default catalogReadRoutes
