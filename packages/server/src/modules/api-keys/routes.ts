// The admin API of a tenant's API keys, under /v1/admin/tenants/:tenantId/api-keys. Every route needs the
// ADMIN_TOKEN (route config `admin: true`, enforced by the auth plugin). Revoking or deleting a key takes effect
// in every replica at once (an invalidation over Redis), or within AUTH_CACHE_TTL_MS without it.
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import {
  ApiKeyList,
  ApiKeyParams,
  ApiKey as ApiKeyResponse,
  CreateApiKeyBody,
  CreatedApiKey as CreatedApiKeyResponse,
  TenantParams,
} from '@pos/contracts/admin'
import { Invalid, NoContent, NotFound, Unauthorized } from '../tenants/schemas.js'
import {
  apiKeyListExamples,
  apiKeyView,
  createApiKeyExamples,
  createdApiKeyExamples,
  createdApiKeyView,
} from './schemas.js'

const admin = { admin: true } as const
const tags = ['admin']

const apiKeyRoutes: FastifyPluginAsyncTypebox = async (app) => {
  const apiKeys = app.apiKeys

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
        examples: { body: createApiKeyExamples, responses: { 201: createdApiKeyExamples } },
      },
    },
    async (request, reply) => {
      const created = await apiKeys.createApiKey(request.params.tenantId, request.body)
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
        examples: { responses: { 200: apiKeyListExamples } },
      },
    },
    async (request) => ({ data: (await apiKeys.listApiKeys(request.params.tenantId)).map(apiKeyView) }),
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
    async (request) => apiKeyView(await apiKeys.revokeApiKey(request.params.tenantId, request.params.keyId)),
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
      await apiKeys.deleteApiKey(request.params.tenantId, request.params.keyId)
      return reply.code(204).send(null)
    },
  )
}

export default apiKeyRoutes
