// What the fleet shares about each outbound target: its circuit breaker and its retry budget. With Redis both
// live there and change only inside the two Lua scripts below, so every decision is atomic for the whole
// fleet: when one replica opens a breaker, every replica stops calling; in half-open one lease (SET NX PX)
// lets exactly one probe out at a time. Without Redis, or while Redis fails or is slow, the same rules run on
// per-process state, and `outbound_state_backend_errors_total` counts each such fallback.
//
// Clocks: the scripts read Redis's TIME, so replicas with skewed clocks still agree on windows and cool-downs;
// they answer durations ("retry after N ms"), never instants.
import { createHash, randomUUID } from 'node:crypto'
import type { Redis } from 'ioredis'
import type { Logger } from 'pino'
import type { OutboundSettings } from '../../config.js'
import { TIMED_OUT, withDeadline } from '../deadline.js'
import {
  circuitBreakersOpen,
  circuitBreakerTransitionsTotal,
  outboundStateBackendErrorsTotal,
} from '../metrics.js'

/** The kinds of target the service calls. A metric label: keep it a short, fixed list. */
export const TARGET_KINDS = ['webhook', 'square', 'shopify'] as const
export type TargetKind = (typeof TARGET_KINDS)[number]

/** One thing that can fail on its own: a webhook endpoint, a merchant's Square account. */
export interface Target {
  readonly kind: TargetKind
  /** Stable and bounded (an endpoint id, a merchant id); used in Redis keys and logs, never in metrics. */
  readonly id: string
}

export type BreakerState = 'closed' | 'open' | 'half-open'
export type Backend = 'redis' | 'in-process'
/** What an attempt says about the target's health; `void` (the caller gave up) says nothing. */
export type Verdict = 'success' | 'failure' | 'void'

/** Breaker and budget settings; a subset of OutboundSettings. */
export type SharedStateSettings = Pick<
  OutboundSettings,
  | 'retryBudgetPercent'
  | 'retryBudgetMinPerMinute'
  | 'breakerFailurePercent'
  | 'breakerMinimumCalls'
  | 'breakerWindowMs'
  | 'breakerOpenMs'
  | 'breakerCloseAfterProbes'
  | 'redisTimeoutMs'
>

/** Proof of admission, handed back with the attempt's verdict so the same store records it. */
export interface Ticket {
  readonly backend: Backend
  /** Set when this attempt holds the half-open probe lease. */
  readonly probeToken: string | undefined
}

export type Admission =
  | { readonly admitted: true; readonly probe: boolean; readonly ticket: Ticket }
  | { readonly admitted: false; readonly reason: 'breaker-open'; readonly retryAfterMs: number }
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

/** The retry budget counts over a rolling minute, in buckets of five seconds. */
const BUDGET_BUCKET_MS = 5000
const BUDGET_BUCKETS = 12
/** The breaker's window is counted in ten buckets. */
const WINDOW_BUCKETS = 10

type Transition = { readonly from: BreakerState; readonly to: BreakerState }
type AdmitAnswer =
  | { readonly verdict: 'admitted'; readonly probe: boolean; readonly transition: Transition | undefined }
  | { readonly verdict: 'open'; readonly retryAfterMs: number; readonly transition: Transition | undefined }
  | { readonly verdict: 'budget'; readonly transition: Transition | undefined }
interface RecordAnswer {
  readonly state: BreakerState
  readonly transition: Transition | undefined
}
interface Inspection {
  readonly state: BreakerState
  readonly retryAfterMs: number
  readonly calls: number
  readonly failures: number
  readonly probes: number
}

interface AdmitRequest {
  readonly retry: boolean
  readonly leaseMs: number
  readonly token: string
}

/** The two places the state can live; both apply exactly the same rules. */
interface StateStore {
  admit(key: string, request: AdmitRequest): Promise<AdmitAnswer>
  record(key: string, verdict: Verdict, probeToken: string | undefined): Promise<RecordAnswer>
  inspect(key: string): Promise<Inspection>
}

