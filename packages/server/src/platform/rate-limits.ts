// Rate limits that hold for the whole fleet: a fixed window per bucket (an API key, the admin token, or a
// client IP for everything unauthenticated), counted atomically in Redis when REDIS_URL is set, so N
// replicas accept the limit once, not N times. Without Redis the window is counted per process.
//
// When Redis is down or slow (no answer within RATE_LIMIT_REDIS_TIMEOUT_MS), requests go on under a
// per-process insurance limiter with the same policy; `rate_limit_backend_errors_total` counts each such
// fallback and the log says when it starts and ends. Redis is used again by the next request once it answers.
//
// With Redis, a process does not ask Redis for every request: it takes a lease of tokens from the shared
// window (one increment of the window's count by the lease size) and hands them out itself; a request that
// finds no token waits for the refills under way when they ask for enough tokens for every waiter, else
// starts another, so a burst costs a few refills sent together (ioredis auto-pipelining), not a chain. A
// lease is at most 1% of the limit (LEASE_SHARE) and at most MAX_LEASE tokens, starts at one token and
// doubles with each refill, and lapses with its window. The count in Redis includes every leased token, so
// while Redis answers in time the fleet never accepts more than the limit in a window; it may refuse up to
// (replicas - 1) x (lease - 1) requests early, when other replicas hold tokens they do not spend before the
// window ends. Below 2 x LEASE_SHARE the lease is one token: every request is its own refill, counted in
// Redis on its own, and kept track of like any other.
//
// A refill that Redis answers after the deadline was still counted there, so its answer is not dropped: its
// tokens first pay for the requests of the window that the insurance limiter admitted while a refill was late
// (Redis counts them nowhere else), and the rest joins the lease. Meanwhile a request that falls back is
// refused once what was admitted that way covers the room the window had at Redis's last answer: no late
// token can be left for it. An answer whose window may have ended by the time it arrives is not used: its
// tokens would be spent in the next window. So in a window the fleet accepts at most the limit plus, for each
// replica whose refills were late, the room the window had at Redis's last answer to it (the whole limit for
// one that had no answer in the window yet): what its late tokens cannot pay for, because other replicas took
// the window's last room first, is never more than that room.
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

/** Redis's count after a request (`exceeded`: it went past the limit). */
type StoreCount = { res: RateLimiterRes; exceeded: boolean }
type StoreAnswer = StoreCount | { error: unknown }

/** A lease is at most 1/LEASE_SHARE of the limit, so the tokens other replicas may hold stay small beside it. */
const LEASE_SHARE = 100
/** The most tokens one refill takes: one Redis call per this many requests of a busy bucket. */
const MAX_LEASE = 64
/** Buckets whose lease this process keeps; beyond, lapsed leases go first, then the oldest. */
const MAX_LEASES = 10_000

/** Tokens of one bucket's shared window that this process took and hands out itself. */
interface Lease {
  /** Taken from the window and not handed out yet. */
  tokens: number
  /** The window's count in Redis after the last refill (every replica's tokens, handed out or not). */
  counted: number
  /** Refills sent so far, and the number of the one whose answer set `counted`. */
  sent: number
  countedBy: number
  /** When the window ends (epoch ms), 0 while no answer named it: the tokens lapse with it. */
  resetAt: number
  /** The window's count reached the limit: every request is refused until it ends, without asking Redis. */
  spent: boolean
  /**
   * Requests the insurance limiter admitted while a refill was late, not yet paid with a token: the next
   * tokens of the window (a late answer's first) go to them.
   */
  owed: number
  /** Refills Redis did not answer in time and may still answer. */
  late: number
  /** Tokens the next refill asks for: doubles with each refill, up to the bucket's cap. */
  next: number
  /** Tokens asked for by the refills under way, and the requests waiting for them. */
  asked: number
  waiting: number
  /** The latest refill under way, if any: false when Redis did not answer (its waiters then fall back). */
  refill: Promise<boolean> | undefined
}

function policyKey(policy: RateLimitPolicy): string {
  return `${policy.max}/${policy.windowMs}`
}

const leaseKey = (bucket: RateLimitBucket) => `${policyKey(bucket.policy)} ${bucket.id}`

/** The most tokens one refill of a bucket with this policy may take. */
export function leaseCap(policy: RateLimitPolicy): number {
  return Math.max(1, Math.min(MAX_LEASE, Math.floor(policy.max / LEASE_SHARE)))
}

