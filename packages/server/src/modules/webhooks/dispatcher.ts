// The webhook dispatcher: runs on every replica, from app ready to app close, and shares the work through
// PostgreSQL (statements.ts), never through memory. Two loops:
// 1. fan-out reads each tenant's committed events after the tenant's cursor and creates their deliveries, in
//    the transaction that advances the cursor (nothing is added to the ingest write path), then wakes 2;
// 2. delivery keeps up to WEBHOOK_CONCURRENCY attempts in flight: it leases due deliveries in batches whenever
//    enough attempts have finished, makes one attempt each through the outbound layer (timeouts, the fleet's
//    breaker per endpoint), signed as Standard Webhooks, and records the outcomes under their leases, many per
//    statement (a group commit: outcomes that arrive while one statement is written share the next).
// The attempts in flight are bounded by a window that narrows while API requests wait for a saturated event
// loop, down to WEBHOOK_MIN_CONCURRENCY, and widens back to WEBHOOK_CONCURRENCY (pacer.ts): delivery yields to
// ingest in the same process and catches up afterwards.
// A loop that found work in the last BUSY_WINDOW_MS looks again every BUSY_POLL_MS; an idle one waits
// WEBHOOK_POLL_INTERVAL_MS. A replica killed mid-attempt leaves leases that expire: another replica makes those
// attempts (at least once).
import { randomUUID } from 'node:crypto'
import { setMaxListeners } from 'node:events'
import { setTimeout as sleep } from 'node:timers/promises'
import type { Logger } from 'pino'
import type { Agent } from 'undici'
import type { WebhookSettings } from '../../config.js'
import type { DatabaseHandle } from '../../platform/database.js'
import { TIMED_OUT, withDeadline } from '../../platform/deadline.js'
import { GroupCommitter } from '../../platform/group-commit.js'
import type { Lifecycle } from '../../platform/lifecycle.js'
import {
  timedQuery,
  webhookDeadLettersTotal,
  webhookDeliveriesTotal,
  webhookDeliveryWindow,
  webhookFanOutTotal,
} from '../../platform/metrics.js'
import type { Outbound, OutboundOutcome } from '../../platform/outbound/outbound.js'
import type { Secrets } from '../../platform/secrets.js'
import { toColumnArrays } from '../../platform/sql.js'
import { Wakeup } from '../../platform/wakeup.js'
import { DeliveryPacer, type LoadSignal } from './pacer.js'
import { activeSecrets, type WebhooksRepository } from './repository.js'
import { signatureHeader } from './signature.js'
import {
  CLAIM_DUE,
  type ClaimedRow,
  FAN_OUT,
  SETTLE,
  type SettleRow,
  TENANTS_WITH_CURSORS,
} from './statements.js'
import { deliveryAgent, refusedAtConnect } from './target-guard.js'

/** Events read per fan-out statement, and statements per tenant before the next tenant's turn. */
const FAN_OUT_BATCH = 1000
const FAN_OUT_ROUNDS = 10
/**
 * A claim waits until this many attempts (or half of the window: WEBHOOK_CONCURRENCY unless delivery yields) are
 * free, then leases as many deliveries as there are free attempts: few statements, and the attempts in flight
 * never run dry.
 */
const CLAIM_AT_LEAST = 100
/** Outcomes one settle statement records at most. */
const SETTLE_BATCH = 500
/** A loop that found work this recently looks again after BUSY_POLL_MS, not the poll interval. */
const BUSY_WINDOW_MS = 5000
const BUSY_POLL_MS = 20
const STOP_TIMEOUT_MS = 5000
/** The pacer's tick, and how often within it the requests in flight are looked at. */
const PACE_TICK_MS = 100
const PACE_GLANCES_PER_TICK = 5
/** The error of an attempt the endpoint's open breaker refused (no request was made). */
const BREAKER_OPEN_ERROR = 'circuit breaker open'
/** Signing secrets kept decrypted, by their stored (encrypted) form; the cache is emptied when it is full. */
const DECRYPTED_SECRETS_KEPT = 10_000

