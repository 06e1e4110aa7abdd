// The shared services every feature may use, created once by the process entry (or a test) and handed to
// buildApp: configuration, logger, database, Redis, the keys of secrets at rest, cache invalidation and the
// lifecycle state and the outbound HTTP layer.
import type { Logger } from 'pino'
import type { Config } from '../config.js'
import type { DatabaseHandle } from './database.js'
import type { Invalidation } from './invalidation.js'
import type { Lifecycle } from './lifecycle.js'
import type { Outbound } from './outbound/outbound.js'
import type { RedisHandle } from './redis.js'
import type { Secrets } from './secrets.js'

export interface Platform {
  readonly config: Config
  readonly log: Logger
  readonly database: DatabaseHandle
  readonly redis: RedisHandle | undefined
  readonly secrets: Secrets
  /** Tells the other processes to drop cached entries; process-local without Redis. */
  readonly invalidation: Invalidation
  readonly lifecycle: Lifecycle
  /** The one door for outbound HTTP (platform/outbound): timeouts, retries, the fleet's breakers. */
  readonly outbound: Outbound
}

declare module 'fastify' {
  interface FastifyInstance {
    platform: Platform
  }
}
