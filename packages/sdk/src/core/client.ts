// The device client: record() makes an event durable in the local queue, flush() delivers the queue in
// batches, each exactly once. A batch's Idempotency-Key and exact body are chosen when it is formed and stored
// with it before the first attempt, so every retry (after a timeout, a 5xx or a crash) sends the very same key
// and bytes and the server answers a replay instead of writing twice. What the server refuses (422) is moved
// aside with its problem and never blocks the rest; what it cannot take now (429, 503, 5xx, no network) waits
// with backoff; wrong credentials (401/403) stop delivery until the app gives new ones, dropping nothing.
import { createApi } from './api.js'
import { uuidV4, webCrypto } from './crypto.js'
import { Emitter } from './emitter.js'
import { ApiError, AuthError, type FailureSummary, ProtocolError, TransportError } from './errors.js'
import type {
  CryptoPort,
  IngestEvent,
  ProblemDocument,
  QueueStore,
  SecureStore,
  StoredBatch,
} from './ports.js'
import { type RemoteConfig, RemoteConfigPoller } from './remote-config.js'
import { backoffDelayMs, parseRetryAfter, rateLimitWaitMs } from './retry.js'
import { compareVersions } from './semver.js'
import { API_KEY, type FetchLike, problemOf, SIGNING_SECRET, Transport } from './transport.js'
import { SDK_VERSION } from './version.js'

/** An event as the app records it; the SDK assigns an id when it has none. */
export type NewEvent = Omit<IngestEvent, 'id'> & { readonly id?: string }

export interface ClientOptions {
  /** The server, e.g. https://pos.example.com */
  readonly baseUrl: string
  /** The source name the device ingests into (POST /v1/ingest/:source). */
  readonly source: string
  readonly queue: QueueStore
  readonly secrets: SecureStore
  /** HMAC and random bytes; WebCrypto unless given (React Native passes its own). */
  readonly crypto?: CryptoPort
  readonly fetch?: FetchLike
  /** Events per request, 1..500; the remote configuration may lower it. 100 unless given. */
  readonly maxBatchSize?: number
  /** The background flush interval; 0 turns the background flush off. 15 s unless given. */
  readonly flushIntervalMs?: number
  /** A request without an answer by then counts as failed (and is retried with the same key). 15 s. */
  readonly requestTimeoutMs?: number
  /** The first backoff step; 1 s unless given. */
  readonly retryBaseMs?: number
  /** The largest backoff delay; the remote configuration's retryCap may lower it. 5 min unless given. */
  readonly retryCapMs?: number
  /** How often the remote configuration is asked for; 5 min unless given. */
  readonly configPollMs?: number
  readonly now?: () => number
  readonly random?: () => number
}

export interface SyncStatus {
  /** Recorded and not yet in a batch. */
  readonly queued: number
  /** In batches formed and not yet answered. */
  readonly batched: number
  readonly rejected: number
  readonly lastError?: FailureSummary
  /** When the next attempt is due (ms since the epoch), while waiting after a failure. */
  readonly nextAttemptAt?: number
  /** Why delivery is paused, if it is: the remote configuration, or credentials the server refused. */
  readonly paused?: 'sync-disabled' | 'maintenance' | 'auth'
}

export interface ClientEvents extends Record<string, unknown> {
  status: SyncStatus
  /** A batch is being sent (`attempt` 1 the first time): for a "syncing…" indicator. */
  sending: { readonly events: number; readonly attempt: number }
  /** Events the server refused, with its problem; they are in `client.rejected()` until deleted. */
  rejected: { readonly eventIds: readonly string[]; readonly problem: ProblemDocument }
  'auth-error': AuthError
  /**
   * A batch the server stored (or had stored: `replayed`). `duplicateEventIds` are events of the batch the
   * server had stored before under another request: an app that recorded the same event id twice.
   */
  flushed: {
    readonly events: number
    readonly replayed: boolean
    readonly duplicateEventIds: readonly string[]
  }
  /** This SDK is older than the server's minSdkVersion. */
  outdated: { readonly sdkVersion: string; readonly minSdkVersion: string }
  /** A failure of the background flush or a protocol error, for the app's logs. */
  error: FailureSummary
}

