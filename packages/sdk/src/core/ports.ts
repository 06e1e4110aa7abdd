// The two things the SDK's core needs from the platform it runs on, and nothing else: a durable queue of
// recorded events and a secure store for credentials. The core is written against these interfaces only (no
// Node built-ins), and each platform entry point (/node, /browser, /expo) provides adapters for both. Every
// queue adapter passes the same contract (testing/queue-store-contract.ts), and every secure store the same
// secure-store contract.
import type { IngestBody, Problem } from '@pos/contracts'
import type { Static } from 'typebox'

/** One event as the device records it: exactly what goes into an ingest batch. */
export type IngestEvent = IngestBody['events'][number]

/** The problem document the server answered with. */
export type ProblemDocument = Static<typeof Problem>

/** An event in the local queue. `seq` is assigned by the store on append and orders the queue. */
export interface QueuedRecord {
  readonly seq: number
  readonly event: IngestEvent
  /** Milliseconds since the epoch when `record()` stored it. */
  readonly recordedAt: number
}

/**
 * A batch formed for sending. Its key and body are chosen once, when it is formed, and stored with it: after
 * a crash or a failed attempt the very same key and bytes are sent again, so the server answers a replay
 * instead of writing twice.
 */
export interface StoredBatch {
  /** The Idempotency-Key of every attempt of this batch. */
  readonly key: string
  /** The exact request body (JSON text of `{ "events": [...] }`). */
  readonly body: string
  /** The `seq` of the records the batch holds, in body order. */
  readonly seqs: readonly number[]
  readonly createdAt: number
  /** Attempts made so far that got no final answer. */
  readonly attempts: number
  /** Not to be sent before this time (ms since the epoch); 0 when due at once. */
  readonly notBefore: number
}

/** An event the server refused (422) with the problem it answered; it never blocks the rest of the queue. */
export interface RejectedRecord {
  readonly seq: number
  readonly event: IngestEvent
  readonly recordedAt: number
  readonly problem: ProblemDocument
  readonly rejectedAt: number
}

export interface QueueCounts {
  /** Recorded and not yet in a batch. */
  readonly queued: number
  /** In batches formed and not yet settled. */
  readonly batched: number
  readonly rejected: number
}

/**
 * The durable local queue. Every method that changes something is atomic and durable when its promise
 * resolves: a power cut afterwards loses nothing, and one during it leaves either the old or the new state.
 */
export interface QueueStore {
  /** Appends events in order, assigning increasing seqs; durable before it resolves. */
  append(events: readonly IngestEvent[], recordedAt: number): Promise<QueuedRecord[]>
  /** The oldest records that are in no batch, in seq order, at most `limit`. */
  unbatched(limit: number): Promise<QueuedRecord[]>
  /** Stores a batch and marks its records as in it, atomically. Fails if any record is gone or batched. */
  saveBatch(batch: StoredBatch): Promise<void>
  /** Batches formed and not settled, oldest first. */
  openBatches(): Promise<StoredBatch[]>
  /** The records of an open batch, in seq order. */
  batchRecords(key: string): Promise<QueuedRecord[]>
  /** Records a failed attempt: the batch's attempts and notBefore, nothing else. */
  deferBatch(key: string, attempts: number, notBefore: number): Promise<void>
  /** The server stored the batch (or had stored it): deletes the batch and its records, atomically. */
  completeBatch(key: string): Promise<void>
  /**
   * The server refused some of the batch's events: deletes the batch, moves those records to the rejected list
   * with their problems, and returns the others to the queue unbatched (keeping their seqs), atomically.
   */
  rejectFromBatch(
    key: string,
    rejected: ReadonlyArray<{ seq: number; problem: ProblemDocument }>,
    at: number,
  ): Promise<void>
  rejected(limit: number): Promise<RejectedRecord[]>
  /** Forgets rejected records (the app has shown or exported them). */
  deleteRejected(seqs: readonly number[]): Promise<void>
  counts(): Promise<QueueCounts>
  /** Small named values the SDK keeps across restarts (feed cursors, the last remote config and its ETag). */
  getState(name: string): Promise<string | undefined>
  setState(name: string, value: string): Promise<void>
  close(): Promise<void>
}

/**
 * Where credentials live: the API key and a source's signing secret never go anywhere else (not the queue
 * store, not logs, errors or events). Values are strings; names are the SDK's own (`apiKey`, `signingSecret`).
 */
export interface SecureStore {
  get(name: string): Promise<string | undefined>
  set(name: string, value: string): Promise<void>
  delete(name: string): Promise<void>
}

/**
 * The cryptography the core needs, from the platform: HMAC-SHA256 (request signatures, webhook verification)
 * and random bytes (event ids, idempotency keys). `webCrypto()` (core/crypto.ts) provides it wherever WebCrypto
 * exists (Node 20+, browsers); React Native, where `crypto.subtle` may be absent, passes its own.
 */
export interface CryptoPort {
  hmacSha256(key: Uint8Array, message: Uint8Array): Promise<Uint8Array>
  randomBytes(length: number): Uint8Array
}