/** How long a target's breaker state outlives its last change: an idle target is forgotten (closed). */
function stateTtlMs(s: SharedStateSettings): number {
  return s.breakerWindowMs + 2 * s.breakerOpenMs
}

// ---------------------------------------------------------------------------------------------------------
// Redis: one hash per target for the breaker (state, until, probes, and the window's `ok:<bucket>` and
// `fail:<bucket>` counters), one string for the probe lease, one hash for the budget (`c:<bucket>` calls,
// `r:<bucket>` retries). All three carry a TTL; all three share a hash tag, so a cluster keeps them together.

const NOW_LUA = `local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)`

/** KEYS: breaker, lease, budget. ARGV: retry (0|1), lease ms, token, budget %, budget minimum, state TTL ms. */
const ADMIT_LUA = `${NOW_LUA}
local transition = ''
local state = redis.call('HGET', KEYS[1], 'state') or 'closed'
if state == 'open' then
  local reopen = tonumber(redis.call('HGET', KEYS[1], 'until')) or 0
  if now < reopen then return {'open', reopen - now, ''} end
  redis.call('HSET', KEYS[1], 'state', 'half-open', 'probes', 0)
  redis.call('PEXPIRE', KEYS[1], ARGV[6])
  state = 'half-open'
  transition = 'open>half-open'
end
local bucket = math.floor(now / ${BUDGET_BUCKET_MS})
local oldest = bucket - ${BUDGET_BUCKETS - 1}
if ARGV[1] == '1' then
  local calls, retries = 0, 0
  local fields = redis.call('HGETALL', KEYS[3])
  for i = 1, #fields, 2 do
    local kind, n = string.match(fields[i], '^(%a):(%d+)$')
    if kind and tonumber(n) >= oldest then
      if kind == 'c' then calls = calls + tonumber(fields[i + 1]) else retries = retries + tonumber(fields[i + 1]) end
    end
  end
  if retries >= math.max(tonumber(ARGV[5]), math.floor(calls * tonumber(ARGV[4]) / 100)) then
    return {'budget', 0, transition}
  end
end
local probe = 0
if state == 'half-open' then
  if not redis.call('SET', KEYS[2], ARGV[3], 'NX', 'PX', ARGV[2]) then
    return {'open', math.max(redis.call('PTTL', KEYS[2]), 1), transition}
  end
  probe = 1
end
local field = (ARGV[1] == '1' and 'r:' or 'c:') .. bucket
if redis.call('HINCRBY', KEYS[3], field, 1) == 1 then
  local fields = redis.call('HKEYS', KEYS[3])
  for _, name in ipairs(fields) do
    local n = tonumber(string.match(name, ':(%d+)$'))
    if n and n < oldest then redis.call('HDEL', KEYS[3], name) end
  end
end
redis.call('PEXPIRE', KEYS[3], ${2 * BUDGET_BUCKET_MS * BUDGET_BUCKETS})
return {'admitted', probe, transition}`

/** KEYS: breaker, lease. ARGV: verdict, probe token or '', failure %, minimum calls, window ms, open ms,
 * probes to close, state TTL ms. */
