// Deletes idempotency keys once they are older than IDEMPOTENCY_TTL_HOURS, every few minutes. Replicas may
// all run it: the deletes are idempotent and bounded per statement.
import type { FastifyInstance } from 'fastify'
import fp from 'fastify-plugin'

const REAP_INTERVAL_MS = 10 * 60_000

async function idempotencyReaper(app: FastifyInstance): Promise<void> {
  const { config, lifecycle } = app.platform
  let timer: NodeJS.Timeout | undefined
  let running: Promise<void> | undefined
  const reap = () => {
    if (lifecycle.phase !== 'started' || running) return
    running = app.ingest
      .reapIdempotencyKeys(config.idempotencyTtlHours)
      .then((deleted) => {
        if (deleted > 0) app.log.info({ deleted }, 'expired idempotency keys deleted')
      })
      .catch((err: unknown) => app.log.warn({ err }, 'idempotency key reaper failed'))
      .finally(() => {
        running = undefined
      })
  }
  app.addHook('onReady', async () => {
    timer = setInterval(reap, REAP_INTERVAL_MS)
    timer.unref()
  })
  app.addHook('onClose', async () => {
    clearInterval(timer)
    await running
  })
}

export default fp(idempotencyReaper, { name: 'idempotency-reaper' })
