// Writes one group-commit batch of ingest requests and answers each request on its own. A request whose key
// this process saw committed is answered without a write. The rest are written together: one statement when
// the batch has no orders or counts, else one transaction. A lost race between replicas (deadlock,
// serialization failure) is retried a bounded number of times. A request whose tenant was deleted meanwhile
// gets nothing written (WRITE_BATCH does not find the tenant) and is answered as refused. When the database
// refuses the batch because of a value in it (SQLSTATE class 22 or 23), the batch is split and each request is
// written alone, so only the culprit fails. Any other failure (connection lost, timeout, server shutting down)
// fails every request of the batch at once: in an outage, N queued requests must not become N more attempts.
import type { Logger } from 'pino'
import type { DatabaseHandle, SqlSession } from '../../platform/database.js'
import { sqlState } from '../../platform/database-errors.js'
import { groupCommitSize } from '../../platform/metrics.js'
import { toColumnArrays } from '../../platform/sql.js'
import {
  eventKeyOf,
  type IdempotencyLedger,
  type IngestRequest,
  storedEventsOf,
  type WriteOutcome,
} from './idempotency.js'
import {
  type AcceptedEvent,
  byText,
  needsTransaction,
  projectCounts,
  projectOrders,
  run,
  SEP,
  StoreDirectory,
} from './projections.js'
import { type EventRecord, WRITE_BATCH } from './statements.js'

export type BatchOutcome =
  | WriteOutcome
  /** The database refused a value of this request; nothing of it was written. */
  | { readonly kind: 'rejected'; readonly detail: string }
  /** The write failed for a reason that is not the request's (the database is unreachable, say). */
  | { readonly kind: 'failed'; readonly error: unknown }

/** A request of a tenant deleted after it was authenticated: WRITE_BATCH wrote nothing of it. */
const TENANT_GONE: BatchOutcome = {
  kind: 'rejected',
  detail: 'The tenant was deleted while this request was being stored; nothing of it was stored',
}
const MAX_ATTEMPTS = 3
/** SQLSTATEs of a transaction that lost a race and may simply be run again: serialization failure, deadlock. */
const RETRYABLE = new Set(['40001', '40P01'])

/**
 * Whether the database refused the data itself: class 22 (data exception, e.g. NUL in text, a number out of
 * range) or 23 (integrity constraint). Only these are worth splitting a batch for.
 */
export function isDataError(err: unknown): boolean {
  const state = sqlState(err)
  return state !== undefined && (state.startsWith('22') || state.startsWith('23'))
}

export class IngestBatchWriter {
  readonly #stores = new StoreDirectory()

  constructor(
    private readonly database: DatabaseHandle,
    private readonly ledger: IdempotencyLedger,
    private readonly log: Logger,
  ) {}

  /** One outcome per request, in order; never throws. */
  async write(batch: readonly IngestRequest[]): Promise<BatchOutcome[]> {
    const outcomes: (BatchOutcome | undefined)[] = batch.map((request) => this.ledger.known(request))
    const pending = batch.filter((_, i) => outcomes[i] === undefined)
    if (pending.length === 0) return outcomes as BatchOutcome[]
    groupCommitSize.observe(pending.length)
    const written = await this.#writeWithRetries(pending)
    let next = 0
    for (let i = 0; i < batch.length; i++) {
      if (outcomes[i] !== undefined) continue
      const outcome = written[next++]!
      outcomes[i] = outcome
      if (outcome.kind === 'created' || outcome.kind === 'replayed') this.ledger.remember(batch[i]!, outcome)
    }
    return outcomes as BatchOutcome[]
  }