export interface FlushReport {
  /** Events the server stored or had stored. */
  readonly delivered: number
  readonly rejected: number
  /** Why the flush stopped before the queue was empty, if it did. */
  readonly stoppedBy?: 'backoff' | 'sync-disabled' | 'maintenance'
}

type Outcome =
  | { readonly kind: 'done'; readonly events: number }
  | { readonly kind: 'rejected'; readonly events: number }
  | { readonly kind: 'requeued' }
  | { readonly kind: 'wait'; readonly until: number }

const MAX_BATCH = 500

export class DeviceClient extends Emitter<ClientEvents> {
  readonly source: string
  readonly api: ReturnType<typeof createApi>
  readonly #queue: QueueStore
  readonly #secrets: SecureStore
  readonly #crypto: CryptoPort
  readonly #transport: Transport
  readonly #config: RemoteConfigPoller
  readonly #o: Required<
    Pick<ClientOptions, 'maxBatchSize' | 'flushIntervalMs' | 'retryBaseMs' | 'retryCapMs' | 'now' | 'random'>
  >
  #flushing: Promise<FlushReport> | undefined
  #queuedFlush: Promise<FlushReport> | undefined
  #timer: ReturnType<typeof setTimeout> | undefined
  #running = false
  #authStopped: AuthError | undefined
  #lastError: FailureSummary | undefined
  #nextAttemptAt: number | undefined
  /**
   * Set after a 422/413 that named no event: the next batches are halved until the refused event is alone in
   * one (then it is set aside) or the queue is empty.
   */
  #isolating: number | undefined
  #ignoreBackoff = false
  /** Not before this time (ms since the epoch) for any batch: what the server asked for. */
  #pausedUntil = 0
  #outdatedFor: string | undefined

