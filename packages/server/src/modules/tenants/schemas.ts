// The admin API of tenants around its shapes (in @pos/contracts/admin, shared with the dashboard): the function
// that turns a stored tenant into an answer, and the examples. The admin routes of API keys and sources live
// under a tenant (/v1/admin/tenants/:tenantId/...): they share this file's problem answers, which every admin
// route documents.
import { Type } from '@fastify/type-provider-typebox'
import type { CreateTenantBody, Tenant, TenantList } from '@pos/contracts/admin'
import { oneExample } from '@pos/contracts/examples'
import { PROBLEM_CONTENT_TYPE, Problem } from '@pos/contracts/problem'
import type { TenantRecord } from './repository.js'

/** An error answer for the OpenAPI document; where a route gives one, it wins over the derived one. */
const problem = (description: string) => ({
  description,
  content: { [PROBLEM_CONTENT_TYPE]: { schema: Problem } },
})
export const Unauthorized = problem('The admin token is missing or wrong (`unauthorized`)')
export const NotFound = problem('No such tenant, API key or source in this tenant (`not-found`)')
export const Invalid = problem('The body breaks the schema (`validation-failed`)')
export const Conflict = problem('The tenant already has a source of that name (`conflict`)')
export const NoContent = Type.Null({ description: 'Done; no body' })

export function tenantView(tenant: TenantRecord): Tenant {
  return {
    id: tenant.id,
    name: tenant.name,
    rateLimit: tenant.rateLimit && { ...tenant.rateLimit },
    createdAt: tenant.createdAt.toISOString(),
  }
}

/** The tenant every admin example is about (the coffee bar of the API's examples). */
const EXAMPLE_TENANT_ID = '0b8f3c2e-4d71-4a5b-8e29-6c1f7a9d3e54'
const exampleTenant: Tenant = {
  id: EXAMPLE_TENANT_ID,
  name: 'Kranz Coffee',
  rateLimit: null,
  createdAt: '2026-11-01T08:30:00.000Z',
}
export const createTenantExamples = oneExample<CreateTenantBody>('A new tenant', {
  name: 'Kranz Coffee',
})
export const tenantExamples = oneExample('The tenant, on the default rate limit', exampleTenant)
export const tenantListExamples = oneExample<TenantList>('Every tenant', {
  data: [
    exampleTenant,
    {
      id: '9a4e6d10-2c3b-4f87-b5d6-1e0f8c7a2b93',
      name: 'Nordbahn Kiosk',
      rateLimit: { max: 600, windowMs: 60_000 },
      createdAt: '2026-11-12T14:05:00.000Z',
    },
  ],
})