export interface DispatcherOptions {
  readonly database: DatabaseHandle
  readonly secrets: Secrets
  readonly outbound: Outbound
  readonly repository: WebhooksRepository
  readonly settings: WebhookSettings
  readonly lifecycle: Lifecycle
  readonly log: Logger
  /** The user-agent header of every delivery. */
  readonly userAgent: string
  /** The process's load: delivery yields while API requests wait for a saturated event loop. */
  readonly load: LoadSignal
}

/** What one attempt came to, for the delivery row. */
interface Settlement {
  readonly status: 'pending' | 'succeeded' | 'failed'
  /** false: the attempt is not recorded nor counted (postponed before any request). */
  readonly counted: boolean
  readonly delayMs: number
  readonly statusCode: number | null
  readonly durationMs: number
  readonly error: string | null
  readonly metric: 'succeeded' | 'failed' | 'dead' | 'gone' | 'refused' | 'postponed'
}

/** The attempt is not made nor counted: the delivery is due again after `delayMs`. */
function postponed(delayMs: number): Settlement {
  return {
    status: 'pending',
    counted: false,
    delayMs,
    statusCode: null,
    durationMs: 0,
    error: null,
    metric: 'postponed',
  }
}

interface Outcome {
  readonly row: ClaimedRow
  readonly token: string
  readonly attemptedAt: Date
  readonly settlement: Settlement
}

export class WebhookDispatcher {
  readonly #options: DispatcherOptions
  readonly #agent: Agent
  readonly #stop = new AbortController()
  /** Outcomes recorded together: one statement for all that arrived while the previous one was written. */
  readonly #settler: GroupCommitter<Outcome, boolean>
  /** Wakes the delivery loop: the fan-out created deliveries, or enough attempts finished to claim more. */
  readonly #deliveriesWaiting = new Wakeup()
  readonly #attempts = new Set<Promise<void>>()
  readonly #pacer: DeliveryPacer
  #pacing: NodeJS.Timeout | undefined
  /** Decrypting each attempt's secrets again cost as much as signing: they change only on rotation. */
  readonly #decrypted = new Map<string, string>()
  readonly #secrets: Pick<Secrets, 'decrypt'> = {
    decrypt: (stored, aad) => {
      const key = `${aad}\n${stored}`
      let secret = this.#decrypted.get(key)
      if (secret === undefined) {
        secret = this.#options.secrets.decrypt(stored, aad)
        if (this.#decrypted.size >= DECRYPTED_SECRETS_KEPT) this.#decrypted.clear()
        this.#decrypted.set(key, secret)
      }
      return secret
    },
  }
  #lastWorkAt = Number.NEGATIVE_INFINITY
  #running: Promise<void> | undefined

