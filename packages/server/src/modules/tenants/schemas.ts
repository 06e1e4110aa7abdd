// The shapes of the admin API of tenants: what it accepts (validated by the HTTP layer and by the CLI alike)
// and what it answers, with the function that turns a stored tenant into that answer. The admin routes of API
// keys and sources live under a tenant (/v1/admin/tenants/:tenantId/...): they share this file's common parts,
// the path's tenant, the id and time formats, and the problem answers every admin route documents.
import { type Static, Type } from '@fastify/type-provider-typebox'
import { oneExample } from '@pos/contracts/examples'
import { PROBLEM_CONTENT_TYPE, Problem } from '@pos/contracts/problem'
import type { TenantRecord } from './repository.js'

// Ids are plain strings: a malformed id names nothing and is answered 404, like an unknown one.
export const TenantParams = Type.Object({ tenantId: Type.String() })

export const Id = Type.String({ format: 'uuid' })
export const Timestamp = Type.String({ format: 'date-time' })
// PostgreSQL text cannot hold NUL, and a name or secret has no use for control characters at all.
export const NO_CONTROL_CHARACTERS = '^[^\\u0000-\\u001f\\u007f]*$'
export const DisplayName = Type.String({ minLength: 1, maxLength: 200, pattern: NO_CONTROL_CHARACTERS })

export const CreateTenantBody = Type.Object({ name: DisplayName }, { additionalProperties: false })

export const RateLimitBody = Type.Object(
  {
    max: Type.Integer({
      minimum: 1,
      maximum: 10_000_000,
      description: 'Requests per window for each API key',
    }),
    windowMs: Type.Integer({
      minimum: 1000,
      maximum: 86_400_000,
      multipleOf: 1000,
      description: 'Window length in milliseconds, a whole number of seconds',
    }),
  },
  { additionalProperties: false },
)

export const Tenant = Type.Object({
  id: Id,
  name: Type.String(),
  rateLimit: Type.Union([RateLimitBody, Type.Null()], {
    description: "The tenant's own limit per API key; null: the service's default",
  }),
  createdAt: Timestamp,
})
export const TenantList = Type.Object({ data: Type.Array(Tenant) })

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

export function tenantView(tenant: TenantRecord): Static<typeof Tenant> {
  return {
    id: tenant.id,
    name: tenant.name,
    rateLimit: tenant.rateLimit && { ...tenant.rateLimit },
    createdAt: tenant.createdAt.toISOString(),
  }
}

/** The tenant every admin example is about (the coffee bar of the API's examples). */
const EXAMPLE_TENANT_ID = '0b8f3c2e-4d71-4a5b-8e29-6c1f7a9d3e54'
const exampleTenant: Static<typeof Tenant> = {
  id: EXAMPLE_TENANT_ID,
  name: 'Kranz Coffee',
  rateLimit: null,
  createdAt: '2026-11-01T08:30:00.000Z',
}
export const createTenantExamples = oneExample<Static<typeof CreateTenantBody>>('A new tenant', {
  name: 'Kranz Coffee',
})
export const tenantExamples = oneExample('The tenant, on the default rate limit', exampleTenant)
export const tenantListExamples = oneExample<Static<typeof TenantList>>('Every tenant', {
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
