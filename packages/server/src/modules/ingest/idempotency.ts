// Idempotency keys on the write path, in one place: a batch claims its requests' keys in WRITE_BATCH, in the
// same statement that appends their events; this module settles the keys a batch could not claim (the same
// request again is a replay, answered with what the original stored; another body is a misuse of the key),
// remembers keys committed through this process so a retry queued behind its original needs no database,
// answers whether a key is taken, and reaps keys older than IDEMPOTENCY_TTL_HOURS.
import type { FastifyInstance } from 'fastify'
import type { DatabaseHandle, SqlSession } from '../../platform/database.js'
import { schedulePeriodic } from '../../platform/periodic.js'
import { toColumnArrays } from '../../platform/sql.js'
import { TtlCache } from '../../platform/ttl-cache.js'
import type { ValidEvent } from './events.js'
import { run, SEP } from './projections.js'
import { FIND_KEY, FIND_KEYS, FIND_REQUEST_EVENTS, REAP_KEYS } from './statements.js'

/** One request to store: its tenant, where it came from, its key, and its validated events. */
export interface IngestRequest {
  readonly tenantId: string
  /** Null for changes made through the API itself. */
  readonly sourceId: string | null
  readonly sourceName: string
  readonly idempotencyKey: string | undefined
  /** SHA-256 of the request as the idempotency plugin saw it (route, parameters, raw body). */
  readonly fingerprint: string
  readonly events: readonly ValidEvent[]
}

/** Which of a request's events it stored, and which were stored before (by id). */
export interface StoredEvents {
  readonly acceptedIds: string[]
  readonly duplicateIds: string[]
}

export type WriteOutcome =
  | ({ readonly kind: 'created' } & StoredEvents)
  /** The same request again: answered with what the original stored. */
  | ({ readonly kind: 'replayed' } & StoredEvents)
  | { readonly kind: 'key-reused' }

/** A committed key as this process remembers it; the ids only for small requests, to bound memory. */
interface Remembered {
  readonly fingerprint: string
  readonly stored: StoredEvents | undefined
}

const COMMITTED_KEY_TTL_MS = 5 * 60_000
const REMEMBERED_KEYS = 50_000
const REMEMBERED_IDS_PER_KEY = 20
const REAP_INTERVAL_MS = 10 * 60_000
const REAP_PER_STATEMENT = 10_000

const keyOf = (tenantId: string, key: string) => `${tenantId}${SEP}${key}`
export const eventKeyOf = (tenantId: string, sourceName: string, eventId: string) =>
  `${tenantId}${SEP}${sourceName}${SEP}${eventId}`

/**
 * Splits a request's events into those in `stored` (taking each out, so an id sent twice is accepted once and
 * a duplicate the second time) and the rest.
 */
export function storedEventsOf(request: IngestRequest, stored: Set<string>): StoredEvents {
  const acceptedIds: string[] = []
  const duplicateIds: string[] = []
  for (const event of request.events) {
    if (stored.delete(eventKeyOf(request.tenantId, request.sourceName, event.id))) acceptedIds.push(event.id)
    else duplicateIds.push(event.id)
  }
  return { acceptedIds, duplicateIds }
}

export class IdempotencyLedger {
  /**
   * Keys committed through this process in the last minutes. Committed keys never change (only the reaper
   * deletes them, days later), so a retry that finds its key here needs no database.
   */
  readonly #committed = new TtlCache<Remembered>(COMMITTED_KEY_TTL_MS, REMEMBERED_KEYS)

  constructor(private readonly database: DatabaseHandle) {}

  /** The outcome of a request whose key was committed through this process lately, when it is known. */
  known(request: IngestRequest): WriteOutcome | undefined {
    if (request.idempotencyKey === undefined) return undefined
    const remembered = this.#committed.get(keyOf(request.tenantId, request.idempotencyKey))
    if (remembered === undefined) return undefined
    if (remembered.fingerprint !== request.fingerprint) return { kind: 'key-reused' }
    return remembered.stored && { kind: 'replayed', ...remembered.stored }
  }

