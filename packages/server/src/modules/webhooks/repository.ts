// SQL for webhook endpoints and their deliveries, as the API reads and changes them. Signing secrets are
// encrypted here on the way in and decrypted on the way out (platform/secrets.ts), bound to their endpoint's
// row; the dispatcher's statements are in statements.ts. Every query is timed under `webhooks.<operation>`.
import { and, asc, desc, eq, gte, inArray, lt, sql } from 'drizzle-orm'
import {
  type WebhookDeliveryStatus,
  type WebhookDisabledReason,
  webhookAttempts,
  webhookCursors,
  webhookDeliveries,
  webhookEndpoints,
  webhookSecretAad,
} from '../../db/schema.js'
import type { Database } from '../../platform/database.js'
import { FOREIGN_KEY_VIOLATION, sqlState, UNIQUE_VIOLATION } from '../../platform/database-errors.js'
import { timedQuery } from '../../platform/metrics.js'
import { type CreatedPosition, type PageRequest, type Slice, sliceRows } from '../../platform/pagination.js'
import type { Secrets } from '../../platform/secrets.js'

export interface EndpointRecord {
  readonly id: string
  readonly tenantId: string
  readonly url: string
  readonly eventTypes: readonly string[]
  readonly description: string | null
  readonly enabled: boolean
  readonly disabledReason: WebhookDisabledReason | null
  readonly failingSince: Date | null
  readonly createdAt: Date
}

export interface NewEndpointRow {
  readonly id: string
  readonly url: string
  readonly eventTypes: readonly string[]
  readonly description: string | null
  readonly secret: string
  readonly idempotency: { readonly key: string; readonly fingerprint: string } | undefined
}

export interface EndpointChangeRow {
  readonly url?: string
  readonly eventTypes?: readonly string[]
  readonly description?: string | null
  readonly enabled?: boolean
}

export type CreateResult =
  | { readonly kind: 'created'; readonly endpoint: EndpointRecord }
  /** The same Idempotency-Key came before: the endpoint it created, and whether the request was the same. */
  | { readonly kind: 'existing'; readonly endpoint: EndpointRecord; readonly sameRequest: boolean }
  | { readonly kind: 'unknown-tenant' }

export type RotateResult =
  | { readonly kind: 'rotated' | 'replayed'; readonly endpoint: EndpointRecord; readonly secret: string }
  | { readonly kind: 'key-reused' }
  | { readonly kind: 'not-found' }

export interface AttemptRecord {
  readonly attemptedAt: Date
  readonly statusCode: number | null
  readonly durationMs: number
  readonly error: string | null
}

export interface DeliveryRecord {
  readonly id: number
  readonly eventId: string
  readonly eventType: string
  readonly status: WebhookDeliveryStatus
  readonly nextAttemptAt: Date
  readonly createdAt: Date
  readonly attempts: AttemptRecord[]
}

const endpointColumns = {
  id: webhookEndpoints.id,
  tenantId: webhookEndpoints.tenantId,
  url: webhookEndpoints.url,
  eventTypes: webhookEndpoints.eventTypes,
  description: webhookEndpoints.description,
  enabled: webhookEndpoints.enabled,
  disabledReason: webhookEndpoints.disabledReason,
  failingSince: webhookEndpoints.failingSince,
  createdAt: webhookEndpoints.createdAt,
}

/** The first position no transaction still in flight can precede: events after it are the endpoint's. */
const currentPosition = sql`pg_snapshot_xmin(pg_current_snapshot())`

/** The secrets that sign now: the newest, and the previous one until its 24 hours are over. */
export function activeSecrets(
  secrets: Pick<Secrets, 'decrypt'>,
  endpointId: string,
  encrypted: readonly string[],
  previousExpiresAt: Date | null,
  now = Date.now(),
): string[] {
  const aad = webhookSecretAad(endpointId)
  const keep =
    previousExpiresAt !== null && previousExpiresAt.getTime() > now
      ? encrypted.slice(0, 2)
      : encrypted.slice(0, 1)
  return keep.map((stored) => secrets.decrypt(stored, aad))
}

