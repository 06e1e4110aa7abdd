// The one Redis connection of the process, when REDIS_URL is set. Commands fail fast while the connection is
// down (no offline queue, one attempt per request) so callers can fall back instead of piling up.
import { Redis } from 'ioredis'
import type { Logger } from 'pino'

export interface RedisHandle {
  readonly client: Redis
  /**
   * One attempt to reach Redis: starts connecting if nothing has yet, waits for the connection (at most
   * REACH_TIMEOUT_MS) and pings. Rejects with the connection's error when it fails; the client goes on
   * reconnecting by itself, so the next attempt finds it ready as soon as Redis is.
   */
  reach(): Promise<void>
  /** Whether `err` (from reach) may go away by trying again: anything but a refused login. */
  isUnreachable(err: unknown): boolean
  ping(): Promise<void>
  close(): Promise<void>
}

const REACH_TIMEOUT_MS = 5000
// Replies that retrying with the same settings cannot change.
const REFUSED_LOGIN = /^(WRONGPASS|NOAUTH|NOPERM)/

export function openRedis(url: string, log: Logger): RedisHandle {
  const client = new Redis(url, {
    lazyConnect: true,
    enableOfflineQueue: false,
    maxRetriesPerRequest: 1,
    connectTimeout: 2000,
    // Commands issued in the same tick leave in one write: the breakers of many webhook attempts in flight
    // cost one system call, not one each.
    enableAutoPipelining: true,
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
    async reach() {
      if (client.status !== 'ready') {
        // From the first connect on, ioredis reconnects by itself (retryStrategy); its outcome is awaited here.
        const outcome = new Promise<void>((resolve, reject) => {
          const settle = (err?: Error) => {
            client.off('ready', onReady).off('error', settle)
            clearTimeout(timer)
            if (err) reject(err)
            else resolve()
          }
          const onReady = () => settle()
          const timer = setTimeout(settle, REACH_TIMEOUT_MS, new Error('redis did not connect in time'))
          client.on('ready', onReady).on('error', settle)
        })
        if (client.status === 'wait') client.connect().catch(() => undefined)
        await outcome
      }
      await client.ping()
    },
    isUnreachable(err) {
      return !(err instanceof Error && REFUSED_LOGIN.test(err.message))
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