  constructor(options: ClientOptions) {
    super()
    this.source = options.source
    this.#queue = options.queue
    this.#secrets = options.secrets
    this.#crypto = options.crypto ?? webCrypto()
    const now = options.now ?? Date.now
    this.#o = {
      maxBatchSize: Math.min(MAX_BATCH, Math.max(1, options.maxBatchSize ?? 100)),
      flushIntervalMs: options.flushIntervalMs ?? 15_000,
      retryBaseMs: options.retryBaseMs ?? 1_000,
      retryCapMs: options.retryCapMs ?? 300_000,
      now,
      random: options.random ?? Math.random,
    }
    this.#transport = new Transport({
      baseUrl: options.baseUrl,
      secrets: options.secrets,
      crypto: this.#crypto,
      fetch: options.fetch ?? ((input, init) => fetch(input, init)),
      timeoutMs: options.requestTimeoutMs ?? 15_000,
      now,
    })
    this.#config = new RemoteConfigPoller(
      this.#transport,
      options.queue,
      options.source,
      options.configPollMs ?? 300_000,
      now,
    )
    this.api = createApi(this.#transport, options.queue, this.#crypto)
  }

  /** The typed read API and the change feed (also under `api`). */
  get products() {
    return this.api.products
  }
  get inventory() {
    return this.api.inventory
  }
  get orders() {
    return this.api.orders
  }
  get events() {
    return this.api.events
  }

  /**
   * Stores the event in the local queue and resolves with its id once it is durable: from then on a crash or
   * a power cut does not lose it. Recording never needs the network nor the credentials.
   */
  async record(event: NewEvent): Promise<string> {
    const id = event.id ?? uuidV4(this.#crypto)
    const stored: IngestEvent = { id, type: event.type, occurredAt: event.occurredAt, data: event.data }
    await this.#queue.append([stored], this.#o.now())
    this.#emitStatus()
    return id
  }

  /** Stores the credentials in the secure store and lets a delivery stopped by an AuthError go on. */
  async setCredentials(credentials: { apiKey: string; signingSecret?: string | null }): Promise<void> {
    await this.#secrets.set(API_KEY, credentials.apiKey)
    if (credentials.signingSecret === null) await this.#secrets.delete(SIGNING_SECRET)
    else if (credentials.signingSecret !== undefined)
      await this.#secrets.set(SIGNING_SECRET, credentials.signingSecret)
    this.#authStopped = undefined
    this.#emitStatus()
  }

  /** Starts the background flush (on the interval) and a first flush now. */
  start(): void {
    if (this.#running || this.#o.flushIntervalMs <= 0) return
    this.#running = true
    this.#schedule(0)
  }

  /** Stops the background flush and waits for a flush in progress. The queue store stays open. */
  async stop(): Promise<void> {
    this.#running = false
    if (this.#timer !== undefined) clearTimeout(this.#timer)
    this.#timer = undefined
    await this.#queuedFlush?.catch(() => undefined)
    await this.#flushing?.catch(() => undefined)
  }

  /** The app saw the network come back: flush now, without waiting for a backoff after network failures. */
  networkRestored(): Promise<FlushReport> {
    this.#ignoreBackoff = true
    return this.flush()
  }

  /**
   * Delivers the queue. Never two at once: a call during a flush gets one more flush after it (which also
   * takes what was recorded meanwhile). Rejects with AuthError when the credentials were refused.
   */
  flush(): Promise<FlushReport> {
    if (this.#flushing === undefined) {
      const run = this.#flush().finally(() => {
        this.#flushing = undefined
      })
      this.#flushing = run
      return run
    }
    this.#queuedFlush ??= this.#flushing
      .catch(() => undefined)
      .then(() => {
        this.#queuedFlush = undefined
        return this.flush()
      })
    return this.#queuedFlush
  }

  async status(): Promise<SyncStatus> {
    const counts = await this.#queue.counts()
    const config = this.#config.current
    const paused = this.#authStopped
      ? ('auth' as const)
      : !config.syncEnabled
        ? ('sync-disabled' as const)
        : config.maintenanceMode
          ? ('maintenance' as const)
          : undefined
    return {
      ...counts,
      ...(this.#lastError === undefined ? {} : { lastError: this.#lastError }),
      ...(this.#nextAttemptAt === undefined ? {} : { nextAttemptAt: this.#nextAttemptAt }),
      ...(paused === undefined ? {} : { paused }),
    }
  }

  /** The configuration the server gave (or the defaults). */
  get remoteConfig(): RemoteConfig {
    return this.#config.current
  }

  rejected(limit = 100) {
    return this.#queue.rejected(limit)
  }

  async #flush(): Promise<FlushReport> {
    if (this.#authStopped !== undefined) throw this.#authStopped
    const ignoreBackoff = this.#ignoreBackoff
    this.#ignoreBackoff = false
    await this.#refreshConfig()
    const config = this.#config.current
    if (!config.syncEnabled || config.maintenanceMode) {
      this.#emitStatus()
      return { delivered: 0, rejected: 0, stoppedBy: config.syncEnabled ? 'maintenance' : 'sync-disabled' }
    }
    let delivered = 0
    let rejected = 0
    try {
      for (;;) {
        const now = this.#o.now()
        if (this.#pausedUntil > now) {
          this.#nextAttemptAt = this.#pausedUntil
          return { delivered, rejected, stoppedBy: 'backoff' }
        }
        const batch = (await this.#queue.openBatches())[0] ?? (await this.#formBatch())
        if (batch === undefined) break
        if (batch.notBefore > now && !ignoreBackoff) {
          this.#nextAttemptAt = batch.notBefore
          return { delivered, rejected, stoppedBy: 'backoff' }
        }
        const outcome = await this.#send(batch)
        if (outcome.kind === 'done') delivered += outcome.events
        if (outcome.kind === 'rejected') rejected += outcome.events
        if (outcome.kind === 'wait') {
          this.#nextAttemptAt = outcome.until
          return { delivered, rejected, stoppedBy: 'backoff' }
        }
        this.#nextAttemptAt = undefined
      }
      this.#lastError = undefined
      return { delivered, rejected }
    } finally {
      this.#emitStatus()
    }
  }

  /** Forms the next batch from the oldest unbatched records and stores it, key and bytes, before any send. */
  async #formBatch(): Promise<StoredBatch | undefined> {
    const size = Math.min(
      this.#o.maxBatchSize,
      this.#config.current.maxBatchSize,
      this.#isolating ?? MAX_BATCH,
    )
    const records = await this.#queue.unbatched(size)
    if (records.length === 0) {
      this.#isolating = undefined
      return undefined
    }
    const batch: StoredBatch = {
      key: `sdk-${uuidV4(this.#crypto)}`,
      body: JSON.stringify({ events: records.map((r) => r.event) }),
      seqs: records.map((r) => r.seq),
      createdAt: this.#o.now(),
      attempts: 0,
      notBefore: 0,
    }
    await this.#queue.saveBatch(batch)
    return batch
  }

  async #send(batch: StoredBatch): Promise<Outcome> {
    this.emit('sending', { events: batch.seqs.length, attempt: batch.attempts + 1 })
    let response: Response
    try {
      response = await this.#transport.send('POST', `/v1/ingest/${encodeURIComponent(this.source)}`, {
        body: batch.body,
        sign: true,
        headers: { 'idempotency-key': batch.key },
      })
    } catch (error) {
      if (error instanceof AuthError) return this.#stopForAuth(error)
      const timedOut = error instanceof TransportError && error.message.startsWith('No answer')
      return this.#retryLater(batch, {
        kind: timedOut ? 'timeout' : 'network',
        message: (error as Error).message,
      })
    }
    const status = response.status
    if (status === 200 || status === 201 || status === 204) {
      const answer = (await response.json().catch(() => ({}))) as { duplicateEventIds?: unknown }
      await this.#queue.completeBatch(batch.key)
      const replayed = response.headers.get('idempotent-replayed') === 'true'
      const duplicateEventIds = Array.isArray(answer.duplicateEventIds) ? answer.duplicateEventIds : []
      this.emit('flushed', { events: batch.seqs.length, replayed, duplicateEventIds })
      // The window is used up: the next batch waits for its reset instead of a certain 429.
      const wait = rateLimitWaitMs(response.headers)
      if (wait !== undefined && wait > 0) await this.#wait(batch, this.#o.now() + wait, false)
      return { kind: 'done', events: batch.seqs.length }
    }
    const problem = await problemOf(response)
    const summary = (kind: FailureSummary['kind'], message: string): Omit<FailureSummary, 'at'> => ({
      kind,
      message,
      status,
      ...(problem === undefined ? {} : { problemType: problem.type }),
    })
    if (status === 401 || status === 403) return this.#stopForAuth(new AuthError(status, problem))
    if (status === 429 || status === 503) {
      const now = this.#o.now()
      const asked = Math.max(
        parseRetryAfter(response.headers.get('retry-after'), now) ?? 0,
        rateLimitWaitMs(response.headers) ?? 0,
      )
      const kind = status === 429 ? 'rate-limited' : 'server'
      if (asked > 0)
        return this.#wait(batch, now + asked, true, summary(kind, `The server asked to wait (${status})`))
      return this.#retryLater(batch, summary(kind, `The server answered ${status}`))
    }
    if (status === 422 || status === 413 || status === 400) return this.#refused(batch, status, problem)
    return this.#retryLater(
      batch,
      summary(status >= 500 ? 'server' : 'client', `The server answered ${status}`),
    )
  }

  /**
   * The server refused the request and wrote nothing (a 4xx is decided before any write). The events its
   * problem points at (`/events/<i>/…`) are set aside with it; the others go back to the queue and form a new
   * batch with a new key, which is safe because nothing was stored under the old one. A problem that names no
   * event makes the next batches half as big until the refused event is alone in one.
   */
  async #refused(batch: StoredBatch, status: number, problem: ProblemDocument | undefined): Promise<Outcome> {
    const doc: ProblemDocument = problem ?? { type: 'about:blank', title: `HTTP ${status}`, status }
    const now = this.#o.now()
    if (doc.type.endsWith('/idempotency-key-reused')) {
      // Never for an SDK batch (its key is random and sent only with its own bytes): report it, and queue the
      // events again under a new key, which the server's per-event-id deduplication makes safe.
      const error = new ProtocolError(
        status,
        doc,
        'The server says this batch key was used with another body',
      )
      this.#fail({ kind: 'protocol', message: error.message, status, problemType: doc.type }, true)
      await this.#queue.rejectFromBatch(batch.key, [], now)
      // Not at once: were the server to say it again, a loop of requests would follow.
      this.#pausedUntil = now + this.#o.retryCapMs
      return { kind: 'wait', until: this.#pausedUntil }
    }
    const indexes = new Set<number>()
    for (const issue of doc.errors ?? []) {
      const match = /^\/events\/(\d+)(?:\/|$)/.exec(issue.pointer)
      if (match !== null && Number(match[1]) < batch.seqs.length) indexes.add(Number(match[1]))
    }
    if (indexes.size === 0 && batch.seqs.length > 1) {
      this.#isolating = Math.ceil(batch.seqs.length / 2)
      await this.#queue.rejectFromBatch(batch.key, [], now)
      return { kind: 'requeued' }
    }
    if (indexes.size === 0) {
      // The refused event is alone in its batch: found, and the batches grow back to their size.
      indexes.add(0)
      this.#isolating = undefined
    }
    const refused = [...indexes].map((i) => ({ seq: batch.seqs[i] as number, problem: doc }))
    const refusedSeqs = new Set(refused.map((r) => r.seq))
    const events = (await this.#queue.batchRecords(batch.key))
      .filter((r) => refusedSeqs.has(r.seq))
      .map((r) => r.event.id)
    await this.#queue.rejectFromBatch(batch.key, refused, now)
    this.emit('rejected', { eventIds: events, problem: doc })
    return { kind: 'rejected', events: refused.length }
  }

  async #retryLater(batch: StoredBatch, failure: Omit<FailureSummary, 'at'>): Promise<Outcome> {
    const cap = Math.min(this.#o.retryCapMs, this.#config.current.retryCap * 1000)
    const delay = backoffDelayMs(batch.attempts, this.#o.retryBaseMs, cap, this.#o.random)
    return this.#wait(batch, this.#o.now() + delay, true, failure)
  }

  async #wait(
    batch: StoredBatch,
    until: number,
    failed: boolean,
    failure?: Omit<FailureSummary, 'at'>,
  ): Promise<Outcome> {
    if (failed) {
      await this.#queue.deferBatch(batch.key, batch.attempts + 1, until)
      if (failure !== undefined) this.#fail(failure, false)
    }
    // The server's own word (Retry-After, an exhausted rate limit window) holds for every batch.
    if (!failed || failure?.kind === 'rate-limited' || failure?.status === 503) this.#pausedUntil = until
    return { kind: 'wait', until }
  }

  #stopForAuth(error: AuthError): Outcome {
    this.#authStopped = error
    this.#fail({ kind: 'auth', message: error.message, status: error.status }, false)
    this.emit('auth-error', error)
    throw error
  }

  #fail(failure: Omit<FailureSummary, 'at'>, report: boolean): void {
    this.#lastError = { ...failure, at: this.#o.now() }
    if (report) this.emit('error', this.#lastError)
  }

  async #refreshConfig(): Promise<void> {
    try {
      await this.#config.refreshIfDue()
    } catch (error) {
      if (error instanceof AuthError) this.#stopForAuth(error)
      // Unreachable or failing: the last configuration stays in force, delivery finds out about the network.
      return
    }
    const min = this.#config.current.minSdkVersion
    if (min !== null && min !== this.#outdatedFor && (compareVersions(SDK_VERSION, min) ?? 0) < 0) {
      this.#outdatedFor = min
      this.emit('outdated', { sdkVersion: SDK_VERSION, minSdkVersion: min })
    }
  }

  #schedule(delayMs: number): void {
    if (!this.#running) return
    if (this.#timer !== undefined) clearTimeout(this.#timer)
    this.#timer = setTimeout(() => {
      this.#timer = undefined
      this.flush().then(
        () => this.#schedule(this.#interval()),
        (error: unknown) => {
          if (!(error instanceof AuthError) && !(error instanceof ApiError)) {
            this.#fail({ kind: 'client', message: (error as Error).message ?? 'flush failed' }, true)
          }
          this.#schedule(this.#interval())
        },
      )
    }, delayMs)
    // A background flush must not keep a Node process alive on its own.
    ;(this.#timer as { unref?: () => void }).unref?.()
  }

  /** The delay to the next background flush: the interval, or sooner when a retry is due sooner. */
  #interval(): number {
    const interval = Math.max(this.#o.flushIntervalMs, this.#config.current.minFlushIntervalSec * 1000)
    if (this.#nextAttemptAt === undefined) return interval
    return Math.max(1, Math.min(interval, this.#nextAttemptAt - this.#o.now()))
  }

  #emitStatus(): void {
    if (!this.listening('status')) return
    this.status().then(
      (status) => this.emit('status', status),
      () => undefined,
    )
  }
}

export function createClient(options: ClientOptions): DeviceClient {
  return new DeviceClient(options)
}
