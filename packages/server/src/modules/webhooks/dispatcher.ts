// The webhook dispatcher: runs on every replica, from app ready to app close, and shares the work through
// PostgreSQL (statements.ts), never through memory. Each round it
// 1. fans out: reads each tenant's committed events after the tenant's cursor and creates their deliveries, in
//    the transaction that advances the cursor (nothing is added to the ingest write path);
// 2. delivers: leases the due deliveries, makes one attempt each through the outbound layer (timeouts, the
//    fleet's breaker per endpoint), signed as Standard Webhooks, and records the outcome under the lease.
// A round that found work is followed by another at once; an idle one waits WEBHOOK_POLL_INTERVAL_MS. A
// replica killed mid-attempt leaves a lease that expires: another replica makes the attempt (at least once).
import { randomUUID } from 'node:crypto'
import { setMaxListeners } from 'node:events'
import { setTimeout as sleep } from 'node:timers/promises'
import type { Logger } from 'pino'
import type { Agent } from 'undici'
import type { WebhookSettings } from '../../config.js'
import type { DatabaseHandle } from '../../platform/database.js'
import { TIMED_OUT, withDeadline } from '../../platform/deadline.js'
import type { Lifecycle } from '../../platform/lifecycle.js'
import {
  webhookDeadLettersTotal,
  webhookDeliveriesTotal,
  webhookFanOutTotal,
} from '../../platform/metrics.js'
import type { Dispatcher, Outbound, OutboundOutcome } from '../../platform/outbound/outbound.js'
import type { Secrets } from '../../platform/secrets.js'
import { activeSecrets, type WebhooksRepository } from './repository.js'
import { signatureHeader } from './signature.js'
import { CLAIM_DUE, type ClaimedRow, FAN_OUT, SETTLE, TENANTS_WITH_CURSORS } from './statements.js'
import { deliveryAgent, refusedAtConnect } from './target-guard.js'

/** Events read per fan-out statement, and rounds of it per tenant in one dispatcher round. */
const FAN_OUT_BATCH = 500
const FAN_OUT_ROUNDS = 10
/** Deliveries one replica attempts at the same time. */
const CLAIM_BATCH = 16
const STOP_TIMEOUT_MS = 5000

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

export class WebhookDispatcher {
  readonly #options: DispatcherOptions
  readonly #agent: Agent
  readonly #stop = new AbortController()
  #running: Promise<void> | undefined

  constructor(options: DispatcherOptions) {
    this.#options = options
    // Every attempt in flight listens to the stop signal (the outbound layer's abort).
    setMaxListeners(CLAIM_BATCH * 4, this.#stop.signal)
    this.#agent = deliveryAgent(options.settings, options.settings.timeoutMs, (hostname, address) =>
      options.log.warn({ hostname, address }, 'webhook target refused at connect: forbidden address'),
    )
  }

  start(): void {
    this.#running ??= this.#loop()
  }

