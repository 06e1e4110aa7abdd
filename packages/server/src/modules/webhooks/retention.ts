// Retention of webhook deliveries. Every PRUNE_INTERVAL_MS each replica deletes the succeeded and failed
// deliveries whose last attempt is older than WEBHOOK_RETENTION_DAYS, with their attempts, PRUNE_BATCH per
// statement so that no statement holds many locks or runs long. Several replicas may prune at once: each
// statement skips the rows another one has locked. Pending deliveries are never pruned: they are work still
// owed, whatever their age (a disabled endpoint's wait for it to be enabled again, or deleted).
import type { FastifyInstance } from 'fastify'
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
  const { config, lifecycle, log } = app.platform
  const started = () => lifecycle.phase === 'started'
  let timer: NodeJS.Timeout | undefined
  let running: Promise<void> | undefined
  const prune = () => {
    if (!started() || running) return
    running = pruneDeliveries(repository, config.webhooks.retentionMs, PRUNE_BATCH, started)
      .then((deleted) => {
        if (deleted > 0) log.info({ deleted }, 'webhook deliveries past retention deleted')
      })
      .catch((err: unknown) => log.warn({ err }, 'webhook delivery pruning failed'))
      .finally(() => {
        running = undefined
      })
  }
  app.addHook('onReady', async () => {
    timer = setInterval(prune, PRUNE_INTERVAL_MS)
    timer.unref()
  })
  app.addHook('onClose', async () => {
    clearInterval(timer)
    await running
  })
}
