// The webhooks module's decisions: endpoints (their URL checked against the target policy, their secret made
// here and shown only on creation and rotation) and what a tenant may do with their deliveries. Delivery
// itself is the dispatcher's (dispatcher.ts).
import { randomUUID } from 'node:crypto'
import { EVENT_TYPES } from '@pos/contracts/events'
import type { PageQuery } from '@pos/contracts/pagination'
import type {
  NewWebhookEndpoint,
  WebhookDelivery,
  WebhookEndpoint,
  WebhookEndpointChange,
  WebhookEndpointDetail,
  WebhookEndpointWithSecret,
} from '@pos/contracts/webhook'
import type { WebhookSettings } from '../../config.js'
import type { WebhookDeliveryStatus } from '../../db/schema.js'
import type { IdempotencyClaim, IdempotencyVerdict } from '../../http/idempotency.js'
import type { Outbound } from '../../platform/outbound/outbound.js'
import {
  type CreatedPosition,
  type CursorCodec,
  type CursorSeal,
  createdCursor,
  idCursor,
} from '../../platform/pagination.js'
import { ProblemError } from '../../platform/problems.js'
import type { DeliveryRecord, EndpointRecord, WebhooksRepository } from './repository.js'
import { generateWebhookSecret } from './signature.js'
import { checkTarget, TargetRefused } from './target-guard.js'

/** How long the previous secret keeps signing after a rotation. */
export const PREVIOUS_SECRET_TTL_MS = 24 * 3_600_000

function endpointView(record: EndpointRecord): WebhookEndpoint {
  return {
    id: record.id,
    url: record.url,
    eventTypes: [...record.eventTypes],
    description: record.description,
    enabled: record.enabled,
    disabledReason: record.disabledReason,
    failingSince: record.failingSince?.toISOString() ?? null,
    createdAt: record.createdAt.toISOString(),
  }
}

function deliveryView(record: DeliveryRecord): WebhookDelivery {
  return {
    id: String(record.id),
    eventId: record.eventId,
    eventType: record.eventType,
    status: record.status,
    nextAttemptAt: record.status === 'pending' ? record.nextAttemptAt.toISOString() : null,
    createdAt: record.createdAt.toISOString(),
    attempts: record.attempts.map((attempt) => ({
      ...attempt,
      attemptedAt: attempt.attemptedAt.toISOString(),
    })),
  }
}

function notFound(endpointId: string): ProblemError {
  return new ProblemError('not-found', `No webhook endpoint ${endpointId}`)
}

function keyReused(): ProblemError {
  return new ProblemError(
    'idempotency-key-reused',
    'This Idempotency-Key came with a different request before',
  )
}

export class WebhooksService {
  readonly #endpointCursors: CursorCodec<CreatedPosition>
  readonly #deliveryCursors: CursorCodec<number>

  constructor(
    private readonly repository: WebhooksRepository,
    private readonly settings: WebhookSettings,
    /** Seals the lists' cursors (CursorSeal.of the process's secrets). */
    cursors: CursorSeal,
    /**
     * Where the endpoints' breakers are read (the outbound layer). The CLI has it only for webhook:show with
     * REDIS_URL, where the fleet's breakers are: its own per-process ones would have seen no call.
     */
    private readonly breakers?: Pick<Outbound, 'breakerState'>,
  ) {
    this.#endpointCursors = createdCursor('webhook-endpoints', cursors)
    this.#deliveryCursors = idCursor('webhook-deliveries', cursors)
  }

