// What a till of the chaos suite sends next: a new till batch, a replay of an earlier request, or events it
// was told were stored regrouped with new ones under a new key. Every choice comes from the till's seed, so
// the same run seed gives the same requests in the same order. Replays and regroups pick among what earlier
// answers confirmed, which faults decide; each request draws a fixed number of times, whatever it turns out
// to be, so an answer that differs between two runs changes that pick and nothing after it.
import { type PosEvent, PosEventSource } from '../bench/support/events.js'
import { type Random, seededEventIds, seededRandom } from '../bench/support/random.js'
import type { IngestAnswer, RequestKind } from './ledger.js'

export interface RequestShares {
  /** Shares of replays and of regrouped duplicates among the requests. */
  readonly replayShare: number
  readonly regroupShare: number
}

export interface PlannedRequest {
  readonly kind: RequestKind
  readonly idempotencyKey: string
  /** The exact bytes sent, on every attempt and in a replay. */
  readonly body: string
  readonly events: readonly PosEvent[]
}

/** The most events taken again into one regrouped batch. */
const REGROUPED_MAX = 3

export class TillRequests {
  readonly #choices: Random
  readonly #events: PosEventSource
  /** Events a 201 said are stored: candidates for regrouping. */
  readonly #stored: PosEvent[] = []
  readonly #storedIds = new Set<string>()
  /** Requests answered 201: candidates for replay. */
  readonly #answered: PlannedRequest[] = []
  readonly #answeredKeys = new Set<string>()
  #sequence = 0

  /**
   * @param device names the idempotency keys
   * @param stream this till's number in the run: its event ids cannot meet another till's
   * @param seed drawn from the run's seed
   */
  constructor(
    private readonly device: string,
    stream: number,
    seed: number,
    private readonly shares: RequestShares,
  ) {
    const seeds = seededRandom(seed)
    this.#choices = seededRandom(seeds.below(2 ** 31))
    this.#events = new PosEventSource(
      seededRandom(seeds.below(2 ** 31)),
      seededEventIds(seededRandom(seeds.below(2 ** 31)), stream),
    )
  }

  next(): PlannedRequest {
    // Drawn up front and all of them every time: see the header.
    const batch = this.#events.tillBatch()
    const roll = this.#choices.next()
    const replayPick = this.#choices.next()
    const regroupPicks = Array.from({ length: REGROUPED_MAX }, () => this.#choices.next())
    const regrouped = 1 + this.#choices.below(REGROUPED_MAX)
    const keySuffix = this.#choices.below(1e9)
    // Counted for replays too, so that a replay in one run and a new request in another share the number.
    const sequence = ++this.#sequence
    const { replayShare, regroupShare } = this.shares

    if (roll < replayShare && this.#answered.length > 0)
      return { ...this.#answered[Math.floor(replayPick * this.#answered.length)]!, kind: 'replay' }
    let kind: RequestKind = 'new'
    const events = [...batch]
    if (roll < replayShare + regroupShare && this.#stored.length > 0) {
      kind = 'regrouped'
      const again = new Set<PosEvent>()
      for (const pick of regroupPicks.slice(0, regrouped))
        again.add(this.#stored[Math.floor(pick * this.#stored.length)]!)
      events.push(...again)
    }
    const idempotencyKey = `${this.device}-${sequence}-${keySuffix}`
    return { kind, idempotencyKey, body: JSON.stringify({ events }), events }
  }

  /** A 201 came: the request may be replayed, and the events it said are stored may be regrouped. */
  answered(request: PlannedRequest, answer: IngestAnswer): void {
    if (!this.#answeredKeys.has(request.idempotencyKey)) {
      this.#answeredKeys.add(request.idempotencyKey)
      this.#answered.push(request)
    }
    const told = new Set([...answer.eventIds, ...answer.duplicateEventIds])
    for (const event of request.events) {
      if (!told.has(event.id) || this.#storedIds.has(event.id)) continue
      this.#storedIds.add(event.id)
      this.#stored.push(event)
    }
  }
}
