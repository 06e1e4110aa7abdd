// Rate limits that hold for the whole fleet: a fixed window per bucket (an API key, the admin token, or a
// client IP for everything unauthenticated), counted atomically in Redis when REDIS_URL is set, so N
// replicas accept the limit once, not N times. Without Redis the window is counted per process.
//
// When Redis is down or slow (no answer within RATE_LIMIT_REDIS_TIMEOUT_MS), requests go on under a
// per-process insurance limiter with the same policy; `rate_limit_backend_errors_total` counts each such
// fallback and the log says when it starts and ends. Redis is used again by the next request once it answers.
import type { Redis } from 'ioredis'
import type { Logger } from 'pino'
import { RateLimiterMemory, RateLimiterRedis, RateLimiterRes } from 'rate-limiter-flexible'
import { TIMED_OUT, withDeadline } from './deadline.js'
import { rateLimitBackendErrorsTotal, rateLimitExceededTotal } from './metrics.js'

export interface RateLimitPolicy {
  readonly max: number
  readonly windowMs: number
}

/** A tenant's override as its two columns store it (the tenants table): a policy only when both are set. */
export function storedRateLimit(row: {
  rateLimitMax: number | null
  rateLimitWindowMs: number | null
}): RateLimitPolicy | null {
  return row.rateLimitMax === null || row.rateLimitWindowMs === null
    ? null
    : { max: row.rateLimitMax, windowMs: row.rateLimitWindowMs }
}

export interface RateLimitBucket {
  /** What is counted: `key:<api key id>`, `admin`, or `ip:<address>`. */
  readonly id: string
  readonly policy: RateLimitPolicy
  /** The tenant the bucket belongs to, for the metrics; undefined for anonymous and admin traffic. */
  readonly tenantId?: string
}

export interface RateLimitState {
  readonly policy: RateLimitPolicy
  readonly remaining: number
  /** Seconds until the window resets. */
  readonly resetSeconds: number
  readonly exceeded: boolean
}

export type RateLimitBackend = 'redis' | 'in-process'

export interface RateLimitsOptions {
  readonly redis: Redis | undefined
  readonly keyPrefix: string
  readonly log: Logger
  readonly redisTimeoutMs: number
}

type StoreAnswer = { res: RateLimiterRes; exceeded: boolean } | { error: unknown }

function policyKey(policy: RateLimitPolicy): string {
  return `${policy.max}/${policy.windowMs}`
}

export class RateLimits {
  readonly backend: RateLimitBackend
  readonly #shared = new Map<string, RateLimiterRedis>()
  readonly #local = new Map<string, RateLimiterMemory>()
  #degraded = false

  constructor(private readonly options: RateLimitsOptions) {
    this.backend = options.redis ? 'redis' : 'in-process'
    // rate-limiter-flexible defines its Lua command on the client each time a limiter is built, and ioredis
    // copies the commands into an auto-pipeline when it makes one: a limiter first built while a pipeline was
    // pending queued its command on a pipeline without it, and that pipeline's reply crashed the process. One
    // limiter built now, before any request, defines the command for every pipeline to come.
    if (options.redis) this.#sharedLimiter({ max: 1, windowMs: 1000 })
  }

  /** Whether the last requests fell back to the per-process insurance limiter because Redis failed. */
  get degraded(): boolean {
    return this.#degraded
  }

  async consume(bucket: RateLimitBucket): Promise<RateLimitState> {
    const shared = this.#sharedLimiter(bucket.policy)
    if (shared) {
      const outcome = await withDeadline<StoreAnswer>(
        shared.consume(bucket.id).then(
          (res) => ({ res, exceeded: false }),
          (err: unknown) => (err instanceof RateLimiterRes ? { res: err, exceeded: true } : { error: err }),
        ),
        this.options.redisTimeoutMs,
      )
      if (outcome !== TIMED_OUT && 'res' in outcome) {
        this.#recovered()
        return this.#state(bucket, outcome.res, outcome.exceeded)
      }
      this.#failed(outcome === TIMED_OUT ? 'timeout' : outcome.error)
    }
    const local = this.#localLimiter(bucket.policy)
    try {
      return this.#state(bucket, await local.consume(bucket.id), false)
    } catch (rejection) {
      return this.#state(bucket, rejection as RateLimiterRes, true)
    }
  }

  /**
   * The bucket's state without counting a request (`exceeded`: the next one would be refused); undefined
   * when it counted none in this window, or when the store does not answer in time (the caller then goes on
   * as if nothing was counted).
   */
  async peek(bucket: RateLimitBucket): Promise<RateLimitState | undefined> {
    const limiter = this.#sharedLimiter(bucket.policy) ?? this.#localLimiter(bucket.policy)
    const res = await withDeadline(
      limiter.get(bucket.id).catch(() => null),
      this.options.redisTimeoutMs,
    )
    if (res === TIMED_OUT || res === null) return undefined
    return {
      policy: bucket.policy,
      remaining: Math.max(0, res.remainingPoints),
      resetSeconds: Math.max(0, Math.ceil(res.msBeforeNext / 1000)),
      exceeded: res.consumedPoints >= bucket.policy.max,
    }
  }

  #state(bucket: RateLimitBucket, res: RateLimiterRes, exceeded: boolean): RateLimitState {
    if (exceeded) rateLimitExceededTotal.inc({ tenant: bucket.tenantId ?? 'none' })
    return {
      policy: bucket.policy,
      remaining: Math.max(0, res.remainingPoints),
      resetSeconds: Math.max(0, Math.ceil(res.msBeforeNext / 1000)),
      exceeded,
    }
  }

  #sharedLimiter(policy: RateLimitPolicy): RateLimiterRedis | undefined {
    const { redis } = this.options
    if (!redis) return undefined
    const key = policyKey(policy)
    let limiter = this.#shared.get(key)
    if (!limiter) {
      limiter = new RateLimiterRedis({
        storeClient: redis,
        points: policy.max,
        duration: policy.windowMs / 1000,
        // Each policy counts in its own keys: a changed tenant limit starts a fresh window.
        keyPrefix: `${this.options.keyPrefix}rl:${key}`,
        rejectIfRedisNotReady: true,
      })
      this.#shared.set(key, limiter)
    }
    return limiter
  }

  #localLimiter(policy: RateLimitPolicy): RateLimiterMemory {
    const key = policyKey(policy)
    let limiter = this.#local.get(key)
    if (!limiter) {
      limiter = new RateLimiterMemory({ points: policy.max, duration: policy.windowMs / 1000 })
      this.#local.set(key, limiter)
    }
    return limiter
  }

  #failed(error: unknown): void {
    rateLimitBackendErrorsTotal.inc()
    if (this.#degraded) return
    this.#degraded = true
    const reason = error === 'timeout' ? 'timeout' : error instanceof Error ? error.message : String(error)
    this.options.log.warn(
      { reason },
      'rate limit store unavailable; limiting per process until redis answers',
    )
  }

  #recovered(): void {
    if (!this.#degraded) return
    this.#degraded = false
    this.options.log.info('rate limit store answers again; the shared limit applies')
  }
}
