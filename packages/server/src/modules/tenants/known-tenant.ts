// The admin routes that read one tenant's data for the dashboard (its feed, orders, stock, products,
// webhooks) answer an unknown tenant with 404 not-found, as every other admin route under
// /v1/admin/tenants/:tenantId does, rather than with an empty list that reads like a tenant with no data.
import type { Static } from '@fastify/type-provider-typebox'
import type { TenantParams } from '@pos/contracts/admin'
import type { FastifyRequest } from 'fastify'
import type { TenantsService } from './service.js'

/** A preHandler that refuses the request with not-found when the path's tenant does not exist. */
export function requireKnownTenant(tenants: TenantsService) {
  return async (request: FastifyRequest): Promise<void> => {
    // Validated by then: the route's params schema holds TenantParams' fields.
    const { tenantId } = request.params as Static<typeof TenantParams>
    await tenants.getTenant(tenantId)
  }
}