  async #checkUrl(url: string): Promise<string> {
    try {
      return (await checkTarget(url, this.settings)).toString()
    } catch (err) {
      if (err instanceof TargetRefused) throw new ProblemError('webhook-target-forbidden', err.message)
      throw err
    }
  }

  /**
   * Creates an endpoint. With an Idempotency-Key, the same request again answers the endpoint it created (with
   * its current secret, which only this tenant's credentials can ask for); another request with that key is
   * refused.
   */
  async createEndpoint(
    tenantId: string,
    body: NewWebhookEndpoint,
    idempotency: IdempotencyClaim | null,
  ): Promise<{ endpoint: WebhookEndpointWithSecret; verdict: IdempotencyVerdict }> {
    const url = await this.#checkUrl(body.url)
    const secret = generateWebhookSecret()
    const result = await this.repository.createEndpoint(tenantId, {
      id: randomUUID(),
      url,
      eventTypes: body.eventTypes ?? EVENT_TYPES,
      description: body.description ?? null,
      secret,
      idempotency: idempotency ?? undefined,
    })
    if (result.kind === 'unknown-tenant') throw new ProblemError('not-found', `No tenant ${tenantId}`)
    if (result.kind === 'created')
      return { endpoint: { ...endpointView(result.endpoint), secret }, verdict: 'new' }
    if (!result.sameRequest) throw keyReused()
    const [current] = (await this.repository.findSecrets(tenantId, result.endpoint.id)) ?? []
    if (current === undefined) throw notFound(result.endpoint.id)
    return { endpoint: { ...endpointView(result.endpoint), secret: current }, verdict: 'replayed' }
  }

  /** One page of the tenant's endpoints, oldest first. */
  async listEndpoints(
    tenantId: string,
    query: PageQuery,
  ): Promise<{ data: WebhookEndpoint[]; nextCursor: string | null }> {
    const slice = await this.repository.listEndpoints(tenantId, this.#endpointCursors.request(query))
    return this.#endpointCursors.page({ ...slice, items: slice.items.map(endpointView) })
  }

  /** One endpoint, without its circuit breaker: what the CLI shows where it cannot see the breakers. */
  async findEndpoint(tenantId: string, endpointId: string): Promise<WebhookEndpoint> {
    const record = await this.repository.findEndpoint(tenantId, endpointId)
    if (record === undefined) throw notFound(endpointId)
    return endpointView(record)
  }

  /** One endpoint, with its circuit breaker as the fleet shares it. */
  async getEndpoint(tenantId: string, endpointId: string): Promise<WebhookEndpointDetail> {
    const endpoint = await this.findEndpoint(tenantId, endpointId)
    if (this.breakers === undefined) throw new Error('the webhooks service was built without breakers')
    const { state, retryAt } = await this.breakers.breakerState({ kind: 'webhook', id: endpointId })
    const circuitBreaker = {
      state,
      retryAt: retryAt === undefined ? null : new Date(retryAt).toISOString(),
    }
    return { ...endpoint, circuitBreaker }
  }

  async updateEndpoint(
    tenantId: string,
    endpointId: string,
    change: WebhookEndpointChange,
  ): Promise<WebhookEndpoint> {
    if ((await this.repository.findEndpoint(tenantId, endpointId)) === undefined) throw notFound(endpointId)
    const url = change.url === undefined ? undefined : await this.#checkUrl(change.url)
    const record = await this.repository.updateEndpoint(tenantId, endpointId, { ...change, url })
    if (record === undefined) throw notFound(endpointId)
    return endpointView(record)
  }

  async deleteEndpoint(tenantId: string, endpointId: string): Promise<void> {
    if (!(await this.repository.deleteEndpoint(tenantId, endpointId))) throw notFound(endpointId)
  }

  /**
   * Gives the endpoint a new secret. With an Idempotency-Key, a retry of the same rotation answers the secret
   * that rotation made instead of rotating again (which would drop the previous secret the consumer still
   * verifies with, for a secret the client never saw).
   */
  async rotateSecret(
    tenantId: string,
    endpointId: string,
    idempotency: IdempotencyClaim | null,
  ): Promise<{ endpoint: WebhookEndpointWithSecret; verdict: IdempotencyVerdict }> {
    const expires = new Date(Date.now() + PREVIOUS_SECRET_TTL_MS)
    const result = await this.repository.rotateSecret(
      tenantId,
      endpointId,
      generateWebhookSecret(),
      expires,
      idempotency ?? undefined,
    )
    if (result.kind === 'not-found') throw notFound(endpointId)
    if (result.kind === 'key-reused') throw keyReused()
    return {
      endpoint: { ...endpointView(result.endpoint), secret: result.secret },
      verdict: result.kind === 'rotated' ? 'new' : 'replayed',
    }
  }

  async listDeliveries(
    tenantId: string,
    endpointId: string,
    status: WebhookDeliveryStatus | undefined,
    query: PageQuery,
  ): Promise<{ data: WebhookDelivery[]; nextCursor: string | null }> {
    const page = this.#deliveryCursors.request(query)
    if ((await this.repository.findEndpoint(tenantId, endpointId)) === undefined) throw notFound(endpointId)
    const slice = await this.repository.listDeliveries(tenantId, endpointId, status, page)
    return this.#deliveryCursors.page({ ...slice, items: slice.items.map(deliveryView) })
  }

  /** Queues a failed delivery again, with a fresh schedule. */
  async retryDelivery(tenantId: string, endpointId: string, deliveryId: number): Promise<void> {
    const status = await this.repository.deliveryStatus(tenantId, endpointId, deliveryId)
    if (status === undefined)
      throw new ProblemError('not-found', `No delivery ${deliveryId} of this endpoint`)
    if (status !== 'failed')
      throw new ProblemError('conflict', `The delivery is ${status}; only a failed delivery can be retried`)
    await this.repository.requeueFailed(tenantId, endpointId, { deliveryId })
  }

  /** Queues again every failed delivery created since `since`; answers how many. */
  async recover(tenantId: string, endpointId: string, since: Date): Promise<number> {
    if ((await this.repository.findEndpoint(tenantId, endpointId)) === undefined) throw notFound(endpointId)
    return this.repository.requeueFailed(tenantId, endpointId, { since })
  }
}
