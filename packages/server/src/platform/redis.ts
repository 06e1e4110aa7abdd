// The one Redis connection of the process, when REDIS_URL is set. Commands fail fast while the connection is
// down (no offline queue, one attempt per request) so callers can fall back instead of piling up.
import { Redis } from 'ioredis'
import type { Logger } from 'pino'

export interface RedisHandle {
  readonly client: Redis
  /** Resolves once the first connection is up; retries with backoff until then or until `signal` aborts. */
  connect(signal?: AbortSignal): Promise<void>
  ping(): Promise<void>
  close(): Promise<void>
}

export function openRedis(url: string, log: Logger): RedisHandle {
  const client = new Redis(url, {
    lazyConnect: true,
    enableOfflineQueue: false,
    maxRetriesPerRequest: 1,
    connectTimeout: 2000,
    // Reconnect forever, but never faster than every 2 s once it has failed a few times.
    retryStrategy: (attempt) => Math.min(attempt * 200, 2000),
  })
  let healthy = true
  client.on('error', (err: Error) => {
    if (healthy) log.warn({ err: { message: err.message } }, 'redis connection error')
    healthy = false
  })
  client.on('ready', () => {
    if (!healthy) log.info('redis connection restored')
    healthy = true
  })
  let closed: Promise<void> | undefined
  return {
    client,
    async connect(signal) {
      const ready = () => client.status === 'ready'
      if (client.status === 'wait') await client.connect().catch(() => undefined)
      while (!ready()) {
        signal?.throwIfAborted()
        await new Promise<void>((resolve) => {
          const done = () => {
            client.off('ready', done)
            clearTimeout(timer)
            resolve()
          }
          const timer = setTimeout(done, 250)
          client.once('ready', done)
        })
      }
    },
    async ping() {
      await client.ping()
    },
    close() {
      // A client that never connected (the CLI, after a listing) has nothing to quit.
      if (client.status === 'wait') client.disconnect()
      closed ??=
        client.status === 'end'
          ? Promise.resolve()
          : client.quit().then(
              () => undefined,
              () => client.disconnect(),
            )
      return closed
    },
  }
}