export class WebhooksRepository {
  constructor(
    private readonly db: Database,
    private readonly secrets: Secrets,
  ) {}

  /**
   * Stores a new endpoint and, for the tenant's first, the fan-out cursor, both at the log's current position:
   * the endpoint receives the events committed after it, none from before.
   */
  createEndpoint(tenantId: string, row: NewEndpointRow): Promise<CreateResult> {
    return timedQuery('webhooks.createEndpoint', async () => {
      try {
        const endpoint = await this.db.transaction(async (tx) => {
          const [created] = await tx
            .insert(webhookEndpoints)
            .values({
              id: row.id,
              tenantId,
              url: row.url,
              eventTypes: [...row.eventTypes],
              description: row.description,
              encryptedSecrets: [this.secrets.encrypt(row.secret, webhookSecretAad(row.id))],
              startTxId: currentPosition,
              startSeq: 0,
              idempotencyKey: row.idempotency?.key,
              idempotencyFingerprint: row.idempotency?.fingerprint,
            })
            .returning(endpointColumns)
          await tx
            .insert(webhookCursors)
            .values({ tenantId, txId: currentPosition, seq: 0 })
            .onConflictDoNothing()
          return created as EndpointRecord
        })
        return { kind: 'created', endpoint }
      } catch (err) {
        if (sqlState(err) === FOREIGN_KEY_VIOLATION) return { kind: 'unknown-tenant' }
        if (sqlState(err) !== UNIQUE_VIOLATION || row.idempotency === undefined) throw err
        const [existing] = await this.db
          .select({ ...endpointColumns, fingerprint: webhookEndpoints.idempotencyFingerprint })
          .from(webhookEndpoints)
          .where(
            and(
              eq(webhookEndpoints.tenantId, tenantId),
              eq(webhookEndpoints.idempotencyKey, row.idempotency.key),
            ),
          )
        if (existing === undefined) throw err
        const { fingerprint, ...endpoint } = existing
        return { kind: 'existing', endpoint, sameRequest: fingerprint === row.idempotency.fingerprint }
      }
    })
  }

  /** The tenant's endpoints, oldest first. */
  listEndpoints(
    tenantId: string,
    page: PageRequest<CreatedPosition>,
  ): Promise<Slice<EndpointRecord, CreatedPosition>> {
    return timedQuery('webhooks.listEndpoints', async () => {
      const { createdAt, id } = webhookEndpoints
      const rows = await this.db
        .select({
          ...endpointColumns,
          // The creation time at PostgreSQL's precision: a Date would cut it to milliseconds.
          createdAtMicros: sql<string>`(extract(epoch from ${createdAt}) * 1000000)::bigint`,
        })
        .from(webhookEndpoints)
        .where(
          and(
            eq(webhookEndpoints.tenantId, tenantId),
            page.after === undefined
              ? undefined
              : sql`(${createdAt}, ${id}) > (timestamptz 'epoch' + ${page.after.createdAtMicros}::bigint * interval '1 microsecond', ${page.after.id}::uuid)`,
          ),
        )
        .orderBy(asc(createdAt), asc(id))
        .limit(page.limit + 1)
      return sliceRows(
        rows,
        page.limit,
        ({ createdAtMicros: _, ...endpoint }) => endpoint,
        (row) => ({ createdAtMicros: Number(row.createdAtMicros), id: row.id }),
      )
    })
  }

  findEndpoint(tenantId: string, endpointId: string): Promise<EndpointRecord | undefined> {
    return timedQuery('webhooks.findEndpoint', async () => {
      const [row] = await this.db
        .select(endpointColumns)
        .from(webhookEndpoints)
        .where(and(eq(webhookEndpoints.tenantId, tenantId), eq(webhookEndpoints.id, endpointId)))
      return row
    })
  }

  /** The endpoint's signing secrets in clear, newest first, as they sign now. */
  findSecrets(tenantId: string, endpointId: string): Promise<string[] | undefined> {
    return timedQuery('webhooks.findSecrets', async () => {
      const [row] = await this.db
        .select({
          encrypted: webhookEndpoints.encryptedSecrets,
          previousExpiresAt: webhookEndpoints.previousSecretExpiresAt,
        })
        .from(webhookEndpoints)
        .where(and(eq(webhookEndpoints.tenantId, tenantId), eq(webhookEndpoints.id, endpointId)))
      return row && activeSecrets(this.secrets, endpointId, row.encrypted, row.previousExpiresAt)
    })
  }