export class RateLimits {
  readonly backend: RateLimitBackend
  readonly #shared = new Map<string, RateLimiterRedis>()
  readonly #local = new Map<string, RateLimiterMemory>()
  readonly #leases = new Map<string, Lease>()
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
    if (shared === undefined) return this.#consumeLocal(bucket, undefined)
    const lease = this.#leaseOf(leaseKey(bucket))
    return (await this.#consumeLeased(shared, bucket, lease)) ?? this.#consumeLocal(bucket, lease)
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
    // Tokens this process leased and has not handed out are counted in Redis but not spent.
    const lease = this.#leases.get(leaseKey(bucket))
    const held = lease !== undefined && lease.resetAt > Date.now() ? lease.tokens : 0
    const spent = res.consumedPoints - held
    return {
      policy: bucket.policy,
      remaining: Math.max(0, bucket.policy.max - spent),
      resetSeconds: Math.max(0, Math.ceil(res.msBeforeNext / 1000)),
      exceeded: spent >= bucket.policy.max,
    }
  }

  /** One token of the process's lease, refilled from Redis when empty; undefined when Redis did not answer. */
  async #consumeLeased(
    shared: RateLimiterRedis,
    bucket: RateLimitBucket,
    lease: Lease,
  ): Promise<RateLimitState | undefined> {
    for (;;) {
      this.#lapse(lease, Date.now())
      if (lease.tokens > 0) {
        lease.tokens--
        return this.#leased(bucket, lease, false)
      }
      if (lease.spent) return this.#leased(bucket, lease, true)
      const refill =
        lease.refill === undefined || lease.waiting >= lease.asked
          ? this.#startRefill(shared, bucket, lease)
          : lease.refill
      lease.waiting++
      const answered = await refill
      lease.waiting--
      // Another refill's answer may have come meanwhile: its tokens serve this request before any fallback.
      if (!answered && lease.tokens === 0) return undefined
    }
  }

  /**
   * The per-process limiter's answer: the only one without Redis, the insurance when Redis did not answer.
   * A leased bucket's request is refused at once when what the insurance limiter admitted during late refills
   * covers the room its window had at Redis's last answer; one it admits while a refill is late is owed a
   * token of the window, so the late answer counts it in Redis.
   */
  async #consumeLocal(bucket: RateLimitBucket, lease: Lease | undefined): Promise<RateLimitState> {
    if (lease !== undefined && lease.resetAt > Date.now() && lease.owed >= bucket.policy.max - lease.counted)
      return this.#leased(bucket, lease, true)
    // Counted before the limiter answers, so that the waiters of one refill, which fall back together, see
    // each other in the check above.
    const owes = lease !== undefined && lease.late > 0
    if (owes) lease.owed++
    try {
      return this.#state(bucket, await this.#localLimiter(bucket.policy).consume(bucket.id), false)
    } catch (rejection) {
      if (owes) lease.owed = Math.max(0, lease.owed - 1)
      return this.#state(bucket, rejection as RateLimiterRes, true)
    }
  }

  #startRefill(shared: RateLimiterRedis, bucket: RateLimitBucket, lease: Lease): Promise<boolean> {
    const wanted = lease.next
    lease.next = Math.min(leaseCap(bucket.policy), wanted * 2)
    lease.asked += wanted
    const refill: Promise<boolean> = this.#refill(shared, bucket, lease, wanted).finally(() => {
      lease.asked -= wanted
      if (lease.refill === refill) lease.refill = undefined
    })
    lease.refill = refill
    return refill
  }

  /**
   * The bucket's lease, kept while refills of it are under way or late so that their answers find it; idle
   * leases whose window ended and then the oldest go when full.
   */
  #leaseOf(key: string): Lease {
    const lease = this.#leases.get(key)
    if (lease !== undefined) return lease
    if (this.#leases.size >= MAX_LEASES) {
      const now = Date.now()
      for (const [k, l] of this.#leases)
        if (l.resetAt <= now && l.refill === undefined && l.late === 0) this.#leases.delete(k)
      if (this.#leases.size >= MAX_LEASES) this.#leases.delete(this.#leases.keys().next().value!)
    }
    const fresh: Lease = {
      tokens: 0,
      counted: 0,
      sent: 0,
      countedBy: 0,
      resetAt: 0,
      spent: false,
      owed: 0,
      late: 0,
      next: 1,
      asked: 0,
      waiting: 0,
      refill: undefined,
    }
    this.#leases.set(key, fresh)
    return fresh
  }

  /** Once its window ended, a lease's tokens, count and debts lapse; the window is unknown until an answer. */
  #lapse(lease: Lease, now: number): void {
    if (lease.resetAt === 0 || lease.resetAt > now) return
    lease.tokens = 0
    lease.counted = 0
    lease.resetAt = 0
    lease.spent = false
    lease.owed = 0
  }

  /**
   * Takes `wanted` tokens from the shared window. False when Redis did not answer in time; its answer is
   * credited to the lease whenever it comes, since Redis counted the tokens either way.
   */
  async #refill(
    shared: RateLimiterRedis,
    bucket: RateLimitBucket,
    lease: Lease,
    wanted: number,
  ): Promise<boolean> {
    const sentAt = Date.now()
    const number = ++lease.sent
    const answer = this.#ask(shared, bucket.id, wanted).then((outcome) => {
      if ('res' in outcome) this.#credit(bucket.policy, lease, outcome.res, wanted, sentAt, number)
      return outcome
    })
    const outcome = await withDeadline(answer, this.options.redisTimeoutMs)
    if (outcome === TIMED_OUT) {
      lease.late++
      void answer.then(() => {
        lease.late--
      })
    }
    return this.#answered(outcome) !== undefined
  }

  /**
   * A refill's answer: as many tokens as were left under the limit, since Redis counts them all (a refill
   * past the limit grants the part below it), the requests owed a token paid first. Nothing from a window
   * that may have ended: Redis counted the tokens after `sentAt`, so the window ends no earlier than `sentAt`
   * plus what it had left then, and tokens handed out after that could be spent in the next window.
   */
  #credit(
    policy: RateLimitPolicy,
    lease: Lease,
    res: RateLimiterRes,
    wanted: number,
    sentAt: number,
    number: number,
  ): void {
    const now = Date.now()
    this.#lapse(lease, now)
    const counted = res.consumedPoints
    const granted = Math.min(wanted, Math.max(0, policy.max - (counted - wanted)))
    const resetAt = sentAt + res.msBeforeNext
    if (resetAt <= now) {
      // Its window is over; the requests admitted while no answer named the current one were likely in it.
      if (lease.resetAt === 0) lease.owed -= Math.min(granted, lease.owed)
      return
    }
    const paid = Math.min(granted, lease.owed)
    lease.owed -= paid
    lease.tokens += granted - paid
    // The count of the refill sent last is the window's: the highest, unless Redis lost the window (restarted
    // without persistence) and counts it afresh.
    if (number > lease.countedBy) {
      lease.counted = counted
      lease.countedBy = number
    }
    lease.resetAt = Math.max(lease.resetAt, resetAt)
    if (granted === 0) lease.spent = true
  }

  /** Adds `points` to the bucket's window in Redis, without a deadline; never rejects. */
  #ask(shared: RateLimiterRedis, id: string, points: number): Promise<StoreAnswer> {
    return shared.consume(id, points).then(
      (res) => ({ res, exceeded: false }),
      (err: unknown) => (err instanceof RateLimiterRes ? { res: err, exceeded: true } : { error: err }),
    )
  }

  /** Redis's answer if it came in time, else undefined, counted as a fallback. */
  #answered(outcome: StoreAnswer | typeof TIMED_OUT): StoreCount | undefined {
    if (outcome !== TIMED_OUT && 'res' in outcome) {
      this.#recovered()
      return outcome
    }
    this.#failed(outcome === TIMED_OUT ? 'timeout' : outcome.error)
    return undefined
  }

  /**
   * The state after a token of the lease: the window's room left, less what the requests owed a token will
   * take of it, plus the tokens this process still holds.
   */
  #leased(bucket: RateLimitBucket, lease: Lease, exceeded: boolean): RateLimitState {
    if (exceeded) rateLimitExceededTotal.inc({ tenant: bucket.tenantId ?? 'none' })
    return {
      policy: bucket.policy,
      remaining: Math.max(0, bucket.policy.max - lease.counted - lease.owed) + lease.tokens,
      resetSeconds: Math.max(0, Math.ceil((lease.resetAt - Date.now()) / 1000)),
      exceeded,
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
