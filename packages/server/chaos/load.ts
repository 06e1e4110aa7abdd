// The chaos suite's load: tills sending signed ingest requests round robin across the replicas, each with its
// own tenant and its own ledger of what it was told. Besides new till batches, a till replays an earlier
// request (same Idempotency-Key, same bytes: the original answer must come back) and regroups events it was
// told were stored into a new batch under a new key (they must come back as duplicates). It retries as a real
// device would: on 503, 429 and connection errors, the same key and bytes, a bounded number of times.
import { setTimeout as sleep } from 'node:timers/promises'
import { type PosEvent, tillBatch } from '../bench/support/events.js'
import { type IngestCredentials, ingestHeaders } from '../bench/support/ingest-client.js'
import type { Fleet } from './fleet.js'
import type { Attempt, DeviceLedger, IngestAnswer, RequestKind, RequestRecord } from './ledger.js'
import type { Random } from './random.js'

export interface TillOptions {
  /** Attempts of one request, the first included, before the till gives up on it. */
  readonly maxAttempts: number
  /** How long one attempt may wait for its answer. */
  readonly attemptTimeoutMs: number
  /** The longest pause between two requests of a till. */
  readonly thinkMs: number
  /** Shares of replays and of regrouped duplicates among the requests. */
  readonly replayShare: number
  readonly regroupShare: number
}

const RETRY_WAIT_CAP_MS = 2000
const RETRY_WAIT_BASE_MS = 100

interface Sendable {
  readonly idempotencyKey: string
  readonly body: string
}

export class Till {
  readonly ledger: DeviceLedger
  /** Events a 201 said are stored: candidates for regrouping. */
  readonly #stored: PosEvent[] = []
  readonly #storedIds = new Set<string>()
  /** Requests answered 201: candidates for replay. */
  readonly #answered: Sendable[] = []
  readonly #answeredKeys = new Set<string>()
  #sequence = 0

  constructor(
    name: string,
    private readonly credentials: IngestCredentials,
    private readonly fleet: Fleet,
    private readonly random: Random,
    private readonly options: TillOptions,
  ) {
    this.ledger = { device: name, tenantId: credentials.tenantId, sent: new Map(), requests: [] }
  }

  /** Sends requests one after another until `running()` turns false; the request in flight is finished. */
  async run(running: () => boolean): Promise<void> {
    while (running()) {
      await this.#sendOne()
      await sleep(this.random.below(this.options.thinkMs + 1))
    }
  }

  #sendOne(): Promise<void> {
    const roll = this.random.next()
    if (roll < this.options.replayShare && this.#answered.length > 0) {
      const earlier = this.random.pick(this.#answered)
      const events = (JSON.parse(earlier.body) as { events: PosEvent[] }).events
      return this.#send('replay', earlier, events)
    }
    const events = tillBatch()
    let kind: RequestKind = 'new'
    if (roll < this.options.replayShare + this.options.regroupShare && this.#stored.length > 0) {
      kind = 'regrouped'
      const again = new Set<PosEvent>()
      const count = 1 + this.random.below(3)
      for (let i = 0; i < count; i++) again.add(this.random.pick(this.#stored))
      events.push(...again)
    }
    const idempotencyKey = `${this.ledger.device}-${++this.#sequence}-${this.random.below(1e9)}`
    return this.#send(kind, { idempotencyKey, body: JSON.stringify({ events }) }, events)
  }

  async #send(kind: RequestKind, sendable: Sendable, events: readonly PosEvent[]): Promise<void> {
    for (const event of events) this.ledger.sent.set(event.id, event)
    const record: RequestRecord = {
      kind,
      idempotencyKey: sendable.idempotencyKey,
      eventIds: events.map((event) => event.id),
      attempts: [],
    }
    this.ledger.requests.push(record)
    for (let n = 0; n < this.options.maxAttempts; n++) {
      const target = this.fleet.next()
      if (target === undefined) {
        await sleep(200)
        continue
      }
      const attempt = await this.#attempt(target, sendable)
      record.attempts.push(attempt.attempt)
      if (attempt.answer !== undefined) {
        record.answer = attempt.answer
        record.replayed = attempt.attempt.replayed
        this.#remember(sendable, attempt.answer, events)
        return
      }
      const { status, retryAfter } = attempt.attempt
      if (status !== 'error' && status !== 503 && status !== 429) return
      const backoff = Math.min(RETRY_WAIT_CAP_MS, RETRY_WAIT_BASE_MS * 2 ** n)
      const told = retryAfter === null ? Number.NaN : Number(retryAfter) * 1000
      const wait = Number.isFinite(told) ? Math.min(RETRY_WAIT_CAP_MS, told) : backoff
      await sleep(wait * (0.5 + this.random.next() / 2))
    }
  }

  async #attempt(
    target: { slot: number; url: string },
    sendable: Sendable,
  ): Promise<{ attempt: Attempt; answer?: IngestAnswer }> {
    const startedAt = Date.now()
    try {
      const response = await fetch(`${target.url}/v1/ingest/${this.credentials.sourceName}`, {
        method: 'POST',
        headers: ingestHeaders(this.credentials, sendable.idempotencyKey, sendable.body),
        body: sendable.body,
        signal: AbortSignal.timeout(this.options.attemptTimeoutMs),
      })
      const text = await response.text()
      const attempt: Attempt = {
        replica: target.slot,
        startedAt,
        endedAt: Date.now(),
        status: response.status,
        retryAfter: response.headers.get('retry-after'),
        replayed: response.headers.get('idempotent-replayed') === 'true',
        ...(response.status !== 201 && { detail: problemType(text) }),
      }
      if (response.status !== 201) return { attempt }
      const { eventIds, duplicateEventIds } = JSON.parse(text) as IngestAnswer
      return { attempt, answer: { eventIds, duplicateEventIds } }
    } catch (err) {
      return {
        attempt: {
          replica: target.slot,
          startedAt,
          endedAt: Date.now(),
          status: 'error',
          retryAfter: null,
          replayed: false,
          detail: connectionError(err),
        },
      }
    }
  }

  #remember(sendable: Sendable, answer: IngestAnswer, events: readonly PosEvent[]): void {
    if (!this.#answeredKeys.has(sendable.idempotencyKey)) {
      this.#answeredKeys.add(sendable.idempotencyKey)
      this.#answered.push(sendable)
    }
    const told = new Set([...answer.eventIds, ...answer.duplicateEventIds])
    for (const event of events) {
      if (!told.has(event.id) || this.#storedIds.has(event.id)) continue
      this.#storedIds.add(event.id)
      this.#stored.push(event)
    }
  }
}

function problemType(text: string): string {
  try {
    return String((JSON.parse(text) as { type?: unknown }).type ?? text.slice(0, 120))
  } catch {
    return text.slice(0, 120)
  }
}

function connectionError(err: unknown): string {
  if (!(err instanceof Error)) return String(err)
  const cause = err.cause as { code?: unknown } | undefined
  return typeof cause?.code === 'string' ? cause.code : err.name
}
