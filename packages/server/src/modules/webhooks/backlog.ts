// The webhook backlog gauges. Every BACKLOG_INTERVAL_MS each replica reads the fleet's backlog from the table
// (webhook_deliveries_pending, webhook_oldest_due_delivery_seconds): a dispatcher only knows what it leased,
// and a dashboard or an alert needs what is owed, whichever replica will deliver it. Every replica reports the
// same fleet-wide values, so they are read with max(), never summed.
import type { FastifyInstance } from 'fastify'
import { webhookDeliveriesPending, webhookOldestDueSeconds } from '../../platform/metrics.js'
import { schedulePeriodic } from '../../platform/periodic.js'
import type { WebhooksRepository } from './repository.js'

/** As often as Prometheus usually scrapes: a fresher value would never be seen. */
export const BACKLOG_INTERVAL_MS = 15_000

/** Reads the backlog and sets the gauges. */
export async function refreshBacklogGauges(repository: WebhooksRepository): Promise<void> {
  const { pending, oldestDueSeconds } = await repository.deliveryBacklog()
  webhookDeliveriesPending.set(pending)
  webhookOldestDueSeconds.set(oldestDueSeconds)
}

/** Refreshes the gauges every BACKLOG_INTERVAL_MS once start-up is complete. */
export function scheduleBacklogGauges(app: FastifyInstance, repository: WebhooksRepository): void {
  schedulePeriodic(app, {
    intervalMs: BACKLOG_INTERVAL_MS,
    failure: 'webhook backlog gauges not refreshed',
    run: () => refreshBacklogGauges(repository),
  })
}
