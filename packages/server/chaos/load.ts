// The chaos suite's load: tills sending signed ingest requests round robin across the replicas, each with its
// own tenant and its own ledger of what it was told. Besides new till batches, a till replays an earlier
// request (same Idempotency-Key, same bytes: the original answer must come back) and regroups events it was
// told were stored into a new batch under a new key (they must come back as duplicates): what it sends is
// chosen in requests.ts. It retries as a real device would: on 503, 429 and connection errors, the same key
// and bytes, a bounded number of times.
import { setTimeout as sleep } from 'node:timers/promises'
import { type IngestCredentials, ingestHeaders } from '../bench/support/ingest-client.js'
import { type Random, seededRandom } from '../bench/support/random.js'
import type { Fleet } from './fleet.js'
import type { Attempt, DeviceLedger, IngestAnswer, RequestRecord } from './ledger.js'
import { type PlannedRequest, type RequestShares, TillRequests } from './requests.js'

export interface TillOptions extends RequestShares {
  /** Attempts of one request, the first included, before the till gives up on it. */
  readonly maxAttempts: number
  /** How long one attempt may wait for its answer. */
  readonly attemptTimeoutMs: number
  /** The longest pause between two requests of a till. */
  readonly thinkMs: number
}

const RETRY_WAIT_CAP_MS = 2000
const RETRY_WAIT_BASE_MS = 100

export class Till {
  readonly ledger: DeviceLedger
  readonly #requests: TillRequests
  /** Pauses and retry jitter: drawn apart from the requests, so that timing cannot shift what is sent. */
  readonly #timing: Random

  /**
   * @param stream the till's number in the run (its event ids are its own)
   * @param seed drawn from the run's seed: the till's requests and its pauses follow from it
   */
  constructor(
    name: string,
    stream: number,
    seed: number,
    private readonly credentials: IngestCredentials,
    private readonly fleet: Fleet,
    private readonly options: TillOptions,
  ) {
    this.ledger = { device: name, tenantId: credentials.tenantId, sent: new Map(), requests: [] }
    const seeds = seededRandom(seed)
    this.#requests = new TillRequests(name, stream, seeds.below(2 ** 31), options)
    this.#timing = seededRandom(seeds.below(2 ** 31))
  }

  /** Sends requests one after another until `running()` turns false; the request in flight is finished. */
  async run(running: () => boolean): Promise<void> {
    while (running()) {
      await this.#send(this.#requests.next())
      await sleep(this.#timing.below(this.options.thinkMs + 1))
    }
  }

  async #send(sendable: PlannedRequest): Promise<void> {
    for (const event of sendable.events) this.ledger.sent.set(event.id, event)
    const record: RequestRecord = {
      kind: sendable.kind,
      idempotencyKey: sendable.idempotencyKey,
      eventIds: sendable.events.map((event) => event.id),
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
        this.#requests.answered(sendable, attempt.answer)
        return
      }
      const { status, retryAfter } = attempt.attempt
      if (status !== 'error' && status !== 503 && status !== 429) return
      const backoff = Math.min(RETRY_WAIT_CAP_MS, RETRY_WAIT_BASE_MS * 2 ** n)
      const told = retryAfter === null ? Number.NaN : Number(retryAfter) * 1000
      const wait = Number.isFinite(told) ? Math.min(RETRY_WAIT_CAP_MS, told) : backoff
      await sleep(wait * (0.5 + this.#timing.next() / 2))
    }
  }

  async #attempt(
    target: { slot: number; url: string },
    sendable: PlannedRequest,
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
