// What the fleet shares about each outbound target: its circuit breaker and its retry budget. With Redis both
// live there (redis-state.ts) and change only inside Lua scripts, so every decision is atomic for the whole
// fleet: when one replica opens a breaker, every replica stops calling; in half-open one lease (SET NX PX)
// lets exactly one probe out at a time. Without Redis, or while Redis fails or is slow, the same rules run on
// per-process state (local-state.ts), and `outbound_state_backend_errors_total` counts each such fallback.
import { randomUUID } from 'node:crypto'
import type { Redis } from 'ioredis'
import type { Logger } from 'pino'
import { TIMED_OUT, withDeadline } from '../deadline.js'
import {
  circuitBreakersOpen,
  circuitBreakerTransitionsTotal,
  outboundStateBackendErrorsTotal,
} from '../metrics.js'
import { LocalStore } from './local-state.js'
import { RedisStore } from './redis-state.js'
import {
  type Backend,
  type BreakerState,
  type SharedStateSettings,
  type StateStore,
  stateTtlMs,
  type Transition,
  type Verdict,
} from './state-store.js'

export type { Backend, BreakerState, Verdict } from './state-store.js'

/** The kinds of target the service calls. A metric label: keep it a short, fixed list. */
export const TARGET_KINDS = ['webhook', 'square', 'shopify'] as const
export type TargetKind = (typeof TARGET_KINDS)[number]

/** One thing that can fail on its own: a webhook endpoint, a merchant's Square account. */
export interface Target {
  readonly kind: TargetKind
  /** Stable and bounded (an endpoint id, a merchant id); used in Redis keys and logs, never in metrics. */
  readonly id: string
}

/** Proof of admission, handed back with the attempt's verdict so the same store records it. */
export interface Ticket {
  readonly backend: Backend
  /** Set when this attempt holds the half-open probe lease. */
  readonly probeToken: string | undefined
}

export type Admission =
  | { readonly admitted: true; readonly probe: boolean; readonly ticket: Ticket }
  | {
      readonly admitted: false
      readonly reason: 'breaker-open'
      readonly retryAfterMs: number
      /** Half-open, and another call is the probe: the target's health is being found out right now. */
      readonly probing: boolean
    }
  | { readonly admitted: false; readonly reason: 'retry-budget' }

export interface BreakerSnapshot {
  readonly state: BreakerState
  /** When an open breaker lets a probe through (epoch ms); undefined unless open. */
  readonly retryAt: number | undefined
  /** Calls and failures in the current window (closed breakers only). */
  readonly calls: number
  readonly failures: number
  /** Successful probes so far (half-open only). */
  readonly probes: number
  readonly backend: Backend
}

export interface SharedBreakerOptions {
  readonly redis: Redis | undefined
  readonly keyPrefix: string
  readonly log: Logger
  readonly settings: SharedStateSettings
}

type Attempted<T> = { readonly value: T } | { readonly error: unknown }

/** Breakers and retry budgets of every target, in Redis when there is one, else (and as fallback) per process. */
export class SharedBreaker {
  readonly backend: Backend
  readonly #shared: RedisStore | undefined
  readonly #local: LocalStore
  readonly #keyPrefix: string
  readonly #log: Logger
  readonly #settings: SharedStateSettings
  /** Targets this replica last saw not closed, for the circuit_breakers_open gauge; forgotten after the TTL. */
  readonly #notClosed = new Map<string, { readonly kind: TargetKind; forgetAt: number }>()
  #degraded = false

  constructor(options: SharedBreakerOptions) {
    this.backend = options.redis ? 'redis' : 'in-process'
    this.#shared = options.redis ? new RedisStore(options.redis, options.settings) : undefined
    this.#local = new LocalStore(options.settings)
    this.#keyPrefix = options.keyPrefix
    this.#log = options.log
    this.#settings = options.settings
  }

  /** Whether the last operation fell back to per-process state because Redis failed. */
  get degraded(): boolean {
    return this.#degraded
  }

