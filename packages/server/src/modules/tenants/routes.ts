// The admin API: tenants, their API keys and their sources, under /v1/admin. Every route needs the
// ADMIN_TOKEN (route config `admin: true`, enforced by the auth plugin). Changes to credentials take effect in
// every replica at once (an invalidation over Redis), or within AUTH_CACHE_TTL_MS without it.
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import {
  ApiKeyList,
  ApiKeyParams,
  ApiKey as ApiKeyResponse,
  apiKeyView,
  Conflict,
  CreateApiKeyBody,
  CreatedApiKeyResponse,
  CreateSourceBody,
  CreateTenantBody,
  createdApiKeyView,
  Invalid,
  NoContent,
  NotFound,
  RateLimitBody,
  RotateSecretBody,
  SourceList,
  SourceParams,
  Source as SourceResponse,
  sourceView,
  TenantList,
  TenantParams,
  Tenant as TenantResponse,
  tenantView,
  Unauthorized,
} from './schemas.js'

const admin = { admin: true } as const
const tags = ['admin']

const adminRoutes: FastifyPluginAsyncTypebox = async (app) => {
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
      },
    },
    async (request, reply) => reply.code(201).send(tenantView(await tenants.createTenant(request.body.name))),
  )

  app.get(
    '/v1/admin/tenants',
    {
      config: admin,
      schema: { tags, summary: 'Lists every tenant', response: { 200: TenantList, 401: Unauthorized } },
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

  app.post(
    '/v1/admin/tenants/:tenantId/api-keys',
    {
      config: admin,
      schema: {
        tags,
        summary: 'Creates an API key; the key is in this answer only',
        params: TenantParams,
        body: CreateApiKeyBody,
        response: { 201: CreatedApiKeyResponse, 401: Unauthorized, 404: NotFound, 422: Invalid },
      },
    },
    async (request, reply) => {
      const created = await tenants.createApiKey(request.params.tenantId, request.body)
      return reply.code(201).send(createdApiKeyView(created))
    },
  )

  app.get(
    '/v1/admin/tenants/:tenantId/api-keys',
    {
      config: admin,
      schema: {
        tags,
        summary: "Lists the tenant's API keys, revoked ones included",
        params: TenantParams,
        response: { 200: ApiKeyList, 401: Unauthorized, 404: NotFound },
      },
    },
    async (request) => ({ data: (await tenants.listApiKeys(request.params.tenantId)).map(apiKeyView) }),
  )

  app.post(
    '/v1/admin/tenants/:tenantId/api-keys/:keyId/revoke',
    {
      config: admin,
      schema: {
        tags,
        summary: 'Revokes an API key; revoking it again changes nothing',
        params: ApiKeyParams,
        response: { 200: ApiKeyResponse, 401: Unauthorized, 404: NotFound },
      },
    },
    async (request) => apiKeyView(await tenants.revokeApiKey(request.params.tenantId, request.params.keyId)),
  )

  app.delete(
    '/v1/admin/tenants/:tenantId/api-keys/:keyId',
    {
      config: admin,
      schema: {
        tags,
        summary: 'Deletes an API key',
        params: ApiKeyParams,
        response: { 204: NoContent, 401: Unauthorized, 404: NotFound },
      },
    },
    async (request, reply) => {
      await tenants.deleteApiKey(request.params.tenantId, request.params.keyId)
      return reply.code(204).send(null)
    },
  )

  app.post(
    '/v1/admin/tenants/:tenantId/sources',
    {
      config: admin,
      schema: {
        tags,
        summary: 'Creates a source; signed when a signing secret is given',
        params: TenantParams,
        body: CreateSourceBody,
        response: { 201: SourceResponse, 401: Unauthorized, 404: NotFound, 409: Conflict, 422: Invalid },
      },
    },
    async (request, reply) => {
      const created = await tenants.createSource(request.params.tenantId, request.body)
      return reply.code(201).send(sourceView(created))
    },
  )

  app.get(
    '/v1/admin/tenants/:tenantId/sources',
    {
      config: admin,
      schema: {
        tags,
        summary: "Lists the tenant's sources",
        params: TenantParams,
        response: { 200: SourceList, 401: Unauthorized, 404: NotFound },
      },
    },
    async (request) => ({ data: (await tenants.listSources(request.params.tenantId)).map(sourceView) }),
  )

  app.delete(
    '/v1/admin/tenants/:tenantId/sources/:sourceId',
    {
      config: admin,
      schema: {
        tags,
        summary: 'Deletes a source; the events it sent stay',
        params: SourceParams,
        response: { 204: NoContent, 401: Unauthorized, 404: NotFound },
      },
    },
    async (request, reply) => {
      await tenants.deleteSource(request.params.tenantId, request.params.sourceId)
      return reply.code(204).send(null)
    },
  )

  app.post(
    '/v1/admin/tenants/:tenantId/sources/:sourceId/rotate-secret',
    {
      config: admin,
      schema: {
        tags,
        summary: 'Makes a new signing secret current; the previous one stays valid until retired',
        params: SourceParams,
        body: RotateSecretBody,
        response: { 200: SourceResponse, 401: Unauthorized, 404: NotFound, 422: Invalid },
      },
    },
    async (request) => {
      const { tenantId, sourceId } = request.params
      return sourceView(await tenants.rotateSigningSecret(tenantId, sourceId, request.body.signingSecret))
    },
  )

  app.post(
    '/v1/admin/tenants/:tenantId/sources/:sourceId/retire-previous-secret',
    {
      config: admin,
      schema: {
        tags,
        summary: 'Stops accepting the previous signing secret',
        params: SourceParams,
        response: { 200: SourceResponse, 401: Unauthorized, 404: NotFound },
      },
    },
    async (request) => {
      const { tenantId, sourceId } = request.params
      return sourceView(await tenants.retirePreviousSigningSecret(tenantId, sourceId))
    },
  )
}

export default adminRoutes
