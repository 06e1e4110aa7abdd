// Ingest decides what happens to a request: each one is stored exactly once, with its events and their
// projections, atomically. Requests go through a group committer, so concurrent requests share a write and
// its commit (one statement, or one transaction when the batch has orders or counts); a request whose data
// the database refuses is retried alone, so it never fails its neighbours. Deadlocks between replicas are
// retried a bounded number of times.
import type { Logger } from 'pino'
import type { DatabaseHandle, SqlSession } from '../../platform/database.js'
import { FOREIGN_KEY_VIOLATION, sqlState } from '../../platform/database-errors.js'
import { GroupCommitter } from '../../platform/group-commit.js'
import {
  groupCommitSize,
  ingestBatchSize,
  ingestDedupTotal,
  ingestDuration,
  ingestEventsTotal,
} from '../../platform/metrics.js'
import { TtlCache } from '../../platform/ttl-cache.js'
import { IngestRepository, type IngestRequest, needsTransaction, type WriteOutcome } from './repository.js'

export type { IngestRequest } from './repository.js'

export type IngestResult =
  | { readonly kind: 'created'; readonly acceptedIds: string[]; readonly duplicateIds: string[] }
  | { readonly kind: 'replayed' }
  | { readonly kind: 'key-reused' }
  /** The database refused the request's data (a value it cannot store); nothing of it was written. */
  | { readonly kind: 'rejected'; readonly detail: string }

type BatchOutcome =
  | WriteOutcome
  | { readonly kind: 'rejected'; readonly detail: string }
  | { readonly kind: 'failed'; readonly error: unknown }

const MAX_ATTEMPTS = 3
const COMMITTED_KEY_TTL_MS = 5 * 60_000
const MAX_EVENTS_PER_COMMIT = 5000
/** SQLSTATEs of a transaction that lost a race and may simply be run again: serialization failure, deadlock. */
const RETRYABLE = new Set(['40001', '40P01'])

/** Class 22, data exception: the value itself cannot be stored (e.g. a NUL character in text). */
function isDataError(err: unknown): boolean {
  return sqlState(err)?.startsWith('22') ?? false
}

export interface IngestServiceOptions {
  /** Transactions written at the same time; each holds one connection. */
  readonly concurrency: number
}

export class IngestService {
  readonly #repository = new IngestRepository()
  readonly #committer: GroupCommitter<IngestRequest, BatchOutcome>
  /**
   * Fingerprints of keys committed through this process in the last minutes. Committed keys never change
   * (only the reaper deletes them, days later), so a retry that finds its key here needs no database.
   */
  readonly #committedKeys = new TtlCache<string>(COMMITTED_KEY_TTL_MS, 50_000)

