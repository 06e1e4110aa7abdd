// Background work a replica repeats while it serves: reaping expired idempotency keys, pruning old webhook
// deliveries, refreshing the webhook backlog gauges. Each runs every `intervalMs` once start-up is complete (the
// database is migrated), never twice at once on one replica, and not once shutdown has begun; closing the app
// waits for a run in flight. The work itself must be safe on several replicas at once.
import type { FastifyInstance } from 'fastify'

export interface PeriodicTask {
  readonly intervalMs: number
  /** The warning logged, with the error, when a run fails; the next run comes all the same. */
  readonly failure: string
  /** One run. `started` turns false when shutdown begins: a run that loops checks it to stop early. */
  run(started: () => boolean): Promise<void>
}

export function schedulePeriodic(app: FastifyInstance, task: PeriodicTask): void {
  const { lifecycle } = app.platform
  const started = () => lifecycle.phase === 'started'
  let timer: NodeJS.Timeout | undefined
  let running: Promise<void> | undefined
  const tick = () => {
    if (!started() || running) return
    running = task
      .run(started)
      .catch((err: unknown) => app.log.warn({ err }, task.failure))
      .finally(() => {
        running = undefined
      })
  }
  app.addHook('onReady', async () => {
    timer = setInterval(tick, task.intervalMs)
    timer.unref()
  })
  app.addHook('onClose', async () => {
    clearInterval(timer)
    await running
  })
}
