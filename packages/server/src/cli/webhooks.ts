// CLI commands on a tenant's webhook endpoints: create (prints the signing secret, once), list, delete. They run
// through the webhooks service, with the same target policy (WEBHOOK_ALLOW_HTTP, WEBHOOK_ALLOW_PRIVATE_TARGETS)
// as the API.
import { MAX_PAGE_LIMIT } from '@pos/contracts/pagination'
import { NewWebhookEndpoint, type WebhookEndpoint } from '@pos/contracts/webhook'
import { WebhooksRepository } from '../modules/webhooks/repository.js'
import { WebhooksService } from '../modules/webhooks/service.js'
import { CursorSeal } from '../platform/pagination.js'
import { type CliContext, type CommandGroup, table, UsageError, validated } from './command.js'

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i

function uuid(name: string, value: string): string {
  if (!UUID.test(value)) throw new UsageError(`invalid ${name}: must be a UUID`)
  return value
}

function webhooksOf({ database, secrets, config }: CliContext): WebhooksService {
  return new WebhooksService(
    new WebhooksRepository(database.db, secrets),
    config.webhooks,
    CursorSeal.of(secrets),
  )
}

export const webhookCommands: CommandGroup = {
  'webhook:create': {
    args: ['tenantId', 'url'],
    options: { 'event-types': 'TYPE,TYPE', description: 'TEXT' },
    summary: 'Creates a webhook endpoint (every event type unless --event-types); prints its secret once',
    prepare([tenantId = '', url], options) {
      const eventTypes = options['event-types']?.split(',').map((type) => type.trim())
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
        const rows = data.map((e) => [
          e.id,
          e.url,
          e.enabled ? 'yes' : `no (${e.disabledReason})`,
          e.eventTypes.length === 0 ? '-' : e.eventTypes.join(','),
        ])
        return {
          json: { data, nextCursor: null },
          text: table(['ID', 'URL', 'ENABLED', 'EVENT TYPES'], rows),
        }
      }
    },
  },
  'webhook:delete': {
    args: ['tenantId', 'endpointId'],
    summary: 'Deletes a webhook endpoint and its deliveries',
    prepare([tenantId = '', endpointId = '']) {
      uuid('tenantId', tenantId)
      uuid('endpointId', endpointId)
      return async (context) => {
        await webhooksOf(context).deleteEndpoint(tenantId, endpointId)
        return { json: { deleted: endpointId }, text: `Deleted webhook endpoint ${endpointId}\n` }
      }
    },
  },
}
