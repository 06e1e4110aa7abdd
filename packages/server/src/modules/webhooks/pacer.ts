// How many webhook attempts this replica's dispatcher may keep in flight, so that delivery yields to ingest
// when both share the process: the window narrows while API requests wait for a saturated event loop, and
// widens again once the loop has room or no request is waiting. Delivery then runs in the gaps of a saturating
// ingest and catches up afterwards. It never stops: the window keeps WEBHOOK_MIN_CONCURRENCY attempts (the
// floor), so a replica that stays busy still delivers, slowly, instead of not at all.
//
// The rule, once per 100 ms tick: halve the window under pressure, double it when relaxed, hold it in between
// (the band between ROOM and SATURATED keeps it from flapping). LoadSampler below reads the signal; the pacer
// is arithmetic over samples, so a test can drive it with made-up ones.
import { performance } from 'node:perf_hooks'

/** One tick's view of the process. */
export interface LoadSample {
  /** Event-loop utilisation over the tick, 0 to 1 (performance.eventLoopUtilization). */
  readonly loopBusy: number
  /** Whether API requests (ingest among them) were in flight during the tick. */
  readonly requestsWaiting: boolean
}

/** The loop is saturated at or above this utilisation: requests in flight are waiting for it. */
export const SATURATED = 0.9
/** Below this utilisation the loop has room: the window may widen even while requests come in. */
export const ROOM = 0.7

export class DeliveryPacer {
  #window: number

  constructor(
    /** WEBHOOK_CONCURRENCY: the window when nothing presses. */
    readonly ceiling: number,
    /** WEBHOOK_MIN_CONCURRENCY: the window never narrows below it. */
    readonly floor: number,
  ) {
    this.floor = Math.max(1, Math.min(floor, ceiling))
    this.#window = ceiling
  }

  /** Attempts that may be in flight now. */
  get window(): number {
    return this.#window
  }

  /** Whether the window is below its ceiling (delivery is yielding). */
  get yielding(): boolean {
    return this.#window < this.ceiling
  }

  /** Adapts the window to one tick's sample; answers the new window. */
  observe(sample: LoadSample): number {
    if (sample.requestsWaiting && sample.loopBusy >= SATURATED)
      this.#window = Math.max(this.floor, Math.floor(this.#window / 2))
    else if (!sample.requestsWaiting || sample.loopBusy < ROOM)
      this.#window = Math.min(this.ceiling, this.#window * 2)
    return this.#window
  }
}

/** Where the dispatcher's pacing reads the load: LoadSampler in production, a fake in tests. */
export interface LoadSignal {
  /** Called a few times per tick, between samples. */
  glance(): void
  /** The tick's sample; starts the next tick. */
  sample(): LoadSample
}

/** Reads a LoadSample per tick: the loop's utilisation, and the requests in flight seen at a few instants. */
export class LoadSampler implements LoadSignal {
  #lastUtilisation = performance.eventLoopUtilization()
  #sawRequests = false

  constructor(private readonly requestsInFlight: () => number) {}

  /** A request in flight at any of the tick's glances counts for the tick. */
  glance(): void {
    if (this.requestsInFlight() > 0) this.#sawRequests = true
  }

  sample(): LoadSample {
    this.glance()
    const now = performance.eventLoopUtilization()
    const loopBusy = performance.eventLoopUtilization(now, this.#lastUtilisation).utilization
    this.#lastUtilisation = now
    const requestsWaiting = this.#sawRequests
    this.#sawRequests = false
    return { loopBusy, requestsWaiting }
  }
}