  constructor(
    private readonly database: DatabaseHandle,
    private readonly log: Logger,
    options: IngestServiceOptions,
  ) {
    const write = async (batch: IngestRequest[]): Promise<BatchOutcome[]> => {
      // A request whose key this process saw committed (a retry queued behind its original) is answered
      // from that, without a write of its own.
      const outcomes: (BatchOutcome | undefined)[] = batch.map((request) => this.#knownOutcome(request))
      const pending = batch.filter((_, i) => outcomes[i] === undefined)
      if (pending.length > 0) {
        groupCommitSize.observe(pending.length)
        const written = await this.#writeBatch(pending)
        let next = 0
        for (let i = 0; i < batch.length; i++) {
          if (outcomes[i] !== undefined) continue
          const outcome = written[next++]!
          outcomes[i] = outcome
          if (outcome.kind === 'created' || outcome.kind === 'replayed') this.#rememberCommitted(batch[i]!)
        }
      }
      return outcomes as BatchOutcome[]
    }
    this.#committer = new GroupCommitter(write, {
      concurrency: options.concurrency,
      maxWeight: MAX_EVENTS_PER_COMMIT,
      weight: (request) => request.events.length,
      exclusiveKey: (request) =>
        request.idempotencyKey === undefined
          ? undefined
          : `${request.tenantId}\u0000${request.idempotencyKey}`,
    })
  }

  /** The outcome for a request whose key was committed through this process lately, if it was. */
  #knownOutcome(request: IngestRequest): WriteOutcome | undefined {
    if (request.idempotencyKey === undefined) return undefined
    const fingerprint = this.#committedKeys.get(`${request.tenantId}\u0000${request.idempotencyKey}`)
    if (fingerprint === undefined) return undefined
    return fingerprint === request.fingerprint ? { kind: 'replayed' } : { kind: 'key-reused' }
  }

  #rememberCommitted(request: IngestRequest): void {
    if (request.idempotencyKey === undefined) return
    this.#committedKeys.set(`${request.tenantId}\u0000${request.idempotencyKey}`, request.fingerprint)
  }

  async record(request: IngestRequest): Promise<IngestResult> {
    const endTimer = ingestDuration.startTimer()
    ingestBatchSize.observe(request.events.length)
    const outcome = await this.#committer.submit(request)
    endTimer()
    if (outcome.kind === 'failed') throw outcome.error
    this.#count(request, outcome)
    return outcome
  }

  /** Whether a request with this key was already stored: a retry is then a replay, not a new request. */
  isIdempotencyKeyClaimed(tenantId: string, key: string): Promise<boolean> {
    return this.#repository.isIdempotencyKeyClaimed(this.database.db, tenantId, key)
  }

  /** Deletes idempotency keys older than the TTL; returns how many went. */
  async reapIdempotencyKeys(ttlHours: number, now = new Date()): Promise<number> {
    const cutoff = new Date(now.getTime() - ttlHours * 3_600_000)
    let total = 0
    for (;;) {
      const deleted = await this.#repository.deleteIdempotencyKeysBefore(this.database.db, cutoff)
      total += deleted
      if (deleted === 0) return total
    }
  }

  #count(request: IngestRequest, outcome: IngestResult): void {
    const source = request.sourceName
    if (outcome.kind === 'replayed') {
      ingestDedupTotal.inc({ tenant: request.tenantId, source })
      return
    }
    if (outcome.kind === 'key-reused') return
    const counts = new Map<string, number>()
    const add = (type: string, result: string) => {
      const key = `${type}|${result}`
      counts.set(key, (counts.get(key) ?? 0) + 1)
    }
    if (outcome.kind === 'rejected') {
      for (const event of request.events) add(event.type, 'rejected')
    } else {
      const duplicates = new Set(outcome.duplicateIds)
      for (const event of request.events) add(event.type, duplicates.has(event.id) ? 'duplicate' : 'accepted')
    }
    for (const [key, n] of counts) {
      const [type, result] = key.split('|') as [string, string]
      ingestEventsTotal.inc({ source, type, outcome: result }, n)
    }
  }

  async #writeBatch(batch: IngestRequest[]): Promise<BatchOutcome[]> {
    for (let attempt = 1; ; attempt++) {
      try {
        const write = (session: SqlSession) => this.#repository.writeBatch(session, batch)
        return await (needsTransaction(batch)
          ? this.database.transaction(write)
          : this.database.session(write))
      } catch (err) {
        const state = sqlState(err) ?? ''
        // A cached store id whose tenant was deleted meanwhile fails the foreign key: look the stores up again.
        if (state === FOREIGN_KEY_VIOLATION) this.#repository.forgetStores()
        if ((RETRYABLE.has(state) || state === FOREIGN_KEY_VIOLATION) && attempt < MAX_ATTEMPTS) {
          this.log.warn({ sqlState: state, attempt, requests: batch.length }, 'ingest transaction retried')
          continue
        }
        if (batch.length > 1) return this.#writeEachAlone(batch)
        if (isDataError(err)) {
          return [{ kind: 'rejected', detail: 'The database cannot store a value in this request' }]
        }
        return [{ kind: 'failed', error: err }]
      }
    }
  }

  /** After a shared transaction failed: each request in its own, so only the culprit fails. */
  async #writeEachAlone(batch: IngestRequest[]): Promise<BatchOutcome[]> {
    const outcomes: BatchOutcome[] = []
    for (const request of batch) {
      const [outcome] = await this.#writeBatch([request])
      outcomes.push(outcome!)
    }
    return outcomes
  }
}
