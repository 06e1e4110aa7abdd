// CLI commands on a tenant's webhook endpoints: create and rotate-secret (each prints the signing secret, once),
// list, show (one, with its circuit breaker), update, delete, and the deliveries (list, retry one, recover every
// failed one since a time). They run through the webhooks service, with the same target policy
// (WEBHOOK_ALLOW_HTTP, WEBHOOK_ALLOW_PRIVATE_TARGETS) and the same rules as the API.
import { MAX_PAGE_LIMIT } from '@pos/contracts/pagination'
import {
  NewWebhookEndpoint,
  type WebhookCircuitBreaker,
  type WebhookDelivery,
  type WebhookEndpoint,
  WebhookEndpointChange,
} from '@pos/contracts/webhook'
import { WebhooksRepository } from '../modules/webhooks/repository.js'
import { WebhooksService } from '../modules/webhooks/service.js'
import { createOutbound, type Outbound } from '../platform/outbound/outbound.js'
import { CursorSeal } from '../platform/pagination.js'
import { ProblemError } from '../platform/problems.js'
import { type CliContext, type CommandGroup, table, UsageError, validated } from './command.js'

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i

function uuid(name: string, value: string): string {
  if (!UUID.test(value)) throw new UsageError(`invalid ${name}: must be a UUID`)
  return value
}

/** Checks the two ids every command on one endpoint takes. */
function endpointOf(tenantId: string, endpointId: string): void {
  uuid('tenantId', tenantId)
  uuid('endpointId', endpointId)
}

const DELIVERY_STATUSES = ['pending', 'succeeded', 'failed'] as const
type DeliveryStatus = (typeof DELIVERY_STATUSES)[number]

function isDeliveryStatus(value: string): value is DeliveryStatus {
  return (DELIVERY_STATUSES as readonly string[]).includes(value)
}

function eventTypesOption(value: string | undefined): string[] | undefined {
  return value?.split(',').map((type) => type.trim())
}

/** The last attempt in a few words: its status code or error. */
function lastAttempt(delivery: WebhookDelivery): string {
  const last = delivery.attempts.at(-1)
  if (last === undefined) return '-'
  return last.error ?? String(last.statusCode)
}

function enabledText(endpoint: WebhookEndpoint): string {
  return endpoint.enabled ? 'yes' : `no (${endpoint.disabledReason})`
}

function eventTypesText(endpoint: WebhookEndpoint): string {
  return endpoint.eventTypes.length === 0 ? '-' : endpoint.eventTypes.join(',')
}

function breakerText(breaker: WebhookCircuitBreaker | null): string {
  if (breaker === null) return 'unknown: without REDIS_URL each server process keeps its own'
  return breaker.state === 'open' ? `open until ${breaker.retryAt}` : breaker.state
}

function webhooksOf(
  { database, secrets, config }: CliContext,
  breakers?: Pick<Outbound, 'breakerState'>,
): WebhooksService {
  return new WebhooksService(
    new WebhooksRepository(database.db, secrets),
    config.webhooks,
    CursorSeal.of(secrets),
    breakers,
  )
}

/**
 * The circuit breakers as the fleet shares them in Redis; undefined without REDIS_URL, where each server
 * process keeps its own out of the CLI's sight. Never the CLI's own per-process state, which has seen no
 * call and would say `closed` whatever the servers see: a Redis that does not answer fails the command.
 */
async function fleetBreakers({
  redis,
  config,
  log,
}: CliContext): Promise<Pick<Outbound, 'breakerState'> | undefined> {
  if (redis === undefined) return undefined
  const unreadable = (reason: string) =>
    new ProblemError('service-unavailable', `cannot read the circuit breaker from redis: ${reason}`)
  try {
    await redis.reach()
  } catch (err) {
    throw unreadable(err instanceof Error ? err.message : String(err))
  }
  const outbound = createOutbound({
    redis: redis.client,
    keyPrefix: config.redisKeyPrefix,
    log,
    settings: config.outbound,
  })
  return {
    async breakerState(target) {
      const snapshot = await outbound.breakerState(target)
      if (snapshot.backend !== 'redis') throw unreadable('no answer in time')
      return snapshot
    },
  }
}