  remember(request: IngestRequest, outcome: WriteOutcome): void {
    if (request.idempotencyKey === undefined || outcome.kind === 'key-reused') return
    const small = outcome.acceptedIds.length + outcome.duplicateIds.length <= REMEMBERED_IDS_PER_KEY
    const stored = small
      ? { acceptedIds: outcome.acceptedIds, duplicateIds: outcome.duplicateIds }
      : undefined
    this.#committed.set(keyOf(request.tenantId, request.idempotencyKey), {
      fingerprint: request.fingerprint,
      stored,
    })
  }

  /**
   * Outcomes of the requests whose key the batch could not claim (undefined for the others): a replay when
   * the stored fingerprint is theirs, with the events the original stored; else a misuse of the key.
   */
  async settleTaken(
    session: SqlSession,
    requests: readonly IngestRequest[],
    claimed: ReadonlySet<string>,
  ): Promise<(WriteOutcome | undefined)[]> {
    const outcomes: (WriteOutcome | undefined)[] = requests.map(() => undefined)
    const taken: (readonly [string, string])[] = []
    const takenIndex: number[] = []
    requests.forEach((request, index) => {
      const key = request.idempotencyKey
      if (key !== undefined && !claimed.has(keyOf(request.tenantId, key))) {
        taken.push([request.tenantId, key])
        takenIndex.push(index)
      }
    })
    if (taken.length === 0) return outcomes
    const existing = await run(session, FIND_KEYS, toColumnArrays(taken, 2))
    const fingerprints = new Map(existing.map((row) => [keyOf(row.tenant_id, row.key), row.fingerprint]))
    const replays: IngestRequest[] = []
    for (const index of takenIndex) {
      const request = requests[index]!
      const stored = fingerprints.get(keyOf(request.tenantId, request.idempotencyKey!))
      if (stored === request.fingerprint) replays.push(request)
      else outcomes[index] = { kind: 'key-reused' }
    }
    if (replays.length === 0) return outcomes
    const wanted: (readonly [string, string, string, string])[] = []
    for (const request of replays) {
      for (const event of request.events) {
        wanted.push([request.tenantId, request.sourceName, event.id, request.idempotencyKey!])
      }
    }
    const rows = await run(session, FIND_REQUEST_EVENTS, toColumnArrays(wanted, 4))
    const stored = new Set(rows.map((row) => eventKeyOf(row.tenant_id, row.source_name, row.event_id)))
    for (const index of takenIndex) {
      if (outcomes[index] !== undefined) continue
      outcomes[index] = { kind: 'replayed', ...storedEventsOf(requests[index]!, stored) }
    }
    return outcomes
  }

  /** Whether a request with this key was already stored: a retry is then a replay, not a new request. */
  async isClaimed(tenantId: string, key: string): Promise<boolean> {
    const cached = this.#committed.get(keyOf(tenantId, key))
    if (cached !== undefined) return true
    const rows = await this.database.session((session) => run(session, FIND_KEY, [tenantId, key]))
    return rows.length > 0
  }

  /** Deletes keys older than the TTL, a bounded number per statement; returns how many went. */
  async reap(ttlHours: number, now = new Date()): Promise<number> {
    const cutoff = new Date(now.getTime() - ttlHours * 3_600_000).toISOString()
    let total = 0
    for (;;) {
      const [row] = await this.database.session((session) =>
        run(session, REAP_KEYS, [cutoff, REAP_PER_STATEMENT]),
      )
      const deleted = Number(row?.deleted ?? 0)
      total += deleted
      if (deleted === 0) return total
    }
  }
}

/**
 * Reaps expired keys every few minutes while the app runs. Replicas may all do it: the deletes are idempotent
 * and bounded per statement.
 */
export function scheduleKeyReaper(app: FastifyInstance, ledger: IdempotencyLedger): void {
  const { config } = app.platform
  schedulePeriodic(app, {
    intervalMs: REAP_INTERVAL_MS,
    failure: 'idempotency key reaper failed',
    run: async () => {
      const deleted = await ledger.reap(config.idempotencyTtlHours)
      if (deleted > 0) app.log.info({ deleted }, 'expired idempotency keys deleted')
    },
  })
}
