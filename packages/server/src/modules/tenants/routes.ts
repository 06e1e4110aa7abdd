// The admin API of tenants, under /v1/admin/tenants. Every route needs the ADMIN_TOKEN (route config
// `admin: true`, enforced by the auth plugin). A change of a tenant's rate limit, or its deletion, takes effect
// in every replica at once (an invalidation over Redis), or within AUTH_CACHE_TTL_MS without it.
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import {
  CreateTenantBody,
  RateLimitBody,
  TenantList,
  TenantParams,
  Tenant as TenantResponse,
} from '@pos/contracts/admin'
import {
  createTenantExamples,
  Invalid,
  NoContent,
  NotFound,
  tenantExamples,
  tenantListExamples,
  tenantView,
  Unauthorized,
} from './schemas.js'

const admin = { admin: true } as const
const tags = ['admin']

const tenantRoutes: FastifyPluginAsyncTypebox = async (app) => {
  const tenants = app.tenants

  app.post(
    '/v1/admin/tenants',
    {
      config: admin,
      schema: {
        tags,
        summary: 'Creates a tenant',
        body: CreateTenantBody,
        response: { 201: TenantResponse, 401: Unauthorized, 422: Invalid },
        examples: { body: createTenantExamples, responses: { 201: tenantExamples } },
      },
    },
    async (request, reply) => reply.code(201).send(tenantView(await tenants.createTenant(request.body.name))),
  )

  app.get(
    '/v1/admin/tenants',
    {
      config: admin,
      schema: {
        tags,
        summary: 'Lists every tenant',
        response: { 200: TenantList, 401: Unauthorized },
        examples: { responses: { 200: tenantListExamples } },
      },
    },
    async () => ({ data: (await tenants.listTenants()).map(tenantView) }),
  )

  app.get(
    '/v1/admin/tenants/:tenantId',
    {
      config: admin,
      schema: {
        tags,
        summary: 'Shows one tenant',
        params: TenantParams,
        response: { 200: TenantResponse, 401: Unauthorized, 404: NotFound },
        examples: { responses: { 200: tenantExamples } },
      },
    },
    async (request) => tenantView(await tenants.getTenant(request.params.tenantId)),
  )

  app.delete(
    '/v1/admin/tenants/:tenantId',
    {
      config: admin,
      schema: {
        tags,
        summary: 'Deletes a tenant with everything it owns: keys, sources, stores, events, projections',
        params: TenantParams,
        response: { 204: NoContent, 401: Unauthorized, 404: NotFound },
      },
    },
    async (request, reply) => {
      await tenants.deleteTenant(request.params.tenantId)
      return reply.code(204).send(null)
    },
  )

  app.put(
    '/v1/admin/tenants/:tenantId/rate-limit',
    {
      config: admin,
      schema: {
        tags,
        summary:
          "Sets the tenant's rate limit per API key, instead of RATE_LIMIT_MAX per RATE_LIMIT_WINDOW_MS",
        params: TenantParams,
        body: RateLimitBody,
        response: { 200: TenantResponse, 401: Unauthorized, 404: NotFound, 422: Invalid },
      },
    },
    async (request) => tenantView(await tenants.setRateLimit(request.params.tenantId, request.body)),
  )

  app.delete(
    '/v1/admin/tenants/:tenantId/rate-limit',
    {
      config: admin,
      schema: {
        tags,
        summary: "Returns the tenant to the service's default rate limit",
        params: TenantParams,
        response: { 200: TenantResponse, 401: Unauthorized, 404: NotFound },
      },
    },
    async (request) => tenantView(await tenants.setRateLimit(request.params.tenantId, null)),
  )
}

export default tenantRoutes