  async #writeWithRetries(batch: readonly IngestRequest[]): Promise<BatchOutcome[]> {
    for (let attempt = 1; ; attempt++) {
      try {
        const write = (session: SqlSession) => this.#writeOnce(session, batch)
        return await (needsTransaction(batch)
          ? this.database.transaction(write)
          : this.database.session(write))
      } catch (err) {
        const state = sqlState(err) ?? ''
        if (RETRYABLE.has(state) && attempt < MAX_ATTEMPTS) {
          this.log.warn({ sqlState: state, attempt, requests: batch.length }, 'ingest transaction retried')
          continue
        }
        if (!isDataError(err)) return batch.map(() => ({ kind: 'failed', error: err }) as const)
        if (batch.length > 1) return this.#writeEachAlone(batch)
        return [{ kind: 'rejected', detail: 'The database cannot store a value in this request' }]
      }
    }
  }

  /** After the data of a shared batch was refused: each request on its own, so only the culprit fails. */
  async #writeEachAlone(batch: readonly IngestRequest[]): Promise<BatchOutcome[]> {
    const outcomes: BatchOutcome[] = []
    for (const request of batch) {
      const [outcome] = await this.#writeWithRetries([request])
      outcomes.push(outcome!)
    }
    return outcomes
  }

  /**
   * The write itself. Without orders or counts the session may autocommit: everything but the creation of
   * new stores (harmless on its own) happens in WRITE_BATCH.
   */
  async #writeOnce(session: SqlSession, requests: readonly IngestRequest[]): Promise<BatchOutcome[]> {
    const storeIds = await this.#stores.resolve(session, requests)
    const { tenants, claimed, appended } = await this.#appendBatch(session, requests, storeIds)
    const outcomes: (BatchOutcome | undefined)[] = requests.map((request) =>
      tenants.has(request.tenantId) ? undefined : TENANT_GONE,
    )
    const live = requests.filter((_, i) => outcomes[i] === undefined)
    const settled = await this.ledger.settleTaken(session, live, claimed)
    let next = 0
    for (let i = 0; i < requests.length; i++) if (outcomes[i] === undefined) outcomes[i] = settled[next++]
    const accepted: AcceptedEvent[] = []
    for (let i = 0; i < requests.length; i++) {
      if (outcomes[i] !== undefined) continue
      const request = requests[i]!
      const stored = storedEventsOf(request, appended)
      const acceptedIds = new Set(stored.acceptedIds)
      for (const event of request.events) {
        if (acceptedIds.delete(event.id)) accepted.push({ tenantId: request.tenantId, event })
      }
      outcomes[i] = { kind: 'created', ...stored }
    }
    const storeOf = (tenantId: string, code: string) => storeIds.get(`${tenantId}${SEP}${code}`)!
    await projectCounts(session, accepted, storeOf)
    await projectOrders(session, accepted, storeOf)
    return outcomes as BatchOutcome[]
  }

  /** Runs WRITE_BATCH: the tenants it found, the keys it claimed and the events it appended, as in-memory keys. */
  async #appendBatch(
    session: SqlSession,
    requests: readonly IngestRequest[],
    storeIds: Map<string, string>,
  ): Promise<{ tenants: Set<string>; claimed: Set<string>; appended: Set<string> }> {
    const keys: (readonly [string, string, string])[] = []
    const events: EventRecord[] = []
    const batchTenants = new Set<string>()
    for (const request of requests) {
      batchTenants.add(request.tenantId)
      const key = request.idempotencyKey ?? null
      if (key !== null) keys.push([request.tenantId, key, request.fingerprint])
      for (const event of request.events) {
        events.push({
          tenant_id: request.tenantId,
          source_id: request.sourceId,
          source_name: request.sourceName,
          event_id: event.id,
          type: event.type,
          payload: event.data,
          occurred_at: event.occurredAt.toISOString(),
          request_key: key,
        })
      }
    }
    // One lock order for every batch, so two batches never wait on each other's keys in a cycle.
    keys.sort((a, b) => byText(a[0], b[0]) || byText(a[1], b[1]))
    const stores = [...storeIds].map(([key, id]) => {
      const [tenantId, code] = key.split(SEP) as [string, string]
      return [tenantId, code, id] as const
    })
    const rows = await run(session, WRITE_BATCH, [
      [...batchTenants],
      ...toColumnArrays(keys, 3),
      JSON.stringify(events),
      ...toColumnArrays(stores, 3),
    ])
    const tenants = new Set<string>()
    const claimed = new Set<string>()
    const appended = new Set<string>()
    for (const row of rows) {
      if (row.kind === 'tenant') tenants.add(row.tenant_id)
      else if (row.kind === 'key') claimed.add(`${row.tenant_id}${SEP}${row.name}`)
      else appended.add(eventKeyOf(row.tenant_id, row.name!, row.event_id!))
    }
    return { tenants, claimed, appended }
  }
}
