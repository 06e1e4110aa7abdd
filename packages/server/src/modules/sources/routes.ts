// The admin API of a tenant's sources, under /v1/admin/tenants/:tenantId/sources. Every route needs the
// ADMIN_TOKEN (route config `admin: true`, enforced by the auth plugin). Every change to a source takes effect
// in every replica at once (an invalidation over Redis), or within AUTH_CACHE_TTL_MS without it.
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import {
  ConnectorPatch,
  CreateSourceBody,
  RotateSecretBody,
  SourceList,
  SourceParams,
  Source as SourceResponse,
  TenantParams,
} from '@pos/contracts/admin'
import { Conflict, Invalid, NoContent, NotFound, Unauthorized } from '../tenants/schemas.js'
import { createSourceExamples, sourceExamples, sourceListExamples, sourceView } from './schemas.js'

const admin = { admin: true } as const
const tags = ['admin']

const sourceRoutes: FastifyPluginAsyncTypebox = async (app) => {
  const sources = app.sources

  app.post(
    '/v1/admin/tenants/:tenantId/sources',
    {
      config: admin,
      schema: {
        tags,
        summary:
          'Creates a source; signed when a signing secret is given; a square or shopify source may carry its connector',
        params: TenantParams,
        body: CreateSourceBody,
        response: { 201: SourceResponse, 401: Unauthorized, 404: NotFound, 409: Conflict, 422: Invalid },
        examples: { body: createSourceExamples, responses: { 201: sourceExamples } },
      },
    },
    async (request, reply) => {
      const created = await sources.createSource(request.params.tenantId, request.body)
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
        examples: { responses: { 200: sourceListExamples } },
      },
    },
    async (request) => ({ data: (await sources.listSources(request.params.tenantId)).map(sourceView) }),
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
      await sources.deleteSource(request.params.tenantId, request.params.sourceId)
      return reply.code(204).send(null)
    },
  )

  app.patch(
    '/v1/admin/tenants/:tenantId/sources/:sourceId/connector',
    {
      config: admin,
      schema: {
        tags,
        summary: "Changes a square or shopify source's connector: the fields given replace the stored ones",
        params: SourceParams,
        body: ConnectorPatch,
        response: { 200: SourceResponse, 401: Unauthorized, 404: NotFound, 422: Invalid },
      },
    },
    async (request) => {
      const { tenantId, sourceId } = request.params
      return sourceView(await sources.updateConnector(tenantId, sourceId, request.body))
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
      return sourceView(await sources.rotateSigningSecret(tenantId, sourceId, request.body.signingSecret))
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
      return sourceView(await sources.retirePreviousSigningSecret(tenantId, sourceId))
    },
  )
}

export default sourceRoutes