const RECORD_LUA = `${NOW_LUA}
local state = redis.call('HGET', KEYS[1], 'state') or 'closed'
local function open(from)
  redis.call('DEL', KEYS[1])
  redis.call('HSET', KEYS[1], 'state', 'open', 'until', now + tonumber(ARGV[6]))
  redis.call('PEXPIRE', KEYS[1], ARGV[8])
  return {'open', from .. '>open'}
end
if ARGV[2] ~= '' then
  if redis.call('GET', KEYS[2]) == ARGV[2] then redis.call('DEL', KEYS[2]) end
  if state ~= 'half-open' or ARGV[1] == 'void' then return {state, ''} end
  if ARGV[1] == 'failure' then return open('half-open') end
  if redis.call('HINCRBY', KEYS[1], 'probes', 1) >= tonumber(ARGV[7]) then
    redis.call('DEL', KEYS[1])
    return {'closed', 'half-open>closed'}
  end
  redis.call('PEXPIRE', KEYS[1], ARGV[8])
  return {'half-open', ''}
end
if state ~= 'closed' or ARGV[1] == 'void' then return {state, ''} end
local bucket = math.floor(now / math.max(1, math.floor(tonumber(ARGV[5]) / ${WINDOW_BUCKETS})))
local oldest = bucket - ${WINDOW_BUCKETS - 1}
redis.call('HINCRBY', KEYS[1], (ARGV[1] == 'success' and 'ok:' or 'fail:') .. bucket, 1)
local calls, failures = 0, 0
local fields = redis.call('HGETALL', KEYS[1])
for i = 1, #fields, 2 do
  local kind, n = string.match(fields[i], '^(%a+):(%d+)$')
  if kind then
    if tonumber(n) < oldest then
      redis.call('HDEL', KEYS[1], fields[i])
    else
      calls = calls + tonumber(fields[i + 1])
      if kind == 'fail' then failures = failures + tonumber(fields[i + 1]) end
    end
  end
end
if calls >= tonumber(ARGV[4]) and failures * 100 >= tonumber(ARGV[3]) * calls then return open('closed') end
redis.call('PEXPIRE', KEYS[1], ARGV[8])
return {'closed', ''}`

/** KEYS: breaker. ARGV: window ms. Read-only. */
const INSPECT_LUA = `${NOW_LUA}
local state = redis.call('HGET', KEYS[1], 'state') or 'closed'
local retryAfter = 0
if state == 'open' then
  retryAfter = (tonumber(redis.call('HGET', KEYS[1], 'until')) or 0) - now
  if retryAfter <= 0 then state = 'half-open'; retryAfter = 0 end
end
local oldest = math.floor(now / math.max(1, math.floor(tonumber(ARGV[1]) / ${WINDOW_BUCKETS}))) - ${WINDOW_BUCKETS - 1}
local calls, failures = 0, 0
local fields = redis.call('HGETALL', KEYS[1])
for i = 1, #fields, 2 do
  local kind, n = string.match(fields[i], '^(%a+):(%d+)$')
  if kind and tonumber(n) >= oldest then
    calls = calls + tonumber(fields[i + 1])
    if kind == 'fail' then failures = failures + tonumber(fields[i + 1]) end
  end
end
return {state, retryAfter, calls, failures, tonumber(redis.call('HGET', KEYS[1], 'probes')) or 0}`

/** A Lua script run by its SHA1, sent in full only when Redis does not know it yet. */
class LuaScript {
  readonly #sha: string
  constructor(readonly source: string) {
    this.#sha = createHash('sha1').update(source).digest('hex')
  }

  async run(redis: Redis, keys: readonly string[], args: readonly (string | number)[]): Promise<unknown[]> {
    let reply: unknown
    try {
      reply = await redis.evalsha(this.#sha, keys.length, ...keys, ...args)
    } catch (err) {
      if (!(err instanceof Error) || !err.message.startsWith('NOSCRIPT')) throw err
      reply = await redis.eval(this.source, keys.length, ...keys, ...args)
    }
    if (!Array.isArray(reply)) throw new Error('unexpected reply from an outbound state script')
    return reply
  }
}

const admitScript = new LuaScript(ADMIT_LUA)
const recordScript = new LuaScript(RECORD_LUA)
const inspectScript = new LuaScript(INSPECT_LUA)

function breakerState(value: unknown): BreakerState {
  if (value === 'closed' || value === 'open' || value === 'half-open') return value
  throw new Error(`unexpected breaker state ${String(value)}`)
}

function transition(value: unknown): Transition | undefined {
  if (typeof value !== 'string' || value === '') return undefined
  const [from, to] = value.split('>')
  return { from: breakerState(from), to: breakerState(to) }
}

class RedisStore implements StateStore {
  constructor(
    private readonly redis: Redis,
    private readonly settings: SharedStateSettings,
  ) {}