  constructor(options: DispatcherOptions) {
    this.#options = options
    const { concurrency, minConcurrency } = options.settings
    this.#pacer = new DeliveryPacer(concurrency, minConcurrency)
    webhookDeliveryWindow.set(concurrency)
    // Every attempt in flight listens to the stop signal (the outbound layer's abort).
    setMaxListeners(concurrency + 16, this.#stop.signal)
    this.#agent = deliveryAgent(options.settings, options.settings.timeoutMs, (hostname, address) =>
      options.log.warn({ hostname, address }, 'webhook target refused at connect: forbidden address'),
    )
    this.#settler = new GroupCommitter((batch) => this.#settle(batch), {
      concurrency: 1,
      maxWeight: SETTLE_BATCH,
      weight: () => 1,
    })
  }

  start(): void {
    if (this.#running !== undefined) return
    this.#running = Promise.all([this.#fanOutLoop(), this.#deliveryLoop()]).then(() => undefined)
    if (this.#pacer.floor < this.#pacer.ceiling) this.#pacing = this.#pace()
  }

  /** Looks at the load PACE_GLANCES_PER_TICK times per tick and adapts the window once per tick. */
  #pace(): NodeJS.Timeout {
    let glances = 0
    const timer = setInterval(() => {
      if (++glances < PACE_GLANCES_PER_TICK) {
        this.#options.load.glance()
        return
      }
      glances = 0
      const before = this.#pacer.window
      const window = this.#pacer.observe(this.#options.load.sample())
      if (window === before) return
      webhookDeliveryWindow.set(window)
      if (window > before) this.#deliveriesWaiting.wake()
    }, PACE_TICK_MS / PACE_GLANCES_PER_TICK)
    timer.unref()
    return timer
  }

  /** Attempts that may start now: the pacer's window, less those in flight. */
  #freeAttempts(): number {
    return this.#pacer.window - this.#attempts.size
  }

  /** Whether `free` attempts are enough to claim for (see CLAIM_AT_LEAST). */
  #enoughToClaim(free: number): boolean {
    return free >= Math.min(CLAIM_AT_LEAST, Math.ceil(this.#pacer.window / 2))
  }

  /**
   * Stops taking work, aborts the attempts in flight (their deliveries stay pending, no attempt spent) and
   * waits for the loops and the attempts to be recorded, at most STOP_TIMEOUT_MS: a database that does not
   * answer must not hold the shutdown (the leases expire and another replica takes the work).
   */
  async stop(): Promise<void> {
    this.#stop.abort()
    clearInterval(this.#pacing)
    const settled = (this.#running ?? Promise.resolve()).then(() => Promise.allSettled(this.#attempts))
    if ((await withDeadline(settled, STOP_TIMEOUT_MS)) === TIMED_OUT)
      this.#options.log.warn({ timeoutMs: STOP_TIMEOUT_MS }, 'webhook dispatcher did not stop in time')
    await this.#agent.destroy().catch(() => undefined)
  }

  /** Attempts this replica may have in flight now (the pacer's window). */
  get deliveryWindow(): number {
    return this.#pacer.window
  }

  #sawWork(): void {
    this.#lastWorkAt = performance.now()
  }

  /** How long an idle loop waits before it looks again. */
  #pollMs(): number {
    return performance.now() - this.#lastWorkAt < BUSY_WINDOW_MS
      ? Math.min(BUSY_POLL_MS, this.#options.settings.pollIntervalMs)
      : this.#options.settings.pollIntervalMs
  }

  #pause(ms: number): Promise<void> {
    return sleep(ms, undefined, { signal: this.#stop.signal }).catch(() => undefined)
  }

  /** Not before start-up has migrated the database, and not once shutdown has begun. */
  #mayWork(): boolean {
    return this.#options.lifecycle.phase === 'started' && !this.#stop.signal.aborted
  }

  async #fanOutLoop(): Promise<void> {
    const { signal } = this.#stop
    while (!signal.aborted) {
      let more = false
      if (this.#mayWork()) {
        try {
          const { read, unfinished } = await this.#fanOut()
          if (read > 0) {
            this.#sawWork()
            this.#deliveriesWaiting.wake()
          }
          more = unfinished
        } catch (err) {
          if (!signal.aborted) this.#options.log.warn({ err }, 'webhook fan-out failed')
        }
      }
      if (!more) await this.#pause(this.#pollMs())
    }
  }

  /** Fans out every tenant's new events; `unfinished`: some tenant still had more when its turn ended. */
  async #fanOut(): Promise<{ read: number; unfinished: boolean }> {
    const { database } = this.#options
    return database.session(async (session) => {
      let read = 0
      let unfinished = false
      const tenants = await session.query(TENANTS_WITH_CURSORS, [])
      for (const { tenant_id: tenantId } of tenants) {
        for (let round = 0; !this.#stop.signal.aborted; round++) {
          const [result] = await timedQuery(FAN_OUT.name, () =>
            session.query(FAN_OUT, [tenantId, FAN_OUT_BATCH]),
          )
          read += result?.read ?? 0
          if (result === undefined || result.read < FAN_OUT_BATCH) break
          if (round + 1 === FAN_OUT_ROUNDS) {
            unfinished = true
            break
          }
        }
      }
      webhookFanOutTotal.inc(read)
      return { read, unfinished }
    })
  }

  async #deliveryLoop(): Promise<void> {
    const { database, settings, log } = this.#options
    const { signal } = this.#stop
    while (!signal.aborted) {
      if (!this.#mayWork()) {
        await this.#pause(settings.pollIntervalMs)
        continue
      }
      const free = this.#freeAttempts()
      if (!this.#enoughToClaim(free)) {
        // Woken when enough attempts have finished.
        await this.#deliveriesWaiting.wait(settings.pollIntervalMs, signal)
        continue
      }
      const token = randomUUID()
      let claimed: ClaimedRow[]
      try {
        claimed = await timedQuery(CLAIM_DUE.name, () =>
          database.session((session) => session.query(CLAIM_DUE, [free, settings.leaseMs, token])),
        )
      } catch (err) {
        if (!signal.aborted) log.warn({ err }, 'webhook claim failed')
        await this.#pause(settings.pollIntervalMs)
        continue
      }
      for (const row of claimed) this.#launch(row, token)
      if (claimed.length > 0) this.#sawWork()
      // Fewer than asked: nothing more is due now; wait for the fan-out, or look again later.
      if (claimed.length < free) await this.#deliveriesWaiting.wait(this.#pollMs(), signal)
    }
  }

  #launch(row: ClaimedRow, token: string): void {
    const attempt = this.#attempt(row, token).finally(() => {
      this.#attempts.delete(attempt)
      if (this.#enoughToClaim(this.#freeAttempts())) this.#deliveriesWaiting.wake()
    })
    this.#attempts.add(attempt)
  }

  async #attempt(row: ClaimedRow, token: string): Promise<void> {
    const { log } = this.#options
    const attemptedAt = new Date()
    let settlement: Settlement
    try {
      settlement = await this.#call(row)
    } catch (err) {
      log.error({ err, deliveryId: row.id }, 'webhook attempt failed unexpectedly')
      settlement = this.#failure(row, null, 0, 'internal error', undefined)
    }
    webhookDeliveriesTotal.inc({ outcome: settlement.metric })
    let settled: boolean
    try {
      settled = await this.#settler.submit({ row, token, attemptedAt, settlement })
    } catch {
      // Logged once for the batch; the lease expires and another attempt follows (at least once).
      return
    }
    if (!settled) {
      log.warn({ deliveryId: row.id }, 'webhook lease expired before the attempt was recorded')
      return
    }
    if (settlement.metric === 'dead') webhookDeadLettersTotal.inc()
    try {
      await this.#judgeEndpoint(row, settlement)
    } catch (err) {
      log.warn({ err, endpointId: row.endpoint_id }, 'webhook endpoint health could not be recorded')
    }
  }

  /** Records a batch of outcomes in one statement; answers, per outcome, whether its lease was still held. */
  async #settle(batch: readonly Outcome[]): Promise<boolean[]> {
    const rows = batch.map(
      ({ row, token, attemptedAt, settlement: s }): SettleRow => [
        String(row.id),
        token,
        s.status,
        s.counted ? 1 : 0,
        s.delayMs,
        attemptedAt.toISOString(),
        s.statusCode,
        Math.round(s.durationMs),
        s.error,
      ],
    )
    let settled: { id: string }[]
    try {
      settled = await timedQuery(SETTLE.name, () =>
        this.#options.database.session((session) => session.query(SETTLE, toColumnArrays(rows, 9))),
      )
    } catch (err) {
      this.#options.log.warn({ err, attempts: batch.length }, 'webhook attempts could not be recorded')
      throw err
    }
    const ids = new Set(settled.map(({ id }) => String(id)))
    return batch.map(({ row }) => ids.has(String(row.id)))
  }

  async #judgeEndpoint(row: ClaimedRow, settlement: Settlement): Promise<void> {
    const { repository, settings, log } = this.#options
    const endpointId = row.endpoint_id
    // Only an endpoint that was failing when its delivery was claimed needs a write after a success.
    if (settlement.metric === 'succeeded') {
      if (row.failing_since !== null) await repository.markHealthy(endpointId)
    } else if (settlement.metric === 'gone') {
      await repository.disableGone(endpointId)
      log.info({ endpointId }, 'webhook endpoint answered 410 Gone: disabled')
    } else if (
      settlement.counted &&
      WebhookDispatcher.mayChangeHealth(row.failing_since, settings.disableAfterFailingMs) &&
      (await repository.markFailing(endpointId, settings.disableAfterFailingMs))
    )
      log.warn({ endpointId }, 'webhook endpoint failed every attempt for too long: disabled')
  }

  /**
   * Whether a failed attempt may change the endpoint's health: it starts failing, or has failed long enough to
   * be disabled. An endpoint already failing for less than that needs no write (with its breaker open, every
   * refused delivery is a failed attempt: two statements each would be spent on nothing).
   */
  static mayChangeHealth(failingSince: Date | null, disableAfterMs: number): boolean {
    return failingSince === null || Date.now() - failingSince.getTime() >= disableAfterMs
  }

  /** The body, identical on every attempt of the delivery: the event as the change feed serves it. */
  static bodyOf(row: Pick<ClaimedRow, 'event_type' | 'event'>): string {
    const event = row.event as { occurredAt?: unknown }
    return JSON.stringify({ type: row.event_type, timestamp: event.occurredAt, data: row.event })
  }

  async #call(row: ClaimedRow): Promise<Settlement> {
    const { outbound, settings, userAgent } = this.#options
    const refusal = refusedAtConnect(row.url, settings)
    if (refusal !== undefined)
      return { ...this.#failure(row, null, 0, refusal, undefined), metric: 'refused' }
    const id = `msg_${row.id}`
    const timestamp = Math.floor(Date.now() / 1000)
    const body = WebhookDispatcher.bodyOf(row)
    const signing = activeSecrets(
      this.#secrets,
      row.endpoint_id,
      row.encrypted_secrets,
      row.previous_secret_expires_at,
    )
    const outcome = await outbound.call(
      { kind: 'webhook', id: row.endpoint_id },
      {
        url: row.url,
        method: 'POST',
        headers: {
          'content-type': 'application/json',
          'user-agent': userAgent,
          'webhook-id': id,
          'webhook-timestamp': String(timestamp),
          'webhook-signature': signatureHeader(signing, id, timestamp, body),
        },
        body,
        timeoutMs: settings.timeoutMs,
      },
      { signal: this.#stop.signal, dispatcher: this.#agent },
    )
    return this.#settlementOf(row, outcome)
  }

  #settlementOf(row: ClaimedRow, outcome: OutboundOutcome): Settlement {
    if (outcome.kind === 'breaker-open') {
      const untilAllowedMs = Math.max(0, outcome.retryAt - Date.now())
      // Another call is the half-open probe: whether the endpoint is still down is being found out right now,
      // so this delivery waits for that answer without spending an attempt of its schedule.
      if (outcome.probing) return postponed(untilAllowedMs)
      // Open: the endpoint failed recently. A failed attempt of the schedule, made without any request, and the
      // next one no sooner than the breaker allows; so a delivery whose endpoint stays down still reaches
      // `failed` on its schedule instead of being postponed for as long as the outage lasts.
      return this.#failure(row, null, 0, BREAKER_OPEN_ERROR, untilAllowedMs)
    }
    if (outcome.kind === 'failed') {
      // Shutdown aborted the call: the attempt is not spent, the delivery is due again at once.
      if (outcome.reason === 'aborted') return postponed(0)
      const error = outcome.reason === 'status' ? `HTTP ${outcome.status}` : outcome.reason
      return this.#failure(row, outcome.status ?? null, outcome.durationMs, error, outcome.retryAfterMs)
    }
    const { status, durationMs } = outcome
    if (status >= 200 && status < 300)
      return {
        status: 'succeeded',
        counted: true,
        delayMs: 0,
        statusCode: status,
        durationMs,
        error: null,
        metric: 'succeeded',
      }
    if (status === 410)
      return {
        status: 'failed',
        counted: true,
        delayMs: 0,
        statusCode: status,
        durationMs,
        error: 'endpoint is gone',
        metric: 'gone',
      }
    const error = status >= 300 && status < 400 ? 'redirect not followed' : `HTTP ${status}`
    return this.#failure(row, status, durationMs, error, undefined)
  }

  /** A counted failed attempt: retried on the schedule (no sooner than a Retry-After), or the last one. */
  #failure(
    row: ClaimedRow,
    statusCode: number | null,
    durationMs: number,
    error: string,
    retryAfterMs: number | undefined,
  ): Settlement {
    const schedule = this.#options.settings.retryScheduleMs
    const made = row.attempts + 1
    if (made >= schedule.length)
      return { status: 'failed', counted: true, delayMs: 0, statusCode, durationMs, error, metric: 'dead' }
    const delayMs = Math.max(schedule[made] ?? 0, retryAfterMs ?? 0)
    return { status: 'pending', counted: true, delayMs, statusCode, durationMs, error, metric: 'failed' }
  }
}
