// The connectors' background work: runs on every replica, from app ready to app close, and shares the work
// through PostgreSQL (statements.ts), never through memory. Two loops:
// - the inbox: leases due webhooks, has the source's provider fetch and map each (every provider call
//   through the outbound layer), writes the events through ingest and marks the row done. Unmappable: a dead
//   letter with its reason. ProviderUnavailable: postponed until the provider can be asked again; an open
//   breaker spends no attempt, other failures do, and CONNECTOR_MAX_ATTEMPTS of them make a dead letter.
// - reconciliation: starts the runs the schedule calls for, leases one running run at a time, pages the
//   provider from the run's stored cursor, writes each page through ingest, then stores the next cursor and
//   renews the lease. A replica killed mid-run leaves a lease that expires: another replica resumes from the
//   cursor, and pages read twice are duplicates (deterministic event ids). Drift is the events a page found
//   that were new to the store: objects webhooks had not delivered.
import { randomUUID } from 'node:crypto'
import { setTimeout as sleep } from 'node:timers/promises'
import type { Logger } from 'pino'
import type { ConnectorSettings } from '../../config.js'
import type { DatabaseHandle } from '../../platform/database.js'
import { TIMED_OUT, withDeadline } from '../../platform/deadline.js'
import type { Lifecycle } from '../../platform/lifecycle.js'
import {
  connectorDeadLetters,
  connectorWebhooksTotal,
  reconciliationDriftRatio,
} from '../../platform/metrics.js'
import type { Outbound } from '../../platform/outbound/outbound.js'
import { providerHttp, type TrackedProviderHttp } from './http.js'
import { ProviderUnavailable, Unmappable } from './provider.js'
import type { ConnectorsRepository } from './repository.js'
import type { ActiveConnector, ConnectorsService } from './service.js'
import {
  ADVANCE_RUN,
  CLAIM_INBOX,
  CLAIM_RUN,
  type ClaimedInboxRow,
  type ClaimedRunRow,
  COUNT_DEAD,
  FINISH_RUN,
  POSTPONE_RUN,
  RENEW_INBOX,
  RENEW_RUN,
  SCHEDULE_RUNS,
  SETTLE_INBOX,
} from './statements.js'

/** Inbox rows one replica processes at the same time. */
const CLAIM_BATCH = 8
const STOP_TIMEOUT_MS = 5000
/** The longest a failed webhook waits before its next attempt. */
const MAX_RETRY_DELAY_MS = 3_600_000
/** A reconciliation whose provider is unavailable without saying until when waits this long. */
const RUN_RETRY_MS = 30_000
/** How often each replica checks whether a reconciliation is due. */
const SCHEDULE_INTERVAL_MS = 10_000

export interface WorkerOptions {
  readonly database: DatabaseHandle
  readonly outbound: Outbound
  readonly service: ConnectorsService
  readonly repository: ConnectorsRepository
  readonly settings: ConnectorSettings
  readonly lifecycle: Lifecycle
  readonly log: Logger
}

interface Settlement {
  readonly status: 'pending' | 'done' | 'dead'
  readonly counted: boolean
  readonly delayMs: number
  readonly error: string | null
  readonly outcome: 'done' | 'dead' | 'postponed' | 'failed'
}

export class ConnectorWorker {
  readonly #options: WorkerOptions
  readonly #stop = new AbortController()
  #running: Promise<unknown> | undefined
  #lastSchedule = 0

  constructor(options: WorkerOptions) {
    this.#options = options
  }

