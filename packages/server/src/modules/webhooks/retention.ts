// Retention of webhook deliveries. Every PRUNE_INTERVAL_MS each replica deletes the succeeded and failed
// deliveries whose last attempt is older than WEBHOOK_RETENTION_DAYS, with their attempts, PRUNE_BATCH per
// statement so that no statement holds many locks or runs long. Several replicas may prune at once: each
// statement skips the rows another one has locked. Pending deliveries are never pruned: they are work still
// owed, whatever their age (a disabled endpoint's wait for it to be enabled again, or deleted).
import type { FastifyInstance } from 'fastify'
import { schedulePeriodic } from '../../platform/periodic.js'
import type { WebhooksRepository } from './repository.js'

export const PRUNE_INTERVAL_MS = 10 * 60_000
export const PRUNE_BATCH = 1000

/** Deletes every delivery past retention, `batch` per statement, while `keepGoing` holds. Answers how many. */
export async function pruneDeliveries(
  repository: WebhooksRepository,
  retentionMs: number,
  batch = PRUNE_BATCH,
  keepGoing: () => boolean = () => true,
): Promise<number> {
  let total = 0
  while (keepGoing()) {
    const deleted = await repository.pruneDeliveries(retentionMs, batch)
    total += deleted
    // Fewer than asked: none left, or the rest are another replica's to delete now.
    if (deleted < batch) break
  }
  return total
}

/** Prunes every PRUNE_INTERVAL_MS while the app runs (one run at a time per replica). */
export function scheduleDeliveryPruning(app: FastifyInstance, repository: WebhooksRepository): void {
  const { config } = app.platform
  schedulePeriodic(app, {
    intervalMs: PRUNE_INTERVAL_MS,
    failure: 'webhook delivery pruning failed',
    run: async (started) => {
      const deleted = await pruneDeliveries(repository, config.webhooks.retentionMs, PRUNE_BATCH, started)
      if (deleted > 0) app.log.info({ deleted }, 'webhook deliveries past retention deleted')
    },
  })
}
