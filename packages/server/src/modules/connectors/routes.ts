// The connectors' routes. Inbound: POST /v1/webhooks/<provider>/:sourceId, public (providers carry no
// credential of ours): the provider's signature over the exact bytes is the authentication. A missing or
// wrong signature, an unknown source, a source of another kind or without a connector are all the same 401,
// so nothing is revealed about the source; a verified webhook is stored in the inbox and answered 200 at
// once, before any provider call (Square waits 10 s, Shopify 5 s). Admin: dead letters and their replay,
// reconciliation on demand and its runs, under the source's admin routes (ADMIN_TOKEN).
import { type FastifyPluginAsyncTypebox, Type } from '@fastify/type-provider-typebox'
import {
  CONNECTOR_KINDS,
  ConnectorDeadLetter,
  type ConnectorDeadLetter as DeadLetterView,
  Reconciliation,
  ReconciliationList,
  SourceParams,
} from '@pos/contracts/admin'
import { Page, pageQuery } from '@pos/contracts/pagination'
import { ProblemError } from '../../platform/problems.js'
import { Conflict, NotFound, Unauthorized } from '../tenants/schemas.js'
import type { DeadLetterRecord, RunRecord } from './repository.js'

const admin = { admin: true } as const
const tags = ['connectors']
// The admin routes also carry the admin tag, like every route under /v1/admin.
const adminTags = ['admin', 'connectors']

const WebhookReceived = Type.Object({
  received: Type.Literal(true),
  duplicate: Type.Boolean({ description: 'The provider had delivered this event before: nothing changed' }),
})

function deadLetterView(record: DeadLetterRecord): DeadLetterView {
  return {
    id: String(record.id),
    providerEventId: record.providerEventId,
    topic: record.topic,
    reason: record.reason,
    attempts: record.attempts,
    receivedAt: record.receivedAt.toISOString(),
    failedAt: record.updatedAt.toISOString(),
  }
}

export function reconciliationView(run: RunRecord): Reconciliation {
  return {
    id: String(run.id),
    status: run.status,
    trigger: run.trigger,
    since: new Date(run.since).toISOString(),
    pages: run.pages,
    objects: run.objects,
    drift: run.drift,
    driftRatio: run.objects === 0 ? 0 : run.drift / run.objects,
    unmappable: run.unmappable,
    lastError: run.lastError,
    startedAt: run.startedAt.toISOString(),
    finishedAt: run.finishedAt?.toISOString() ?? null,
  }
}

const Id = Type.String({ pattern: '^[0-9]{1,15}$' })

const connectorRoutes: FastifyPluginAsyncTypebox = async (app) => {
  const connectors = app.connectors

  for (const kind of CONNECTOR_KINDS) {
    app.post(
      `/v1/webhooks/${kind}/:sourceId`,
      {
        config: { providerWebhook: true },
        schema: {
          tags,
          summary: `Receives a ${kind === 'square' ? 'Square' : 'Shopify'} webhook for the source, verified by its signature`,
          params: Type.Object({ sourceId: Type.String({ maxLength: 100 }) }),
          body: Type.Unknown(),
          response: { 200: WebhookReceived, 401: Unauthorized },
          problems: ['unstorable-data'],
        },
      },
      async (request) => {
        const receipt = await connectors.receiveWebhook(
          kind,
          request.params.sourceId,
          request.rawBody ?? Buffer.alloc(0),
          request.headers,
          request.body,
        )
        if (receipt === 'unverified')
          throw new ProblemError('unauthorized', 'The webhook signature is missing or wrong')
        if (receipt === 'no-event-id')
          throw new ProblemError('bad-request', 'The webhook names no event id or type')
        return { received: true as const, duplicate: receipt === 'duplicate' }
      },
    )
  }

  app.get(
    '/v1/admin/tenants/:tenantId/sources/:sourceId/dead-letters',
    {
      config: admin,
      schema: {
        tags: adminTags,
        summary: "Lists the source's provider webhooks that could not be fetched or mapped, newest first",
        params: SourceParams,
        querystring: Type.Object(pageQuery),
        response: { 200: Page(ConnectorDeadLetter), 401: Unauthorized, 404: NotFound },
      },
    },
    async (request) => {
      const { tenantId, sourceId } = request.params
      const page = await connectors.listDeadLetters(tenantId, sourceId, request.query)
      return { data: page.data.map(deadLetterView), nextCursor: page.nextCursor }
    },
  )

  app.post(
    '/v1/admin/tenants/:tenantId/sources/:sourceId/dead-letters/:id/replay',
    {
      config: admin,
      schema: {
        tags: adminTags,
        summary: 'Processes a dead letter again, at once, with a fresh count of attempts',
        params: Type.Object({ tenantId: Type.String(), sourceId: Type.String(), id: Id }),
        response: {
          202: Type.Object({ replayed: Type.String() }),
          401: Unauthorized,
          404: NotFound,
          409: Conflict,
        },
      },
    },
    async (request, reply) => {
      const { tenantId, sourceId, id } = request.params
      await connectors.replayDeadLetter(tenantId, sourceId, Number(id))
      return reply.code(202).send({ replayed: id })
    },
  )

  app.post(
    '/v1/admin/tenants/:tenantId/sources/:sourceId/reconcile',
    {
      config: admin,
      schema: {
        tags: adminTags,
        summary: 'Starts a reconciliation of the source now, or answers the one running',
        params: SourceParams,
        response: { 202: Reconciliation, 401: Unauthorized, 404: NotFound, 409: Conflict },
      },
    },
    async (request, reply) => {
      const { tenantId, sourceId } = request.params
      const run = await connectors.requestReconciliation(tenantId, sourceId, 'api')
      return reply.code(202).send(reconciliationView(run))
    },
  )

  app.get(
    '/v1/admin/tenants/:tenantId/sources/:sourceId/reconciliations',
    {
      config: admin,
      schema: {
        tags: adminTags,
        summary: "The source's latest reconciliations, newest first, with pages, objects and drift",
        params: SourceParams,
        response: {
          200: ReconciliationList,
          401: Unauthorized,
          404: NotFound,
        },
      },
    },
    async (request) => {
      const { tenantId, sourceId } = request.params
      return { data: (await connectors.listReconciliations(tenantId, sourceId)).map(reconciliationView) }
    },
  )

  app.get(
    '/v1/admin/tenants/:tenantId/sources/:sourceId/reconciliations/:id',
    {
      config: admin,
      schema: {
        tags: adminTags,
        summary: 'One reconciliation: its progress while running, its summary once completed',
        params: Type.Object({ tenantId: Type.String(), sourceId: Type.String(), id: Id }),
        response: { 200: Reconciliation, 401: Unauthorized, 404: NotFound },
      },
    },
    async (request) => {
      const { tenantId, sourceId, id } = request.params
      return reconciliationView(await connectors.getReconciliation(tenantId, sourceId, Number(id)))
    },
  )
}

export default connectorRoutes
