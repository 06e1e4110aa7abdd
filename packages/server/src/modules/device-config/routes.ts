// Remote configuration of devices. GET /v1/config (an API key of any scope) answers what the tenant's devices
// must obey, with a strong ETag: a device that sends it back in If-None-Match is answered 304 without a body.
// The admin API sets it per tenant and per source under /v1/admin/tenants/:tenantId (the ADMIN_TOKEN).
import { type FastifyPluginAsyncTypebox, Type } from '@fastify/type-provider-typebox'
import { SourceParams, TenantParams } from '@pos/contracts/admin'
import { DeviceConfig, DeviceConfigLevel, DeviceConfigPatch } from '@pos/contracts/device-config'
import {
  deviceConfigExamples,
  deviceConfigLevelExamples,
  deviceConfigPatchExamples,
} from '@pos/contracts/examples'
import { principalOf } from '../../http/auth.js'
import { Invalid, NotFound, Unauthorized } from '../tenants/schemas.js'
import type { DeviceConfigLevel as Level } from './service.js'

const admin = { admin: true } as const
const adminTags = ['admin']

function levelView(level: Level) {
  return { ...level, updatedAt: level.updatedAt?.toISOString() ?? null }
}

/** Whether an If-None-Match header names the current tag (weak comparison, as RFC 9110 asks for GET). */
export function matchesEtag(ifNoneMatch: string | undefined, etag: string): boolean {
  if (ifNoneMatch === undefined) return false
  if (ifNoneMatch.trim() === '*') return true
  return ifNoneMatch.split(',').some((tag) => tag.trim().replace(/^W\//, '') === etag)
}

const deviceConfigRoutes: FastifyPluginAsyncTypebox = async (app) => {
  const service = app.deviceConfig

  app.get(
    '/v1/config',
    {
      config: { scope: 'any' },
      schema: {
        tags: ['config'],
        summary: "The configuration the tenant's devices (of one source, when named) must obey",
        querystring: Type.Object({
          source: Type.Optional(
            Type.String({ minLength: 1, description: "A source's name: its overrides apply too" }),
          ),
        }),
        response: {
          200: DeviceConfig,
          304: Type.Null({ description: 'The ETag in If-None-Match is current; no body' }),
        },
        examples: { responses: { 200: deviceConfigExamples } },
        // A source the tenant does not have.
        problems: ['not-found'],
      },
    },
    async (request, reply) => {
      const { tenantId } = principalOf(request)
      const { config, etag } = await service.effectiveFor(tenantId, request.query.source)
      // Devices must ask again each time, but may send the tag they hold and receive no body.
      reply.header('etag', etag).header('cache-control', 'private, no-cache')
      if (matchesEtag(request.headers['if-none-match'], etag)) {
        // undefined, not null: Fastify would serialize null into a body `null`, which a 304 must not have.
        return reply.code(304).send(undefined as unknown as null)
      }
      return config
    },
  )

  app.get(
    '/v1/admin/tenants/:tenantId/device-config',
    {
      config: admin,
      schema: {
        tags: adminTags,
        summary: "The tenant's device settings, and the configuration its devices get",
        params: TenantParams,
        response: { 200: DeviceConfigLevel, 401: Unauthorized, 404: NotFound },
        examples: { responses: { 200: deviceConfigLevelExamples } },
      },
    },
    async (request) => levelView(await service.getTenantLevel(request.params.tenantId)),
  )

  app.patch(
    '/v1/admin/tenants/:tenantId/device-config',
    {
      config: admin,
      schema: {
        tags: adminTags,
        summary:
          "Changes the tenant's device settings: a field given replaces the stored one, null clears it",
        params: TenantParams,
        body: DeviceConfigPatch,
        response: { 200: DeviceConfigLevel, 401: Unauthorized, 404: NotFound, 422: Invalid },
        examples: { body: deviceConfigPatchExamples, responses: { 200: deviceConfigLevelExamples } },
      },
    },
    async (request) => levelView(await service.patchTenantLevel(request.params.tenantId, request.body)),
  )

  app.get(
    '/v1/admin/tenants/:tenantId/sources/:sourceId/device-config',
    {
      config: admin,
      schema: {
        tags: adminTags,
        summary: "A source's device overrides, and the configuration its devices get",
        params: SourceParams,
        response: { 200: DeviceConfigLevel, 401: Unauthorized, 404: NotFound },
      },
    },
    async (request) => {
      const { tenantId, sourceId } = request.params
      return levelView(await service.getSourceLevel(tenantId, sourceId))
    },
  )

  app.patch(
    '/v1/admin/tenants/:tenantId/sources/:sourceId/device-config',
    {
      config: admin,
      schema: {
        tags: adminTags,
        summary:
          "Changes a source's device overrides: a field given replaces the stored one, null clears it (the tenant's applies)",
        params: SourceParams,
        body: DeviceConfigPatch,
        response: { 200: DeviceConfigLevel, 401: Unauthorized, 404: NotFound, 422: Invalid },
      },
    },
    async (request) => {
      const { tenantId, sourceId } = request.params
      return levelView(await service.patchSourceLevel(tenantId, sourceId, request.body))
    },
  )
}

export default deviceConfigRoutes