  async admit(key: string, request: AdmitRequest): Promise<AdmitAnswer> {
    const s = this.settings
    const [verdict, value, change] = await admitScript.run(
      this.redis,
      [`${key}:breaker`, `${key}:probe`, `${key}:budget`],
      [
        request.retry ? 1 : 0,
        request.leaseMs,
        request.token,
        s.retryBudgetPercent,
        s.retryBudgetMinPerMinute,
        stateTtlMs(s),
      ],
    )
    const made = transition(change)
    if (verdict === 'admitted') return { verdict, probe: value === 1, transition: made }
    if (verdict === 'open') return { verdict, retryAfterMs: Number(value), transition: made }
    if (verdict === 'budget') return { verdict, transition: made }
    throw new Error(`unexpected admission ${String(verdict)}`)
  }

  async record(key: string, verdict: Verdict, probeToken: string | undefined): Promise<RecordAnswer> {
    const s = this.settings
    const [state, change] = await recordScript.run(
      this.redis,
      [`${key}:breaker`, `${key}:probe`],
      [
        verdict,
        probeToken ?? '',
        s.breakerFailurePercent,
        s.breakerMinimumCalls,
        s.breakerWindowMs,
        s.breakerOpenMs,
        s.breakerCloseAfterProbes,
        stateTtlMs(s),
      ],
    )
    return { state: breakerState(state), transition: transition(change) }
  }

  async inspect(key: string): Promise<Inspection> {
    const [state, retryAfterMs, calls, failures, probes] = await inspectScript.run(
      this.redis,
      [`${key}:breaker`],
      [this.settings.breakerWindowMs],
    )
    return {
      state: breakerState(state),
      retryAfterMs: Number(retryAfterMs),
      calls: Number(calls),
      failures: Number(failures),
      probes: Number(probes),
    }
  }
}

// ---------------------------------------------------------------------------------------------------------
// Per process: the same rules on a Map, for a single replica without Redis and as the fallback while Redis
// fails. Targets idle for longer than the state TTL are swept, so the map does not grow without bound.

interface LocalTarget {
  state: BreakerState
  reopenAt: number
  probes: number
  lease: { token: string; expiresAt: number } | undefined
  readonly window: Map<number, { ok: number; fail: number }>
  readonly budget: Map<number, { calls: number; retries: number }>
  touchedAt: number
}

class LocalStore implements StateStore {
  readonly #targets = new Map<string, LocalTarget>()
  #sweptAt = Date.now()

  constructor(private readonly settings: SharedStateSettings) {}

  async admit(key: string, request: AdmitRequest): Promise<AdmitAnswer> {
    const now = Date.now()
    const t = this.#target(key, now)
    let made: Transition | undefined
    if (t.state === 'open') {
      if (now < t.reopenAt) return { verdict: 'open', retryAfterMs: t.reopenAt - now, transition: undefined }
      this.#reset(t, 'half-open')
      made = { from: 'open', to: 'half-open' }
    }
    const bucket = Math.floor(now / BUDGET_BUCKET_MS)
    const oldest = bucket - BUDGET_BUCKETS + 1
    for (const n of t.budget.keys()) if (n < oldest) t.budget.delete(n)
    if (request.retry) {
      let calls = 0
      let retries = 0
      for (const counts of t.budget.values()) {
        calls += counts.calls
        retries += counts.retries
      }
      const s = this.settings
      const allowed = Math.max(s.retryBudgetMinPerMinute, Math.floor((calls * s.retryBudgetPercent) / 100))
      if (retries >= allowed) return { verdict: 'budget', transition: made }
    }
    let probe = false
    if (t.state === 'half-open') {
      if (t.lease !== undefined && t.lease.expiresAt > now) {
        return { verdict: 'open', retryAfterMs: Math.max(1, t.lease.expiresAt - now), transition: made }
      }
      t.lease = { token: request.token, expiresAt: now + request.leaseMs }
      probe = true
    }
    const counts = t.budget.get(bucket) ?? { calls: 0, retries: 0 }
    if (request.retry) counts.retries++
    else counts.calls++
    t.budget.set(bucket, counts)
    return { verdict: 'admitted', probe, transition: made }
  }

