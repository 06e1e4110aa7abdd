// Webhook endpoints and their deliveries (scope `webhooks`), each tenant's own: another tenant's endpoint is 404.
import { type FastifyPluginAsyncTypebox, Type } from '@fastify/type-provider-typebox'
import {
  newWebhookEndpointExamples,
  webhookDeliveryPageExamples,
  webhookEndpointDetailExamples,
  webhookEndpointPageExamples,
  webhookEndpointWithSecretExamples,
} from '@pos/contracts/examples'
import { Page, pageQuery } from '@pos/contracts/pagination'
import {
  NewWebhookEndpoint,
  WebhookDelivery,
  WebhookDeliveryStatus,
  WebhookEndpoint,
  WebhookEndpointChange,
  WebhookEndpointDetail,
  WebhookEndpointWithSecret,
} from '@pos/contracts/webhook'
import { principalOf } from '../../http/auth.js'
import { answerIdempotently } from '../../http/idempotency.js'

const tags = ['webhooks']
const read = { scope: 'webhooks' } as const
const change = { scope: 'webhooks' } as const
export const endpointParams = Type.Object({ endpointId: Type.String({ format: 'uuid' }) })
export const deliveryParams = Type.Object({
  endpointId: Type.String({ format: 'uuid' }),
  deliveryId: Type.String({ pattern: '^[1-9][0-9]{0,15}$' }),
})

const webhooksRoutes: FastifyPluginAsyncTypebox = async (app) => {
  app.post(
    '/v1/webhook-endpoints',
    {
      config: { scope: 'webhooks', idempotency: 'optional' },
      schema: {
        tags,
        summary: 'Creates a webhook endpoint; the answer holds its signing secret, shown only now',
        body: NewWebhookEndpoint,
        response: { 201: WebhookEndpointWithSecret },
        examples: {
          body: newWebhookEndpointExamples,
          responses: { 201: webhookEndpointWithSecretExamples },
        },
        problems: ['webhook-target-forbidden'],
      },
    },
    async (request, reply) => {
      const { tenantId } = principalOf(request)
      const { endpoint, verdict } = await app.webhooks.createEndpoint(
        tenantId,
        request.body,
        request.idempotency,
      )
      answerIdempotently(reply, verdict)
      return reply.code(201).send(endpoint)
    },
  )

  app.get(
    '/v1/webhook-endpoints',
    {
      config: read,
      schema: {
        tags,
        summary: "Lists the tenant's webhook endpoints, oldest first",
        querystring: Type.Object(pageQuery),
        response: { 200: Page(WebhookEndpoint) },
        examples: { responses: { 200: webhookEndpointPageExamples } },
      },
    },
    async (request) => app.webhooks.listEndpoints(principalOf(request).tenantId, request.query),
  )

  app.get(
    '/v1/webhook-endpoints/:endpointId',
    {
      config: read,
      schema: {
        tags,
        summary: 'One webhook endpoint, with the state of its circuit breaker',
        params: endpointParams,
        response: { 200: WebhookEndpointDetail },
        examples: { responses: { 200: webhookEndpointDetailExamples } },
      },
    },
    async (request) => app.webhooks.getEndpoint(principalOf(request).tenantId, request.params.endpointId),
  )

  app.patch(
    '/v1/webhook-endpoints/:endpointId',
    {
      config: change,
      schema: {
        tags,
        summary: 'Changes a webhook endpoint: its URL, event types, description, or whether it is enabled',
        params: endpointParams,
        body: WebhookEndpointChange,
        response: { 200: WebhookEndpoint },
        problems: ['webhook-target-forbidden'],
      },
    },
    async (request) =>
      app.webhooks.updateEndpoint(principalOf(request).tenantId, request.params.endpointId, request.body),
  )

  app.delete(
    '/v1/webhook-endpoints/:endpointId',
    {
      config: change,
      schema: {
        tags,
        summary: 'Deletes a webhook endpoint and its deliveries',
        params: endpointParams,
        response: { 204: Type.Null({ description: 'Deleted' }) },
      },
    },
    async (request, reply) => {
      await app.webhooks.deleteEndpoint(principalOf(request).tenantId, request.params.endpointId)
      return reply.code(204).send(null)
    },
  )

  app.post(
    '/v1/webhook-endpoints/:endpointId/rotate-secret',
    {
      config: { scope: 'webhooks', idempotency: 'optional' },
      schema: {
        tags,
        summary:
          'Gives the endpoint a new signing secret; the previous one keeps signing beside it for 24 hours',
        params: endpointParams,
        response: { 200: WebhookEndpointWithSecret },
        examples: { responses: { 200: webhookEndpointWithSecretExamples } },
      },
    },
    async (request, reply) => {
      const { tenantId } = principalOf(request)
      const { endpoint, verdict } = await app.webhooks.rotateSecret(
        tenantId,
        request.params.endpointId,
        request.idempotency,
      )
      answerIdempotently(reply, verdict)
      return endpoint
    },
  )

  app.get(
    '/v1/webhook-endpoints/:endpointId/deliveries',
    {
      config: read,
      schema: {
        tags,
        summary: "The endpoint's deliveries, newest first, each with its attempts",
        params: endpointParams,
        querystring: Type.Object({ status: Type.Optional(WebhookDeliveryStatus), ...pageQuery }),
        response: { 200: Page(WebhookDelivery) },
        examples: { responses: { 200: webhookDeliveryPageExamples } },
      },
    },
    async (request) =>
      app.webhooks.listDeliveries(
        principalOf(request).tenantId,
        request.params.endpointId,
        request.query.status,
        request.query,
      ),
  )

  app.post(
    '/v1/webhook-endpoints/:endpointId/deliveries/:deliveryId/retry',
    {
      config: change,
      schema: {
        tags,
        summary: 'Queues a failed delivery again, with a fresh retry schedule',
        params: deliveryParams,
        response: { 202: Type.Object({ queued: Type.Integer() }) },
        problems: ['conflict'],
      },
    },
    async (request, reply) => {
      const { endpointId, deliveryId } = request.params
      await app.webhooks.retryDelivery(principalOf(request).tenantId, endpointId, Number(deliveryId))
      return reply.code(202).send({ queued: 1 })
    },
  )

  app.post(
    '/v1/webhook-endpoints/:endpointId/recover',
    {
      config: change,
      schema: {
        tags,
        summary: 'Queues again every failed delivery of the endpoint created since the given time',
        params: endpointParams,
        body: Type.Object(
          { since: Type.String({ format: 'date-time', description: 'RFC 3339' }) },
          { additionalProperties: false },
        ),
        response: { 202: Type.Object({ queued: Type.Integer() }) },
      },
    },
    async (request, reply) => {
      const queued = await app.webhooks.recover(
        principalOf(request).tenantId,
        request.params.endpointId,
        new Date(request.body.since),
      )
      return reply.code(202).send({ queued })
    },
  )
}

export default webhooksRoutes
