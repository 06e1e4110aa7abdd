// Ingest decides what happens to a request: each one is stored exactly once, with its events and their
// projections, atomically. Requests go through a group committer, so concurrent requests share a write and
// its commit; the batch writer answers each request on its own (batch-writer.ts). Two requests with the same
// idempotency key never share a batch: the second waits and is answered from the first one's outcome.
import { EVENT_TYPES } from '@pos/contracts/events'
import type { Logger } from 'pino'
import type { DatabaseHandle } from '../../platform/database.js'
import { GroupCommitter } from '../../platform/group-commit.js'
import {
  ingestBatchSize,
  ingestDedupTotal,
  ingestDuration,
  ingestEventsTotal,
} from '../../platform/metrics.js'
import { type BatchOutcome, IngestBatchWriter } from './batch-writer.js'
import { IdempotencyLedger, type IngestRequest, type StoredEvents } from './idempotency.js'
import { SEP } from './projections.js'

export type { IngestRequest } from './idempotency.js'

export type IngestResult =
  | ({ readonly kind: 'created' } & StoredEvents)
  | ({ readonly kind: 'replayed' } & StoredEvents)
  | { readonly kind: 'key-reused' }
  /** The database refused the request's data (a value it cannot store); nothing of it was written. */
  | { readonly kind: 'rejected'; readonly detail: string }

/** Upper bound on the events of one group commit, so statements stay small. */
const MAX_EVENTS_PER_COMMIT = 5000
/** The type labels a rejected event may carry besides `unknown`. */
const KNOWN_TYPES: ReadonlySet<unknown> = new Set(EVENT_TYPES)

export interface IngestServiceOptions {
  /** Batches written at the same time; each holds one connection. */
  readonly concurrency: number
  /** Events that must wait before a batch starts beside one being written (GroupCommitOptions.overlapWeight). */
  readonly overlapEvents: number
}

export class IngestService {
  readonly #ledger: IdempotencyLedger
  readonly #committer: GroupCommitter<IngestRequest, BatchOutcome>

  constructor(database: DatabaseHandle, log: Logger, options: IngestServiceOptions) {
    this.#ledger = new IdempotencyLedger(database)
    const writer = new IngestBatchWriter(database, this.#ledger, log)
    this.#committer = new GroupCommitter((batch) => writer.write(batch), {
      concurrency: options.concurrency,
      overlapWeight: options.overlapEvents,
      maxWeight: MAX_EVENTS_PER_COMMIT,
      weight: (request) => request.events.length,
      exclusiveKey: (request) =>
        request.idempotencyKey === undefined
          ? undefined
          : `${request.tenantId}${SEP}${request.idempotencyKey}`,
    })
  }

  /** The idempotency keys of the write path: their reaper is scheduled by the ingest plugin. */
  get idempotency(): IdempotencyLedger {
    return this.#ledger
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

  /**
   * Counts the events of a batch refused as invalid (422) under `outcome="rejected"`. The body may be anything,
   * so a type label is one of the known types or `unknown`, never the client's text.
   */
  countRejectedBatch(sourceName: string, body: unknown): void {
    const events = (body as { events?: unknown } | null)?.events
    const counts = new Map<string, number>()
    for (const event of Array.isArray(events) ? events : [undefined]) {
      const type = (event as { type?: unknown } | undefined)?.type
      const label = KNOWN_TYPES.has(type) ? (type as string) : 'unknown'
      counts.set(label, (counts.get(label) ?? 0) + 1)
    }
    for (const [type, n] of counts)
      ingestEventsTotal.inc({ source: sourceName, type, outcome: 'rejected' }, n)
  }

  /** Whether a request with this key was already stored: a retry is then a replay, not a new request. */
  isIdempotencyKeyClaimed(tenantId: string, key: string): Promise<boolean> {
    return this.#ledger.isClaimed(tenantId, key)
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
}