  async record(key: string, verdict: Verdict, probeToken: string | undefined): Promise<RecordAnswer> {
    const now = Date.now()
    const t = this.#target(key, now)
    const s = this.settings
    const open = (from: BreakerState): RecordAnswer => {
      this.#reset(t, 'open')
      t.reopenAt = now + s.breakerOpenMs
      return { state: 'open', transition: { from, to: 'open' } }
    }
    if (probeToken !== undefined) {
      if (t.lease?.token === probeToken) t.lease = undefined
      if (t.state !== 'half-open' || verdict === 'void') return { state: t.state, transition: undefined }
      if (verdict === 'failure') return open('half-open')
      t.probes++
      if (t.probes < s.breakerCloseAfterProbes) return { state: 'half-open', transition: undefined }
      this.#reset(t, 'closed')
      return { state: 'closed', transition: { from: 'half-open', to: 'closed' } }
    }
    if (t.state !== 'closed' || verdict === 'void') return { state: t.state, transition: undefined }
    const bucket = Math.floor(now / Math.max(1, Math.floor(s.breakerWindowMs / WINDOW_BUCKETS)))
    const counts = t.window.get(bucket) ?? { ok: 0, fail: 0 }
    if (verdict === 'success') counts.ok++
    else counts.fail++
    t.window.set(bucket, counts)
    const { calls, failures } = this.#windowTotals(t, bucket)
    if (calls >= s.breakerMinimumCalls && failures * 100 >= s.breakerFailurePercent * calls) {
      return open('closed')
    }
    return { state: 'closed', transition: undefined }
  }

  async inspect(key: string): Promise<Inspection> {
    const now = Date.now()
    const t = this.#targets.get(key)
    if (t === undefined) return { state: 'closed', retryAfterMs: 0, calls: 0, failures: 0, probes: 0 }
    const bucket = Math.floor(now / Math.max(1, Math.floor(this.settings.breakerWindowMs / WINDOW_BUCKETS)))
    const { calls, failures } = this.#windowTotals(t, bucket)
    const reopened = t.state === 'open' && now >= t.reopenAt
    return {
      state: reopened ? 'half-open' : t.state,
      retryAfterMs: t.state === 'open' && !reopened ? t.reopenAt - now : 0,
      calls,
      failures,
      probes: t.probes,
    }
  }

  #windowTotals(t: LocalTarget, bucket: number): { calls: number; failures: number } {
    let calls = 0
    let failures = 0
    for (const [n, counts] of t.window) {
      if (n <= bucket - WINDOW_BUCKETS) {
        t.window.delete(n)
        continue
      }
      calls += counts.ok + counts.fail
      failures += counts.fail
    }
    return { calls, failures }
  }

  #reset(t: LocalTarget, state: BreakerState): void {
    t.state = state
    t.probes = 0
    t.window.clear()
  }

  #target(key: string, now: number): LocalTarget {
    const ttl = stateTtlMs(this.settings)
    if (now - this.#sweptAt > ttl) {
      this.#sweptAt = now
      for (const [k, t] of this.#targets) if (now - t.touchedAt > ttl) this.#targets.delete(k)
    }
    let t = this.#targets.get(key)
    if (t === undefined || now - t.touchedAt > ttl) {
      t = {
        state: 'closed',
        reopenAt: 0,
        probes: 0,
        lease: undefined,
        window: new Map(),
        budget: new Map(),
        touchedAt: now,
      }
      this.#targets.set(key, t)
    }
    t.touchedAt = now
    return t
  }
}

// ---------------------------------------------------------------------------------------------------------

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
      return { admitted: false, reason: 'breaker-open', retryAfterMs: answer.retryAfterMs }
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