export const webhookCommands: CommandGroup = {
  'webhook:create': {
    args: ['tenantId', 'url'],
    options: { 'event-types': 'TYPE,TYPE', description: 'TEXT' },
    summary: 'Creates a webhook endpoint (every event type unless --event-types); prints its secret once',
    prepare([tenantId = '', url], options) {
      const eventTypes = eventTypesOption(options['event-types'])
      const body = validated(NewWebhookEndpoint, {
        url,
        ...(eventTypes !== undefined && { eventTypes }),
        ...(options.description !== undefined && { description: options.description }),
      })
      uuid('tenantId', tenantId)
      return async (context) => {
        const { endpoint } = await webhooksOf(context).createEndpoint(tenantId, body, null)
        return {
          json: endpoint,
          text: `Created webhook endpoint ${endpoint.id} for ${endpoint.url}\nSigning secret (shown only now): ${endpoint.secret}\n`,
        }
      }
    },
  },
  'webhook:list': {
    args: ['tenantId'],
    summary: "Lists a tenant's webhook endpoints",
    prepare([tenantId = '']) {
      uuid('tenantId', tenantId)
      return async (context) => {
        const webhooks = webhooksOf(context)
        const data: WebhookEndpoint[] = []
        // Every page: a tenant has a handful of endpoints, and the CLI shows them all.
        let after: string | undefined
        do {
          const page = await webhooks.listEndpoints(tenantId, { limit: MAX_PAGE_LIMIT, after })
          data.push(...page.data)
          after = page.nextCursor ?? undefined
        } while (after !== undefined)
        const rows = data.map((e) => [e.id, e.url, enabledText(e), eventTypesText(e)])
        return {
          json: { data, nextCursor: null },
          text: table(['ID', 'URL', 'ENABLED', 'EVENT TYPES'], rows),
        }
      }
    },
  },
  'webhook:show': {
    args: ['tenantId', 'endpointId'],
    summary:
      'Shows a webhook endpoint with its circuit breaker as the fleet shares it (in Redis: unknown without REDIS_URL)',
    prepare([tenantId = '', endpointId = '']) {
      endpointOf(tenantId, endpointId)
      return async (context) => {
        const breakers = await fleetBreakers(context)
        const webhooks = webhooksOf(context, breakers)
        const endpoint =
          breakers === undefined
            ? { ...(await webhooks.findEndpoint(tenantId, endpointId)), circuitBreaker: null }
            : await webhooks.getEndpoint(tenantId, endpointId)
        const fields = [
          ['url', endpoint.url],
          ['enabled', enabledText(endpoint)],
          ['failingSince', endpoint.failingSince ?? '-'],
          ['eventTypes', eventTypesText(endpoint)],
          ['description', endpoint.description ?? '-'],
          ['createdAt', endpoint.createdAt],
          ['circuitBreaker', breakerText(endpoint.circuitBreaker)],
        ]
        const lines = fields.map(([field = '', value]) => `  ${field.padEnd(15)} ${value}\n`)
        return { json: endpoint, text: `Webhook endpoint ${endpoint.id}:\n${lines.join('')}` }
      }
    },
  },
  'webhook:delete': {
    args: ['tenantId', 'endpointId'],
    summary: 'Deletes a webhook endpoint and its deliveries',
    prepare([tenantId = '', endpointId = '']) {
      endpointOf(tenantId, endpointId)
      return async (context) => {
        await webhooksOf(context).deleteEndpoint(tenantId, endpointId)
        return { json: { deleted: endpointId }, text: `Deleted webhook endpoint ${endpointId}\n` }
      }
    },
  },
  'webhook:update': {
    args: ['tenantId', 'endpointId'],
    options: { url: 'URL', 'event-types': 'TYPE,TYPE', description: 'TEXT', enabled: 'true|false' },
    summary: 'Changes a webhook endpoint; --enabled false disables it, --enabled true re-enables it',
    prepare([tenantId = '', endpointId = ''], options) {
      const { enabled } = options
      if (enabled !== undefined && enabled !== 'true' && enabled !== 'false')
        throw new UsageError('invalid enabled: must be true or false')
      const eventTypes = eventTypesOption(options['event-types'])
      const change = validated(WebhookEndpointChange, {
        ...(options.url !== undefined && { url: options.url }),
        ...(eventTypes !== undefined && { eventTypes }),
        ...(options.description !== undefined && { description: options.description }),
        ...(enabled !== undefined && { enabled: enabled === 'true' }),
      })
      endpointOf(tenantId, endpointId)
      return async (context) => {
        const endpoint = await webhooksOf(context).updateEndpoint(tenantId, endpointId, change)
        const state = endpoint.enabled ? 'enabled' : `disabled (${endpoint.disabledReason})`
        return {
          json: endpoint,
          text: `Updated webhook endpoint ${endpoint.id}: ${endpoint.url}, ${state}\n`,
        }
      }
    },
  },
  'webhook:rotate-secret': {
    args: ['tenantId', 'endpointId'],
    summary: 'Gives an endpoint a new signing secret, printed once; the previous one keeps signing for 24 h',
    prepare([tenantId = '', endpointId = '']) {
      endpointOf(tenantId, endpointId)
      return async (context) => {
        const { endpoint } = await webhooksOf(context).rotateSecret(tenantId, endpointId, null)
        return {
          json: endpoint,
          text: `New signing secret of ${endpoint.id} (shown only now; the previous one signs beside it for 24 h): ${endpoint.secret}\n`,
        }
      }
    },
  },
  'webhook:deliveries': {
    args: ['tenantId', 'endpointId'],
    options: { status: 'pending|succeeded|failed', limit: 'N', after: 'CURSOR' },
    summary: "Lists an endpoint's deliveries, newest first, with their attempts (one page)",
    prepare([tenantId = '', endpointId = ''], options) {
      const { status, after } = options
      if (status !== undefined && !isDeliveryStatus(status))
        throw new UsageError('invalid status: must be pending, succeeded or failed')
      const limit = options.limit === undefined ? 50 : Number(options.limit)
      if (!Number.isInteger(limit) || limit < 1 || limit > MAX_PAGE_LIMIT)
        throw new UsageError(`invalid limit: must be 1 to ${MAX_PAGE_LIMIT}`)
      endpointOf(tenantId, endpointId)
      return async (context) => {
        const page = await webhooksOf(context).listDeliveries(tenantId, endpointId, status, { limit, after })
        const rows = page.data.map((d) => [
          d.id,
          d.eventType,
          d.status,
          String(d.attempts.length),
          lastAttempt(d),
          d.nextAttemptAt ?? '-',
        ])
        const next = page.nextCursor === null ? '' : `more: --after ${page.nextCursor}\n`
        return {
          json: page,
          text: table(['ID', 'EVENT TYPE', 'STATUS', 'ATTEMPTS', 'LAST', 'NEXT ATTEMPT'], rows) + next,
        }
      }
    },
  },
  'webhook:retry': {
    args: ['tenantId', 'endpointId', 'deliveryId'],
    summary: 'Queues a failed delivery again, with a fresh retry schedule',
    prepare([tenantId = '', endpointId = '', deliveryId = '']) {
      endpointOf(tenantId, endpointId)
      if (!/^[1-9][0-9]{0,15}$/.test(deliveryId)) throw new UsageError('invalid deliveryId: must be a number')
      return async (context) => {
        await webhooksOf(context).retryDelivery(tenantId, endpointId, Number(deliveryId))
        return { json: { queued: 1 }, text: `Delivery ${deliveryId} queued again\n` }
      }
    },
  },
  'webhook:recover': {
    args: ['tenantId', 'endpointId', 'since'],
    summary: 'Queues again every failed delivery of an endpoint created since the given time (RFC 3339)',
    prepare([tenantId = '', endpointId = '', since = '']) {
      endpointOf(tenantId, endpointId)
      const from = new Date(since)
      if (!/^\d{4}-\d{2}-\d{2}T/.test(since) || Number.isNaN(from.getTime()))
        throw new UsageError('invalid since: must be an RFC 3339 time, e.g. 2026-01-31T12:00:00Z')
      return async (context) => {
        const queued = await webhooksOf(context).recover(tenantId, endpointId, from)
        return { json: { queued }, text: `${queued} failed deliveries queued again\n` }
      }
    },
  },
}