  /**
   * May an attempt go out? A retry also needs the target's retry budget; in half-open only the holder of the
   * probe lease (for `leaseMs`, or until it records its verdict) may call.
   */
  async admit(target: Target, request: { retry: boolean; leaseMs: number }): Promise<Admission> {
    const key = this.#key(target)
    const token = randomUUID()
    const attempt = { ...request, token }
    const shared = await this.#tryShared((store) => store.admit(key, attempt))
    const backend: Backend = shared !== undefined ? 'redis' : 'in-process'
    const answer = shared ?? (await this.#local.admit(key, attempt))
    this.#transitioned(target, answer.transition)
    if (answer.verdict === 'open') {
      this.#seen(target, key, 'open')
      return {
        admitted: false,
        reason: 'breaker-open',
        retryAfterMs: answer.retryAfterMs,
        probing: answer.probing,
      }
    }
    if (answer.verdict === 'budget') return { admitted: false, reason: 'retry-budget' }
    return {
      admitted: true,
      probe: answer.probe,
      ticket: { backend, probeToken: answer.probe ? token : undefined },
    }
  }

  /** Records how an admitted attempt went, in the store that admitted it; answers the breaker's state after. */
  async record(target: Target, ticket: Ticket, verdict: Verdict): Promise<BreakerState> {
    const key = this.#key(target)
    const run = (store: StateStore) => store.record(key, verdict, ticket.probeToken)
    const shared = ticket.backend === 'redis' ? await this.#tryShared(run) : undefined
    const answer = shared ?? (await run(this.#local))
    this.#transitioned(target, answer.transition)
    this.#seen(target, key, answer.state)
    return answer.state
  }

  async inspect(target: Target): Promise<BreakerSnapshot> {
    const key = this.#key(target)
    const shared = await this.#tryShared((store) => store.inspect(key))
    const found = shared ?? (await this.#local.inspect(key))
    return {
      state: found.state,
      retryAt: found.state === 'open' ? Date.now() + found.retryAfterMs : undefined,
      calls: found.calls,
      failures: found.failures,
      probes: found.probes,
      backend: shared !== undefined ? 'redis' : 'in-process',
    }
  }

  #key(target: Target): string {
    // The hash tag keeps a target's keys in one cluster slot, as the scripts touching them require.
    return `${this.#keyPrefix}outbound:{${target.kind}:${target.id}}`
  }

  async #tryShared<T>(run: (store: RedisStore) => Promise<T>): Promise<T | undefined> {
    if (this.#shared === undefined) return undefined
    const outcome = await withDeadline<Attempted<T>>(
      run(this.#shared).then(
        (value) => ({ value }),
        (error: unknown) => ({ error }),
      ),
      this.#settings.redisTimeoutMs,
    )
    if (outcome !== TIMED_OUT && 'value' in outcome) {
      if (this.#degraded) {
        this.#degraded = false
        this.#log.info('outbound breaker state answers again from redis; the fleet shares it')
      }
      return outcome.value
    }
    outboundStateBackendErrorsTotal.inc()
    if (!this.#degraded) {
      this.#degraded = true
      const error = outcome === TIMED_OUT ? undefined : outcome.error
      const reason = error === undefined ? 'timeout' : error instanceof Error ? error.message : String(error)
      this.#log.warn(
        { reason },
        'outbound breaker state unavailable in redis; deciding per process until it answers',
      )
    }
    return undefined
  }

  #transitioned(target: Target, change: Transition | undefined): void {
    if (change === undefined) return
    circuitBreakerTransitionsTotal.inc({ target_kind: target.kind, from: change.from, to: change.to })
    const fields = { target: { kind: target.kind, id: target.id }, from: change.from, to: change.to }
    if (change.to === 'open') this.#log.warn(fields, 'outbound circuit breaker opened')
    else this.#log.info(fields, `outbound circuit breaker ${change.to === 'closed' ? 'closed' : 'half-open'}`)
  }

  #seen(target: Target, key: string, state: BreakerState): void {
    const now = Date.now()
    for (const [k, entry] of this.#notClosed) {
      if (entry.forgetAt > now) continue
      this.#notClosed.delete(k)
      circuitBreakersOpen.dec({ target_kind: entry.kind })
    }
    const known = this.#notClosed.get(key)
    if (state === 'closed') {
      if (known === undefined) return
      this.#notClosed.delete(key)
      circuitBreakersOpen.dec({ target_kind: known.kind })
      return
    }
    if (known !== undefined) {
      known.forgetAt = now + stateTtlMs(this.#settings)
      return
    }
    this.#notClosed.set(key, { kind: target.kind, forgetAt: now + stateTtlMs(this.#settings) })
    circuitBreakersOpen.inc({ target_kind: target.kind })
  }
}