  updateEndpoint(
    tenantId: string,
    endpointId: string,
    change: EndpointChangeRow,
  ): Promise<EndpointRecord | undefined> {
    return timedQuery('webhooks.updateEndpoint', async () => {
      const enabling =
        change.enabled === undefined
          ? {}
          : change.enabled
            ? { enabled: true, disabledReason: null, failingSince: null }
            : { enabled: false, disabledReason: 'manual' as const }
      const [row] = await this.db
        .update(webhookEndpoints)
        .set({
          ...(change.url === undefined ? {} : { url: change.url }),
          ...(change.eventTypes === undefined ? {} : { eventTypes: [...change.eventTypes] }),
          ...(change.description === undefined ? {} : { description: change.description }),
          ...enabling,
          updatedAt: sql`now()`,
        })
        .where(and(eq(webhookEndpoints.tenantId, tenantId), eq(webhookEndpoints.id, endpointId)))
        .returning(endpointColumns)
      return row
    })
  }

  deleteEndpoint(tenantId: string, endpointId: string): Promise<boolean> {
    return timedQuery('webhooks.deleteEndpoint', async () => {
      const rows = await this.db
        .delete(webhookEndpoints)
        .where(and(eq(webhookEndpoints.tenantId, tenantId), eq(webhookEndpoints.id, endpointId)))
        .returning({ id: webhookEndpoints.id })
      return rows.length > 0
    })
  }

  /**
   * Puts `secret` first; the current one stays second and keeps signing until `previousExpiresAt`. With an
   * Idempotency-Key that the latest rotation already used, nothing changes: the answer is that rotation's.
   */
  rotateSecret(
    tenantId: string,
    endpointId: string,
    secret: string,
    previousExpiresAt: Date,
    idempotency: { readonly key: string; readonly fingerprint: string } | undefined,
  ): Promise<RotateResult> {
    return timedQuery('webhooks.rotateSecret', async () => {
      const stored = this.secrets.encrypt(secret, webhookSecretAad(endpointId))
      const ofEndpoint = and(eq(webhookEndpoints.tenantId, tenantId), eq(webhookEndpoints.id, endpointId))
      const [row] = await this.db
        .update(webhookEndpoints)
        .set({
          encryptedSecrets: sql`array_prepend(${stored}::text, ${webhookEndpoints.encryptedSecrets}[1:1])`,
          previousSecretExpiresAt: previousExpiresAt,
          rotationIdempotencyKey: idempotency?.key ?? null,
          rotationIdempotencyFingerprint: idempotency?.fingerprint ?? null,
          updatedAt: sql`now()`,
        })
        .where(
          idempotency === undefined
            ? ofEndpoint
            : and(
                ofEndpoint,
                sql`${webhookEndpoints.rotationIdempotencyKey} IS DISTINCT FROM ${idempotency.key}`,
              ),
        )
        .returning(endpointColumns)
      if (row !== undefined) return { kind: 'rotated', endpoint: row, secret }
      if (idempotency === undefined) return { kind: 'not-found' }
      const [latest] = await this.db
        .select({
          ...endpointColumns,
          encrypted: webhookEndpoints.encryptedSecrets,
          fingerprint: webhookEndpoints.rotationIdempotencyFingerprint,
        })
        .from(webhookEndpoints)
        .where(ofEndpoint)
      if (latest === undefined) return { kind: 'not-found' }
      const { encrypted, fingerprint, ...endpoint } = latest
      if (fingerprint !== idempotency.fingerprint) return { kind: 'key-reused' }
      const current = this.secrets.decrypt(encrypted[0] ?? '', webhookSecretAad(endpointId))
      return { kind: 'replayed', endpoint, secret: current }
    })
  }

