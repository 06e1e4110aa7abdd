// Breaker and budget state of this process alone: for a single replica without Redis, and the fallback while
// Redis fails. The same rules as the Lua scripts of redis-state.ts, on a Map. Targets idle for longer than the
// state TTL are swept, so the map does not grow without bound.
import {
  type AdmitAnswer,
  type AdmitRequest,
  type BreakerState,
  BUDGET_BUCKET_MS,
  BUDGET_BUCKETS,
  type Inspection,
  type RecordAnswer,
  type SharedStateSettings,
  type StateStore,
  stateTtlMs,
  type Transition,
  type Verdict,
  WINDOW_BUCKETS,
} from './state-store.js'

interface LocalTarget {
  state: BreakerState
  reopenAt: number
  probes: number
  lease: { token: string; expiresAt: number } | undefined
  readonly window: Map<number, { ok: number; fail: number }>
  readonly budget: Map<number, { calls: number; retries: number }>
  touchedAt: number
}

export class LocalStore implements StateStore {
  readonly #targets = new Map<string, LocalTarget>()
  #sweptAt = Date.now()

  constructor(private readonly settings: SharedStateSettings) {}

  async admit(key: string, request: AdmitRequest): Promise<AdmitAnswer> {
    const now = Date.now()
    const t = this.#target(key, now)
    let made: Transition | undefined
    if (t.state === 'open') {
      if (now < t.reopenAt)
        return { verdict: 'open', retryAfterMs: t.reopenAt - now, probing: false, transition: undefined }
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
        return {
          verdict: 'open',
          retryAfterMs: Math.max(1, t.lease.expiresAt - now),
          probing: true,
          transition: made,
        }
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
