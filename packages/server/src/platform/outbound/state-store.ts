// The contract between the shared breaker and the two places its state can live (Redis, or this process),
// and the rules' constants both share: each store must decide exactly as the other does.
import type { OutboundSettings } from '../../config.js'

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

/** The retry budget counts over a rolling minute, in buckets of five seconds. */
export const BUDGET_BUCKET_MS = 5000
export const BUDGET_BUCKETS = 12
/** The breaker's window is counted in ten buckets. */
export const WINDOW_BUCKETS = 10

export type Transition = { readonly from: BreakerState; readonly to: BreakerState }
export type AdmitAnswer =
  | { readonly verdict: 'admitted'; readonly probe: boolean; readonly transition: Transition | undefined }
  /** `probing`: half-open, and another call holds the probe lease (it is finding out right now). */
  | {
      readonly verdict: 'open'
      readonly retryAfterMs: number
      readonly probing: boolean
      readonly transition: Transition | undefined
    }
  | { readonly verdict: 'budget'; readonly transition: Transition | undefined }
export interface RecordAnswer {
  readonly state: BreakerState
  readonly transition: Transition | undefined
}
export interface Inspection {
  readonly state: BreakerState
  readonly retryAfterMs: number
  readonly calls: number
  readonly failures: number
  readonly probes: number
}

export interface AdmitRequest {
  readonly retry: boolean
  readonly leaseMs: number
  readonly token: string
}

/** The two places the state can live; both apply exactly the same rules. */
export interface StateStore {
  admit(key: string, request: AdmitRequest): Promise<AdmitAnswer>
  record(key: string, verdict: Verdict, probeToken: string | undefined): Promise<RecordAnswer>
  inspect(key: string): Promise<Inspection>
}

/** How long a target's breaker state outlives its last change: an idle target is forgotten (closed). */
export function stateTtlMs(s: SharedStateSettings): number {
  return s.breakerWindowMs + 2 * s.breakerOpenMs
}
