// The webhooks module: the endpoints service for the routes, the dispatcher that delivers, started when the
// app is ready and stopped when it closes (on every replica; they share the work through PostgreSQL), the
// pruning of deliveries past retention and the backlog gauges.
import type { FastifyInstance } from 'fastify'
import fp from 'fastify-plugin'
import { requestsInFlight } from '../../http/observability.js'
import { buildInfo } from '../../platform/build-info.js'
import { CursorSeal } from '../../platform/pagination.js'
import { scheduleBacklogGauges } from './backlog.js'
import { WebhookDispatcher } from './dispatcher.js'
import { LoadSampler } from './pacer.js'
import { WebhooksRepository } from './repository.js'
import { scheduleDeliveryPruning } from './retention.js'
import { WebhooksService } from './service.js'

declare module 'fastify' {
  interface FastifyInstance {
    webhooks: WebhooksService
  }
}

async function webhooksModule(app: FastifyInstance): Promise<void> {
  const { config, database, secrets, outbound, lifecycle, log } = app.platform
  const repository = new WebhooksRepository(database.db, secrets)
  app.decorate('webhooks', new WebhooksService(repository, config.webhooks, CursorSeal.of(secrets), outbound))
  scheduleDeliveryPruning(app, repository)
  scheduleBacklogGauges(app, repository)
  if (!config.webhooks.dispatcherEnabled) {
    log.info('webhook dispatcher disabled on this replica (WEBHOOK_DISPATCHER_ENABLED=false)')
    return
  }
  const dispatcher = new WebhookDispatcher({
    database,
    secrets,
    outbound,
    repository,
    settings: config.webhooks,
    lifecycle,
    log: log.child({ component: 'webhooks' }),
    userAgent: `pos-integration-service/${buildInfo.version} (webhooks)`,
    load: new LoadSampler(requestsInFlight),
  })
  // An attempt that outlives its lease may be made a second time by another replica (still at least once).
  const { retryMaxAttempts, retryMaxDelayMs } = config.outbound
  const longestAttemptMs =
    retryMaxAttempts * config.webhooks.timeoutMs + (retryMaxAttempts - 1) * retryMaxDelayMs
  if (config.webhooks.leaseMs <= longestAttemptMs)
    log.warn(
      { leaseMs: config.webhooks.leaseMs, longestAttemptMs },
      'WEBHOOK_LEASE_MS is shorter than the longest attempt: a slow attempt may be repeated by another replica',
    )
  app.addHook('onReady', async () => dispatcher.start())
  app.addHook('onClose', async () => dispatcher.stop())
}

export default fp(webhooksModule, { name: 'webhooks' })
