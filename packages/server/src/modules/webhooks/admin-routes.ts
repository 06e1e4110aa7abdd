// The admin API's view of any tenant's webhooks (the dashboard): its endpoints with their circuit breakers,
// their deliveries with every attempt, the dead letters (deliveries that failed for good) and their replay.
// The same service calls as the tenant's own routes (routes.ts), under /v1/admin/tenants/:tenantId.
import { type FastifyPluginAsyncTypebox, Type } from '@fastify/type-provider-typebox'
import { TenantParams } from '@pos/contracts/admin'
import {
  webhookDeliveryPageExamples,
  webhookEndpointDetailExamples,
  webhookEndpointPageExamples,
} from '@pos/contracts/examples'
import { Page, pageQuery } from '@pos/contracts/pagination'
import {
  WebhookDelivery,
  WebhookDeliveryStatus,
  WebhookEndpoint,
  WebhookEndpointDetail,
} from '@pos/contracts/webhook'
import { requireKnownTenant } from '../tenants/known-tenant.js'
import { deliveryParams, endpointParams } from './routes.js'

const admin = { admin: true } as const
const tags = ['admin']
const base = '/v1/admin/tenants/:tenantId/webhook-endpoints'
const EndpointParams = Type.Object({ ...TenantParams.properties, ...endpointParams.properties })
const DeliveryParams = Type.Object({ ...TenantParams.properties, ...deliveryParams.properties })

const webhooksAdminRoutes: FastifyPluginAsyncTypebox = async (app) => {
  const knownTenant = requireKnownTenant(app.tenants)

  app.get(
    base,
    {
      config: admin,
      preHandler: knownTenant,
      schema: {
        tags,
        summary: "Lists a tenant's webhook endpoints, oldest first",
        params: TenantParams,
        querystring: Type.Object(pageQuery),
        response: { 200: Page(WebhookEndpoint) },
        examples: { responses: { 200: webhookEndpointPageExamples } },
      },
    },
    async (request) => app.webhooks.listEndpoints(request.params.tenantId, request.query),
  )

  app.get(
    `${base}/:endpointId`,
    {
      config: admin,
      preHandler: knownTenant,
      schema: {
        tags,
        summary: "One of a tenant's webhook endpoints, with the state of its circuit breaker",
        params: EndpointParams,
        response: { 200: WebhookEndpointDetail },
        examples: { responses: { 200: webhookEndpointDetailExamples } },
      },
    },
    async (request) => app.webhooks.getEndpoint(request.params.tenantId, request.params.endpointId),
  )

  app.get(
    `${base}/:endpointId/deliveries`,
    {
      config: admin,
      preHandler: knownTenant,
      schema: {
        tags,
        summary:
          "An endpoint's deliveries, newest first, with their attempts; status=failed: the dead letters",
        params: EndpointParams,
        querystring: Type.Object({ status: Type.Optional(WebhookDeliveryStatus), ...pageQuery }),
        response: { 200: Page(WebhookDelivery) },
        examples: { responses: { 200: webhookDeliveryPageExamples } },
      },
    },
    async (request) =>
      app.webhooks.listDeliveries(
        request.params.tenantId,
        request.params.endpointId,
        request.query.status,
        request.query,
      ),
  )

  app.post(
    `${base}/:endpointId/deliveries/:deliveryId/retry`,
    {
      config: admin,
      preHandler: knownTenant,
      schema: {
        tags,
        summary: 'Replays a failed delivery, with a fresh retry schedule',
        params: DeliveryParams,
        response: { 202: Type.Object({ queued: Type.Integer() }) },
        problems: ['conflict'],
      },
    },
    async (request, reply) => {
      const { tenantId, endpointId, deliveryId } = request.params
      await app.webhooks.retryDelivery(tenantId, endpointId, Number(deliveryId))
      return reply.code(202).send({ queued: 1 })
    },
  )
}

export default webhooksAdminRoutes