  /** The endpoint's deliveries, newest first, each with its attempts. */
  listDeliveries(
    tenantId: string,
    endpointId: string,
    status: WebhookDeliveryStatus | undefined,
    page: PageRequest<number>,
  ): Promise<Slice<DeliveryRecord, number>> {
    // One snapshot for both reads: read apart, a settle committing between them showed a delivery's old state
    // (status, next attempt) beside the attempt that had already replaced it.
    return timedQuery('webhooks.listDeliveries', () =>
      this.db.transaction(
        async (tx) => {
          const rows = await tx
            .select({
              id: webhookDeliveries.id,
              eventId: sql<string>`${webhookDeliveries.event}->>'id'`,
              eventType: webhookDeliveries.eventType,
              status: webhookDeliveries.status,
              nextAttemptAt: webhookDeliveries.nextAttemptAt,
              createdAt: webhookDeliveries.createdAt,
            })
            .from(webhookDeliveries)
            .where(
              and(
                eq(webhookDeliveries.tenantId, tenantId),
                eq(webhookDeliveries.endpointId, endpointId),
                status === undefined ? undefined : eq(webhookDeliveries.status, status),
                page.after === undefined ? undefined : sql`${webhookDeliveries.id} < ${page.after}`,
              ),
            )
            .orderBy(desc(webhookDeliveries.id))
            .limit(page.limit + 1)
          const shown = rows.slice(0, page.limit)
          const attempts =
            shown.length === 0
              ? []
              : await tx
                  .select()
                  .from(webhookAttempts)
                  .where(
                    inArray(
                      webhookAttempts.deliveryId,
                      shown.map((row) => row.id),
                    ),
                  )
                  .orderBy(asc(webhookAttempts.id))
          const byDelivery = new Map<number, (typeof attempts)[number][]>()
          for (const attempt of attempts) {
            const list = byDelivery.get(attempt.deliveryId)
            if (list === undefined) byDelivery.set(attempt.deliveryId, [attempt])
            else list.push(attempt)
          }
          const items = shown.map((row) => ({
            ...row,
            attempts: (byDelivery.get(row.id) ?? []).map(
              ({ attemptedAt, statusCode, durationMs, error }) => ({
                attemptedAt,
                statusCode,
                durationMs,
                error,
              }),
            ),
          }))
          return { items, last: shown.at(-1)?.id, hasMore: rows.length > page.limit }
        },
        { isolationLevel: 'repeatable read', accessMode: 'read only' },
      ),
    )
  }

  /**
   * Queues failed deliveries again with a fresh schedule: one (`deliveryId`) or all created since `since`.
   * Answers how many were queued.
   */
  requeueFailed(
    tenantId: string,
    endpointId: string,
    which: { readonly deliveryId: number } | { readonly since: Date },
  ): Promise<number> {
    return timedQuery('webhooks.requeueFailed', async () => {
      const rows = await this.db
        .update(webhookDeliveries)
        .set({ status: 'pending', attempts: 0, nextAttemptAt: sql`now()`, updatedAt: sql`now()` })
        .where(
          and(
            eq(webhookDeliveries.tenantId, tenantId),
            eq(webhookDeliveries.endpointId, endpointId),
            eq(webhookDeliveries.status, 'failed'),
            'deliveryId' in which
              ? eq(webhookDeliveries.id, which.deliveryId)
              : gte(webhookDeliveries.createdAt, which.since),
          ),
        )
        .returning({ id: webhookDeliveries.id })
      return rows.length
    })
  }

  /** The status of one of the endpoint's deliveries, or undefined when it has no such delivery. */
  deliveryStatus(
    tenantId: string,
    endpointId: string,
    deliveryId: number,
  ): Promise<WebhookDeliveryStatus | undefined> {
    return timedQuery('webhooks.deliveryStatus', async () => {
      const [row] = await this.db
        .select({ status: webhookDeliveries.status })
        .from(webhookDeliveries)
        .where(
          and(
            eq(webhookDeliveries.tenantId, tenantId),
            eq(webhookDeliveries.endpointId, endpointId),
            eq(webhookDeliveries.id, deliveryId),
          ),
        )
      return row?.status
    })
  }