  /**
   * Stops taking work, aborts the attempts in flight (their deliveries stay pending) and waits for the round,
   * at most STOP_TIMEOUT_MS: a round stuck on an unresponsive database must not hold the shutdown (its leases
   * expire and another replica takes the work).
   */
  async stop(): Promise<void> {
    this.#stop.abort()
    if ((await withDeadline(this.#running ?? Promise.resolve(), STOP_TIMEOUT_MS)) === TIMED_OUT)
      this.#options.log.warn({ timeoutMs: STOP_TIMEOUT_MS }, 'webhook dispatcher did not stop in time')
    await this.#agent.destroy().catch(() => undefined)
  }

  async #loop(): Promise<void> {
    const { signal } = this.#stop
    while (!signal.aborted) {
      let busy = false
      // Not before start-up has migrated the database, and not once shutdown has begun.
      if (this.#options.lifecycle.phase === 'started') {
        try {
          busy = await this.runOnce()
        } catch (err) {
          if (!signal.aborted) this.#options.log.warn({ err }, 'webhook dispatcher round failed')
        }
      }
      if (!busy)
        await sleep(this.#options.settings.pollIntervalMs, undefined, { signal }).catch(() => undefined)
    }
  }

  /** One round: fan out, then attempt what is due. Answers whether it found any work. */
  async runOnce(): Promise<boolean> {
    const fannedOut = await this.#fanOut()
    const attempted = await this.#deliverDue()
    return fannedOut > 0 || attempted > 0
  }

  async #fanOut(): Promise<number> {
    const { database } = this.#options
    return database.session(async (session) => {
      let read = 0
      const tenants = await session.query(TENANTS_WITH_CURSORS, [])
      for (const { tenant_id: tenantId } of tenants) {
        for (let round = 0; round < FAN_OUT_ROUNDS && !this.#stop.signal.aborted; round++) {
          const [result] = await session.query(FAN_OUT, [tenantId, FAN_OUT_BATCH])
          read += result?.read ?? 0
          if (result === undefined || result.read < FAN_OUT_BATCH) break
        }
      }
      webhookFanOutTotal.inc(read)
      return read
    })
  }

  async #deliverDue(): Promise<number> {
    const { database, settings } = this.#options
    if (this.#stop.signal.aborted) return 0
    const token = randomUUID()
    const claimed = await database.session((session) =>
      session.query(CLAIM_DUE, [CLAIM_BATCH, settings.leaseMs, token]),
    )
    await Promise.all(claimed.map((row) => this.#attempt(row, token)))
    return claimed.length
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
    const settled = await this.#options.database.session((session) =>
      session.query(SETTLE, [
        String(row.id),
        token,
        settlement.status,
        settlement.counted,
        settlement.delayMs,
        attemptedAt,
        settlement.statusCode,
        Math.round(settlement.durationMs),
        settlement.error,
      ]),
    )
    if (settled.length === 0) {
      log.warn({ deliveryId: row.id }, 'webhook lease expired before the attempt was recorded')
      return
    }
    if (settlement.metric === 'dead') webhookDeadLettersTotal.inc()
    await this.#judgeEndpoint(row, settlement)
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
      (await repository.markFailing(endpointId, settings.disableAfterFailingMs))
    )
      log.warn({ endpointId }, 'webhook endpoint failed every attempt for too long: disabled')
  }

  /** The body, identical on every attempt of the delivery: the event as the change feed serves it. */
  static bodyOf(row: Pick<ClaimedRow, 'event_type' | 'event'>): string {
    const event = row.event as { occurredAt?: unknown }
    return JSON.stringify({ type: row.event_type, timestamp: event.occurredAt, data: row.event })
  }

  async #call(row: ClaimedRow): Promise<Settlement> {
    const { outbound, secrets, settings, userAgent } = this.#options
    const refusal = refusedAtConnect(row.url, settings)
    if (refusal !== undefined)
      return { ...this.#failure(row, null, 0, refusal, undefined), metric: 'refused' }
    const id = `msg_${row.id}`
    const timestamp = Math.floor(Date.now() / 1000)
    const body = WebhookDispatcher.bodyOf(row)
    const signing = activeSecrets(
      secrets,
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
      // undici 6's Agent is the dispatcher Node 20's fetch runs on; only the two packages' type declarations differ.
      { signal: this.#stop.signal, dispatcher: this.#agent as unknown as Dispatcher },
    )
    return this.#settle(row, outcome)
  }

  #settle(row: ClaimedRow, outcome: OutboundOutcome): Settlement {
    if (outcome.kind === 'breaker-open') {
      // No request was made: the attempt is not spent, only postponed until the breaker lets one through.
      return {
        status: 'pending',
        counted: false,
        delayMs: Math.max(0, outcome.retryAt - Date.now()),
        statusCode: null,
        durationMs: 0,
        error: null,
        metric: 'postponed',
      }
    }
    if (outcome.kind === 'failed') {
      if (outcome.reason === 'aborted')
        return {
          status: 'pending',
          counted: false,
          delayMs: 0,
          statusCode: null,
          durationMs: 0,
          error: null,
          metric: 'postponed',
        }
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