  start(): void {
    this.#running ??= Promise.all([
      this.#loop('inbox', () => this.processInbox()),
      this.#loop('reconciliation', () => this.reconcileOnce()),
    ])
  }

  /** Stops taking work and waits for the rounds in flight, at most STOP_TIMEOUT_MS (leases expire anyway). */
  async stop(): Promise<void> {
    this.#stop.abort()
    if ((await withDeadline(this.#running ?? Promise.resolve(), STOP_TIMEOUT_MS)) === TIMED_OUT)
      this.#options.log.warn({ timeoutMs: STOP_TIMEOUT_MS }, 'connector worker did not stop in time')
  }

  async #loop(name: string, round: () => Promise<boolean>): Promise<void> {
    const { signal } = this.#stop
    while (!signal.aborted) {
      let busy = false
      if (this.#options.lifecycle.phase === 'started') {
        try {
          busy = await round()
        } catch (err) {
          if (!signal.aborted) this.#options.log.warn({ err }, `connector ${name} round failed`)
        }
      }
      if (!busy)
        await sleep(this.#options.settings.pollIntervalMs, undefined, { signal }).catch(() => undefined)
    }
  }

  /** One round of the inbox: processes the due webhooks it could lease. Answers whether it found any. */
  async processInbox(): Promise<boolean> {
    const { database, settings } = this.#options
    if (this.#stop.signal.aborted) return false
    const token = randomUUID()
    const claimed = await database.session((session) =>
      session.query(CLAIM_INBOX, [CLAIM_BATCH, settings.leaseMs, token]),
    )
    if (claimed.length === 0) return false
    const outcomes = await this.#whileLeased(
      () => database.session((session) => session.query(RENEW_INBOX, [token, settings.leaseMs])),
      () => Promise.all(claimed.map((row) => this.#processRow(row, token))),
    )
    if (outcomes.includes('dead')) await this.refreshDeadLetters()
    return true
  }

  /**
   * Runs `work` while renewing its lease every third of CONNECTOR_LEASE_MS: a provider call may run long
   * (Shopify's call-limit pacing waits up to 20 s, the outbound layer's retries add their waits), and only a
   * replica that died, not one that waits, should lose its work to another.
   */
  async #whileLeased<T>(renew: () => Promise<unknown>, work: () => Promise<T>): Promise<T> {
    const timer = setInterval(
      () =>
        void renew().catch((err: unknown) =>
          this.#options.log.warn({ err }, 'connector lease renewal failed'),
        ),
      Math.max(100, Math.floor(this.#options.settings.leaseMs / 3)),
    )
    timer.unref()
    try {
      return await work()
    } finally {
      clearInterval(timer)
    }
  }

  /** Sets connector_dead_letters from the table (the whole fleet's count). */
  async refreshDeadLetters(): Promise<void> {
    const rows = await this.#options.database.session((session) => session.query(COUNT_DEAD, []))
    connectorDeadLetters.reset()
    for (const { provider, dead } of rows) connectorDeadLetters.set({ provider }, dead)
  }

  async #processRow(row: ClaimedInboxRow, token: string): Promise<Settlement['outcome']> {
    const { log, database } = this.#options
    const settlement = await this.#settlementOf(row)
    connectorWebhooksTotal.inc({ provider: row.provider, outcome: settlement.outcome })
    const settled = await database.session((session) =>
      session.query(SETTLE_INBOX, [
        String(row.id),
        token,
        settlement.status,
        settlement.counted,
        settlement.delayMs,
        settlement.error,
      ]),
    )
    if (settled.length === 0)
      log.warn({ inboxId: row.id }, 'connector inbox lease expired before the outcome was recorded')
    else if (settlement.outcome === 'dead')
      log.warn(
        {
          inboxId: row.id,
          sourceId: row.source_id,
          provider: row.provider,
          topic: row.topic,
          reason: settlement.error,
        },
        'provider webhook moved to the dead letters',
      )
    return settlement.outcome
  }

  async #settlementOf(row: ClaimedInboxRow): Promise<Settlement> {
    const { service, repository, log } = this.#options
    let http: TrackedProviderHttp | undefined
    try {
      const connector = await service.activeConnector(row.source_id)
      if (connector === undefined) throw new Unmappable('the source has no connector configured any more')
      http = this.#http(connector)
      const mapped = await connector.provider.process(
        http,
        {
          providerEventId: row.provider_event_id,
          topic: row.topic,
          payload: row.payload,
          receivedAt: row.received_at.getTime(),
        },
        repository.stateOf(row.source_id),
      )
      await service.recordMapped(connector.source, mapped)
      return { status: 'done', counted: true, delayMs: 0, error: null, outcome: 'done' }
    } catch (err) {
      if (err instanceof Unmappable)
        return { status: 'dead', counted: true, delayMs: 0, error: err.reason, outcome: 'dead' }
      const unavailable = err instanceof ProviderUnavailable
      if (!unavailable)
        log.error({ err, inboxId: row.id }, 'connector webhook processing failed unexpectedly')
      const message = unavailable ? err.message : 'internal error'
      const waitMs = unavailable && err.retryAt !== undefined ? Math.max(0, err.retryAt - Date.now()) : 0
      // An open breaker made no request: the attempt is not spent, only postponed.
      if (unavailable && http?.refusedByBreaker)
        return { status: 'pending', counted: false, delayMs: waitMs, error: message, outcome: 'postponed' }
      const made = row.attempts + 1
      if (made >= this.#options.settings.maxAttempts)
        return {
          status: 'dead',
          counted: true,
          delayMs: 0,
          error: `gave up after ${made} attempts: ${message}`,
          outcome: 'dead',
        }
      const backoff = Math.min(
        MAX_RETRY_DELAY_MS,
        this.#options.settings.retryBaseDelayMs * 2 ** row.attempts,
      )
      return {
        status: 'pending',
        counted: true,
        delayMs: Math.max(waitMs, backoff),
        error: message,
        outcome: 'failed',
      }
    }
  }

  #http(connector: ActiveConnector): TrackedProviderHttp {
    return providerHttp({
      outbound: this.#options.outbound,
      kind: connector.provider.kind,
      sourceId: connector.source.id,
      baseUrl: connector.provider.baseUrl,
      headers: connector.provider.authHeaders(),
      signal: this.#stop.signal,
    })
  }

  /**
   * One round of reconciliation: starts the runs the schedule calls for (at most every 10 s), then leases
   * one running run and works it to its end, page by page. Answers whether it worked on one.
   */
  async reconcileOnce(): Promise<boolean> {
    const { database, settings } = this.#options
    if (this.#stop.signal.aborted) return false
    if (settings.reconcileIntervalMs > 0 && Date.now() - this.#lastSchedule >= SCHEDULE_INTERVAL_MS) {
      this.#lastSchedule = Date.now()
      await database.session((session) => session.query(SCHEDULE_RUNS, [settings.reconcileIntervalMs]))
    }
    const token = randomUUID()
    const [run] = await database.session((session) => session.query(CLAIM_RUN, [settings.leaseMs, token]))
    if (run === undefined) return false
    await this.#whileLeased(
      () =>
        database.session((session) => session.query(RENEW_RUN, [String(run.id), token, settings.leaseMs])),
      () => this.#work(run, token),
    )
    return true
  }

  async #work(run: ClaimedRunRow, token: string): Promise<void> {
    const { database, service, repository, settings, log } = this.#options
    const runId = String(run.id)
    const runLog = log.child({ reconciliationId: run.id, sourceId: run.source_id })
    const connector = await service.activeConnector(run.source_id)
    if (connector === undefined) {
      await database.session((s) =>
        s.query(FINISH_RUN, [runId, token, 'the source has no connector configured']),
      )
      return
    }
    const http = this.#http(connector)
    const state = repository.stateOf(run.source_id)
    const since = Number(run.since)
    let cursor = run.cursor
    if (cursor !== null) runLog.info({ pages: run.pages }, 'reconciliation resumed from its cursor')
    for (;;) {
      if (this.#stop.signal.aborted) return
      let page: Awaited<ReturnType<typeof connector.provider.reconcilePage>>
      let drift: number
      try {
        page = await connector.provider.reconcilePage(http, cursor, since, state)
        drift = await service.recordMapped(connector.source, page)
      } catch (err) {
        if (this.#stop.signal.aborted) return
        if (err instanceof ProviderUnavailable) {
          const waitMs = err.retryAt === undefined ? RUN_RETRY_MS : Math.max(0, err.retryAt - Date.now())
          runLog.warn({ waitMs, reason: err.message }, 'reconciliation waits for the provider')
          await database.session((s) => s.query(POSTPONE_RUN, [runId, token, waitMs, err.message]))
          return
        }
        const reason = err instanceof Unmappable ? err.reason : 'internal error'
        runLog.error({ err }, 'reconciliation stopped: a page could not be mapped')
        await database.session((s) => s.query(FINISH_RUN, [runId, token, reason]))
        return
      }
      if (page.unmappable.length > 0) {
        await repository.deadLetterObjects(
          connector.source,
          connector.provider.kind,
          Number(run.id),
          page.unmappable,
        )
        runLog.warn(
          { unmappable: page.unmappable.length, first: page.unmappable[0] },
          'reconciliation found objects it cannot map: they are dead letters',
        )
        await this.refreshDeadLetters()
      }
      const advanced = await database.session((s) =>
        s.query(ADVANCE_RUN, [
          runId,
          token,
          page.nextCursor,
          page.objects,
          drift,
          settings.leaseMs,
          page.unmappable.length,
        ]),
      )
      if (advanced.length === 0) {
        runLog.warn('reconciliation lease lost: another replica took the run over')
        return
      }
      cursor = page.nextCursor
      if (cursor === null) break
    }
    const [summary] = await database.session((s) => s.query(FINISH_RUN, [runId, token, null]))
    if (summary === undefined) return
    const ratio = summary.objects === 0 ? 0 : summary.drift / summary.objects
    reconciliationDriftRatio.set({ provider: connector.provider.kind }, ratio)
    runLog.info(
      {
        provider: connector.provider.kind,
        trigger: run.trigger,
        pages: summary.pages,
        objects: summary.objects,
        drift: summary.drift,
        driftRatio: ratio,
        unmappable: summary.unmappable,
        durationMs: summary.finished_at.getTime() - summary.started_at.getTime(),
      },
      'reconciliation completed',
    )
  }
}