  /**
   * Deletes at most `limit` succeeded or failed deliveries (their attempts go with them) whose last attempt is
   * older than `retentionMs`. Rows another replica is deleting (or a request is changing) are skipped, not
   * waited for. Answers how many went.
   */
  pruneDeliveries(retentionMs: number, limit: number): Promise<number> {
    return timedQuery('webhooks.pruneDeliveries', async () => {
      const cutoff = sql`now() - ${retentionMs}::float8 * interval '1 millisecond'`
      const old = this.db
        .select({ id: webhookDeliveries.id })
        .from(webhookDeliveries)
        .where(
          and(
            // Implied by the next condition; it lets the BRIN index on created_at skip the recent pages.
            lt(webhookDeliveries.createdAt, cutoff),
            lt(webhookDeliveries.updatedAt, cutoff),
            inArray(webhookDeliveries.status, ['succeeded', 'failed']),
          ),
        )
        .limit(limit)
        .for('update', { skipLocked: true })
      const gone = await this.db
        .delete(webhookDeliveries)
        .where(inArray(webhookDeliveries.id, old))
        .returning({ id: webhookDeliveries.id })
      return gone.length
    })
  }

  /**
   * The fleet's delivery backlog: pending deliveries to enabled endpoints, and how long the oldest of those
   * that are due has been waiting (0 when none is due). A disabled endpoint's deliveries wait for it to be
   * enabled again, not for the dispatcher, so they are not backlog. Both read the partial index of pending rows.
   */
  deliveryBacklog(): Promise<{ pending: number; oldestDueSeconds: number }> {
    return timedQuery('webhooks.deliveryBacklog', async () => {
      const [row] = await this.db
        .select({
          pending: sql<number>`count(*)::int`,
          oldestDueSeconds: sql<number>`coalesce(extract(epoch from now() - min(${webhookDeliveries.nextAttemptAt}) filter (where ${webhookDeliveries.nextAttemptAt} <= now())), 0)::float8`,
        })
        .from(webhookDeliveries)
        .innerJoin(
          webhookEndpoints,
          and(eq(webhookEndpoints.id, webhookDeliveries.endpointId), eq(webhookEndpoints.enabled, true)),
        )
        .where(eq(webhookDeliveries.status, 'pending'))
      return { pending: row?.pending ?? 0, oldestDueSeconds: row?.oldestDueSeconds ?? 0 }
    })
  }

  /** After a successful attempt: the endpoint is no longer failing. */
  markHealthy(endpointId: string): Promise<void> {
    return timedQuery('webhooks.markHealthy', async () => {
      await this.db
        .update(webhookEndpoints)
        .set({ failingSince: null })
        .where(and(eq(webhookEndpoints.id, endpointId), sql`${webhookEndpoints.failingSince} IS NOT NULL`))
    })
  }

  /**
   * After a failed attempt: the endpoint is failing since now, unless it already was; failing for longer than
   * `disableAfterMs`, it is disabled. Answers whether this disabled it.
   */
  markFailing(endpointId: string, disableAfterMs: number): Promise<boolean> {
    return timedQuery('webhooks.markFailing', async () => {
      await this.db
        .update(webhookEndpoints)
        .set({ failingSince: sql`now()` })
        .where(and(eq(webhookEndpoints.id, endpointId), sql`${webhookEndpoints.failingSince} IS NULL`))
      const disabled = await this.db
        .update(webhookEndpoints)
        .set({ enabled: false, disabledReason: 'failing', updatedAt: sql`now()` })
        .where(
          and(
            eq(webhookEndpoints.id, endpointId),
            eq(webhookEndpoints.enabled, true),
            sql`${webhookEndpoints.failingSince} < now() - ${disableAfterMs}::float8 * interval '1 millisecond'`,
          ),
        )
        .returning({ id: webhookEndpoints.id })
      return disabled.length > 0
    })
  }

  /** After a 410 Gone: the endpoint asked not to be called again. */
  disableGone(endpointId: string): Promise<void> {
    return timedQuery('webhooks.disableGone', async () => {
      await this.db
        .update(webhookEndpoints)
        .set({ enabled: false, disabledReason: 'gone', updatedAt: sql`now()` })
        .where(eq(webhookEndpoints.id, endpointId))
    })
  }
}
