// The SQL of the ingest write path. One call writes a whole batch of requests in the caller's transaction
// with a fixed number of set-based statements, whatever the batch size: idempotency keys, the event log,
// and every projection (catalog, stock, orders, refunds). Rows are reduced in memory first, so no statement
// touches the same row twice, and later changes never lose to older ones that arrive late.
import { inArray, type SQL, sql } from 'drizzle-orm'
import {
  events,
  idempotencyKeys,
  orderLineItems,
  orders,
  products,
  refunds,
  stockLevels,
  stockMovements,
  stores,
} from '../../db/schema.js'
import type { Database } from '../../platform/database.js'
import { timedQuery } from '../../platform/metrics.js'
import { STATUS_OF_TYPE, type ValidEvent } from './events.js'

export type Transaction = Parameters<Parameters<Database['transaction']>[0]>[0]

export interface IngestRequest {
  readonly tenantId: string
  /** Null for changes made through the API itself. */
  readonly sourceId: string | null
  readonly sourceName: string
  readonly idempotencyKey: string | undefined
  /** SHA-256 of the source and the raw body. */
  readonly fingerprint: string
  readonly events: readonly ValidEvent[]
}

export type WriteOutcome =
  | { readonly kind: 'created'; readonly acceptedIds: string[]; readonly duplicateIds: string[] }
  | { readonly kind: 'replayed' }
  | { readonly kind: 'key-reused' }

const EVENT_CHUNK = 1000
const SEP = '\u0000'

type OrderEvent = Extract<ValidEvent, { type: `order.${string}` }>

interface Accepted {
  readonly tenantId: string
  readonly event: ValidEvent
}

/** A VALUES list for raw statements: each row's cells are bound parameters. */
function values(rows: readonly (readonly unknown[])[]): SQL {
  return sql.join(
    rows.map(
      (row) =>
        sql`(${sql.join(
          row.map((cell) => sql`${cell}`),
          sql`, `,
        )})`,
    ),
    sql`, `,
  )
}

/** Whether `a` is a newer state of an order than `b`: versions decide when both have one, else time. */
function newerOrder(a: OrderEvent, b: OrderEvent): boolean {
  if (a.data.version !== undefined && b.data.version !== undefined) return a.data.version > b.data.version
  return a.occurredAt.getTime() >= b.occurredAt.getTime()
}

export class IngestRepository {
  async writeBatch(tx: Transaction, requests: readonly IngestRequest[]): Promise<WriteOutcome[]> {
    const outcomes: (WriteOutcome | undefined)[] = await this.#claimIdempotencyKeys(tx, requests)
    const accepted: Accepted[] = []
    const inserted = await this.#insertEvents(
      tx,
      requests.filter((_, i) => outcomes[i] === undefined),
    )
    for (let i = 0; i < requests.length; i++) {
      if (outcomes[i] !== undefined) continue
      const request = requests[i]!
      const acceptedIds: string[] = []
      const duplicateIds: string[] = []
      for (const event of request.events) {
        const key = `${request.tenantId}${SEP}${request.sourceName}${SEP}${event.id}`
        if (inserted.delete(key)) {
          acceptedIds.push(event.id)
          accepted.push({ tenantId: request.tenantId, event })
        } else {
          duplicateIds.push(event.id)
        }
      }
      outcomes[i] = { kind: 'created', acceptedIds, duplicateIds }
    }
    if (accepted.length > 0) await this.#project(tx, accepted)
    return outcomes as WriteOutcome[]
  }

  /** Claims each request's key; a key already claimed makes the request a replay, or a misuse of the key. */
  async #claimIdempotencyKeys(
    tx: Transaction,
    requests: readonly IngestRequest[],
  ): Promise<(WriteOutcome | undefined)[]> {
    const outcomes: (WriteOutcome | undefined)[] = requests.map(() => undefined)
    const keyed = requests
      .map((request, index) => ({ request, index }))
      .filter(({ request }) => request.idempotencyKey !== undefined)
      // One lock order for every batch, so two batches never wait on each other's keys in a cycle.
      .sort((a, b) => {
        const x = `${a.request.tenantId}${SEP}${a.request.idempotencyKey}`
        const y = `${b.request.tenantId}${SEP}${b.request.idempotencyKey}`
        return x < y ? -1 : x > y ? 1 : 0
      })
    if (keyed.length === 0) return outcomes
    const claimed = await timedQuery('ingest.claimIdempotencyKeys', () =>
      tx
        .insert(idempotencyKeys)
        .values(
          keyed.map(({ request }) => ({
            tenantId: request.tenantId,
            key: request.idempotencyKey!,
            fingerprint: request.fingerprint,
          })),
        )
        .onConflictDoNothing()
        .returning({ tenantId: idempotencyKeys.tenantId, key: idempotencyKeys.key }),
    )
    const claimedSet = new Set(claimed.map((row) => `${row.tenantId}${SEP}${row.key}`))
    const taken = keyed.filter(
      ({ request }) => !claimedSet.has(`${request.tenantId}${SEP}${request.idempotencyKey}`),
    )
    if (taken.length === 0) return outcomes
    const existing = await timedQuery('ingest.findIdempotencyKeys', () =>
      tx
        .select({
          tenantId: idempotencyKeys.tenantId,
          key: idempotencyKeys.key,
          fingerprint: idempotencyKeys.fingerprint,
        })
        .from(idempotencyKeys)
        .where(
          sql`(${idempotencyKeys.tenantId}, ${idempotencyKeys.key}) IN (${values(
            taken.map(({ request }) => [request.tenantId, request.idempotencyKey]),
          )})`,
        ),
    )
    const fingerprints = new Map(existing.map((row) => [`${row.tenantId}${SEP}${row.key}`, row.fingerprint]))
    for (const { request, index } of taken) {
      const fingerprint = fingerprints.get(`${request.tenantId}${SEP}${request.idempotencyKey}`)
      outcomes[index] = fingerprint === request.fingerprint ? { kind: 'replayed' } : { kind: 'key-reused' }
    }
    return outcomes
  }

  /** Appends the events to the log; returns the keys of those that were new (the rest are duplicates). */
  async #insertEvents(tx: Transaction, requests: readonly IngestRequest[]): Promise<Set<string>> {
    const seen = new Set<string>()
    const rows: (typeof events.$inferInsert)[] = []
    for (const request of requests) {
      for (const event of request.events) {
        const key = `${request.tenantId}${SEP}${request.sourceName}${SEP}${event.id}`
        if (seen.has(key)) continue // the same event twice in one batch: the first one counts
        seen.add(key)
        rows.push({
          tenantId: request.tenantId,
          sourceId: request.sourceId,
          sourceName: request.sourceName,
          eventId: event.id,
          type: event.type,
          payload: event.data,
          occurredAt: event.occurredAt,
        })
      }
    }
    const inserted = new Set<string>()
    for (let start = 0; start < rows.length; start += EVENT_CHUNK) {
      const chunk = rows.slice(start, start + EVENT_CHUNK)
      const returned = await timedQuery('ingest.insertEvents', () =>
        tx
          .insert(events)
          .values(chunk)
          .onConflictDoNothing({ target: [events.tenantId, events.sourceName, events.eventId] })
          .returning({ tenantId: events.tenantId, sourceName: events.sourceName, eventId: events.eventId }),
      )
      for (const row of returned) inserted.add(`${row.tenantId}${SEP}${row.sourceName}${SEP}${row.eventId}`)
    }
    return inserted
  }

  async #project(tx: Transaction, accepted: readonly Accepted[]): Promise<void> {
    const storeIds = await this.#resolveStores(tx, accepted)
    const storeOf = (tenantId: string, code: string) => storeIds.get(`${tenantId}${SEP}${code}`)!
    await this.#projectProducts(tx, accepted)
    await this.#projectStock(tx, accepted, storeOf)
    await this.#projectOrders(tx, accepted, storeOf)
    await this.#projectRefunds(tx, accepted)
  }

  /** The ids of every store the events name, creating the stores seen for the first time. */
  async #resolveStores(tx: Transaction, accepted: readonly Accepted[]): Promise<Map<string, string>> {
    const wanted = new Map<string, { tenantId: string; code: string }>()
    for (const { tenantId, event } of accepted) {
      if (
        event.type === 'product.upserted' ||
        event.type === 'product.deleted' ||
        event.type === 'refund.created'
      ) {
        continue
      }
      wanted.set(`${tenantId}${SEP}${event.data.storeId}`, { tenantId, code: event.data.storeId })
    }
    const ids = new Map<string, string>()
    if (wanted.size === 0) return ids
    const find = async () => {
      const missing = [...wanted].filter(([key]) => !ids.has(key)).map(([, v]) => v)
      if (missing.length === 0) return
      const rows = await timedQuery('ingest.findStores', () =>
        tx
          .select({ id: stores.id, tenantId: stores.tenantId, code: stores.code })
          .from(stores)
          .where(
            sql`(${stores.tenantId}, ${stores.code}) IN (${values(missing.map((s) => [s.tenantId, s.code]))})`,
          ),
      )
      for (const row of rows) ids.set(`${row.tenantId}${SEP}${row.code}`, row.id)
    }
    await find()
    const missing = [...wanted].filter(([key]) => !ids.has(key)).map(([, v]) => v)
    if (missing.length > 0) {
      const created = await timedQuery('ingest.createStores', () =>
        tx
          .insert(stores)
          .values(missing.sort((a, b) => (a.code < b.code ? -1 : 1)))
          .onConflictDoNothing()
          .returning({ id: stores.id, tenantId: stores.tenantId, code: stores.code }),
      )
      for (const row of created) ids.set(`${row.tenantId}${SEP}${row.code}`, row.id)
      await find() // a store another transaction created meanwhile
    }
    return ids
  }

  async #projectProducts(tx: Transaction, accepted: readonly Accepted[]): Promise<void> {
    const latest = new Map<
      string,
      { tenantId: string; event: Extract<ValidEvent, { type: `product.${string}` }> }
    >()
    for (const { tenantId, event } of accepted) {
      if (event.type !== 'product.upserted' && event.type !== 'product.deleted') continue
      const key = `${tenantId}${SEP}${event.data.sku}`
      const current = latest.get(key)
      if (!current || event.occurredAt >= current.event.occurredAt) latest.set(key, { tenantId, event })
    }
    const upserts: (typeof products.$inferInsert)[] = []
    const deletes: [string, string, string][] = []
    for (const { tenantId, event } of [...latest.values()].sort((a, b) =>
      a.event.data.sku < b.event.data.sku ? -1 : 1,
    )) {
      if (event.type === 'product.deleted') {
        deletes.push([tenantId, event.data.sku, event.occurredAt.toISOString()])
        continue
      }
      const { sku, name, price, barcode } = event.data
      upserts.push({
        tenantId,
        sku,
        name,
        priceAmount: price.amount,
        currency: price.currency,
        barcode: barcode ?? null,
        deletedAt: null,
        changedAt: event.occurredAt,
      })
    }
    if (upserts.length > 0) {
      await timedQuery('ingest.upsertProducts', () =>
        tx
          .insert(products)
          .values(upserts)
          .onConflictDoUpdate({
            target: [products.tenantId, products.sku],
            set: {
              name: sql`excluded.name`,
              priceAmount: sql`excluded.price_amount`,
              currency: sql`excluded.currency`,
              barcode: sql`excluded.barcode`,
              deletedAt: sql`NULL`,
              changedAt: sql`excluded.changed_at`,
              updatedAt: sql`now()`,
            },
            setWhere: sql`${products.changedAt} <= excluded.changed_at`,
          }),
      )
    }
    if (deletes.length > 0) {
      await timedQuery('ingest.deleteProducts', () =>
        tx.execute(sql`
          UPDATE ${products} SET deleted_at = v.at::timestamptz, changed_at = v.at::timestamptz, updated_at = now()
          FROM (VALUES ${values(deletes)}) AS v(tenant_id, sku, at)
          WHERE ${products.tenantId} = v.tenant_id::uuid AND ${products.sku} = v.sku
            AND ${products.changedAt} <= v.at::timestamptz`),
      )
    }
  }

  /**
   * Stock on hand = the latest count + every adjustment that happened after it. Adjustments are kept as
   * movements, so a count that arrives late still adds the moves made after it was taken, and an adjustment
   * that arrives after a later count is not counted twice.
   */
  async #projectStock(
    tx: Transaction,
    accepted: readonly Accepted[],
    storeOf: (tenantId: string, code: string) => string,
  ): Promise<void> {
    const movements: [string, string, string, string, string][] = []
    const counts = new Map<
      string,
      { tenantId: string; storeId: string; sku: string; onHand: number; at: Date }
    >()
    for (const { tenantId, event } of accepted) {
      if (event.type === 'inventory.adjusted') {
        const { storeId, sku, delta } = event.data
        movements.push([
          tenantId,
          storeOf(tenantId, storeId),
          sku,
          String(delta),
          event.occurredAt.toISOString(),
        ])
      } else if (event.type === 'inventory.counted') {
        const { storeId, sku, onHand } = event.data
        const key = `${tenantId}${SEP}${storeId}${SEP}${sku}`
        const current = counts.get(key)
        if (!current || event.occurredAt >= current.at) {
          counts.set(key, {
            tenantId,
            storeId: storeOf(tenantId, storeId),
            sku,
            onHand,
            at: event.occurredAt,
          })
        }
      }
    }
    if (movements.length > 0) {
      await timedQuery('ingest.adjustStock', () =>
        tx.execute(sql`
          WITH m AS (
            INSERT INTO ${stockMovements} (tenant_id, store_id, sku, delta, occurred_at)
            SELECT v.tenant_id::uuid, v.store_id::uuid, v.sku, v.delta::numeric, v.occurred_at::timestamptz
            FROM (VALUES ${values(movements)}) AS v(tenant_id, store_id, sku, delta, occurred_at)
            RETURNING tenant_id, store_id, sku, delta, occurred_at
          )
          INSERT INTO ${stockLevels} AS s (tenant_id, store_id, sku, on_hand)
          SELECT tenant_id, store_id, sku, sum(delta) FROM m GROUP BY tenant_id, store_id, sku
          ORDER BY tenant_id, store_id, sku
          ON CONFLICT (tenant_id, store_id, sku) DO UPDATE SET
            on_hand = s.on_hand + coalesce((
              SELECT sum(m.delta) FROM m
              WHERE m.tenant_id = s.tenant_id AND m.store_id = s.store_id AND m.sku = s.sku
                AND (s.counted_at IS NULL OR m.occurred_at > s.counted_at)
            ), 0),
            updated_at = now()`),
      )
    }
    if (counts.size > 0) {
      const rows = [...counts.values()]
        .sort((a, b) => (a.storeId + a.sku < b.storeId + b.sku ? -1 : 1))
        .map((c) => [c.tenantId, c.storeId, c.sku, String(c.onHand), c.at.toISOString()])
      await timedQuery('ingest.countStock', () =>
        tx.execute(sql`
          INSERT INTO ${stockLevels} AS s (tenant_id, store_id, sku, on_hand, counted_at)
          SELECT v.tenant_id::uuid, v.store_id::uuid, v.sku,
            v.on_hand::numeric + coalesce((
              SELECT sum(sm.delta) FROM ${stockMovements} sm
              WHERE sm.tenant_id = v.tenant_id::uuid AND sm.store_id = v.store_id::uuid AND sm.sku = v.sku
                AND sm.occurred_at > v.counted_at::timestamptz
            ), 0),
            v.counted_at::timestamptz
          FROM (VALUES ${values(rows)}) AS v(tenant_id, store_id, sku, on_hand, counted_at)
          ON CONFLICT (tenant_id, store_id, sku) DO UPDATE SET
            on_hand = excluded.on_hand, counted_at = excluded.counted_at, updated_at = now()
          WHERE s.counted_at IS NULL OR s.counted_at <= excluded.counted_at`),
      )
    }
  }

  async #projectOrders(
    tx: Transaction,
    accepted: readonly Accepted[],
    storeOf: (tenantId: string, code: string) => string,
  ): Promise<void> {
    const latest = new Map<string, { tenantId: string; event: OrderEvent }>()
    for (const { tenantId, event } of accepted) {
      if (!event.type.startsWith('order.')) continue
      const orderEvent = event as OrderEvent
      const key = `${tenantId}${SEP}${orderEvent.data.orderId}`
      const current = latest.get(key)
      if (!current || newerOrder(orderEvent, current.event)) latest.set(key, { tenantId, event: orderEvent })
    }
    if (latest.size === 0) return
    const winners = [...latest.values()].sort((a, b) =>
      a.event.data.orderId < b.event.data.orderId ? -1 : 1,
    )
    const applied = await timedQuery('ingest.upsertOrders', () =>
      tx
        .insert(orders)
        .values(
          winners.map(({ tenantId, event }) => ({
            tenantId,
            orderId: event.data.orderId,
            storeId: storeOf(tenantId, event.data.storeId),
            status: event.data.status ?? STATUS_OF_TYPE[event.type]!,
            version: event.data.version ?? null,
            currency: event.data.currency,
            totalAmount: event.data.total.amount,
            changedAt: event.occurredAt,
          })),
        )
        .onConflictDoUpdate({
          target: [orders.tenantId, orders.orderId],
          set: {
            storeId: sql`excluded.store_id`,
            status: sql`excluded.status`,
            version: sql`coalesce(excluded.version, ${orders.version})`,
            currency: sql`excluded.currency`,
            totalAmount: sql`excluded.total_amount`,
            changedAt: sql`excluded.changed_at`,
            updatedAt: sql`now()`,
          },
          // The same rule as newerOrder: versions decide when both sides have one, else the time it happened.
          setWhere: sql`CASE WHEN excluded.version IS NOT NULL AND ${orders.version} IS NOT NULL
            THEN excluded.version > ${orders.version}
            ELSE excluded.changed_at >= ${orders.changedAt} END`,
        })
        .returning({ id: orders.id, tenantId: orders.tenantId, orderId: orders.orderId }),
    )
    if (applied.length === 0) return
    await timedQuery('ingest.clearLineItems', () =>
      tx.delete(orderLineItems).where(
        inArray(
          orderLineItems.orderPk,
          applied.map((row) => row.id),
        ),
      ),
    )
    const items: (typeof orderLineItems.$inferInsert)[] = []
    for (const row of applied) {
      const { event } = latest.get(`${row.tenantId}${SEP}${row.orderId}`)!
      event.data.lineItems.forEach((item, position) => {
        items.push({
          orderPk: row.id,
          position,
          sku: item.sku,
          quantity: String(item.quantity),
          unitPriceAmount: item.unitPrice.amount,
          currency: item.unitPrice.currency,
        })
      })
    }
    for (let start = 0; start < items.length; start += EVENT_CHUNK) {
      const chunk = items.slice(start, start + EVENT_CHUNK)
      await timedQuery('ingest.insertLineItems', () => tx.insert(orderLineItems).values(chunk))
    }
  }

  async #projectRefunds(tx: Transaction, accepted: readonly Accepted[]): Promise<void> {
    const rows: (typeof refunds.$inferInsert)[] = []
    for (const { tenantId, event } of accepted) {
      if (event.type !== 'refund.created') continue
      rows.push({
        tenantId,
        orderId: event.data.orderId,
        refundId: event.data.refundId,
        amount: event.data.amount.amount,
        currency: event.data.amount.currency,
        occurredAt: event.occurredAt,
      })
    }
    if (rows.length === 0) return
    await timedQuery('ingest.insertRefunds', () => tx.insert(refunds).values(rows).onConflictDoNothing())
  }

  async isIdempotencyKeyClaimed(db: Database, tenantId: string, key: string): Promise<boolean> {
    const rows = await timedQuery('ingest.findIdempotencyKey', () =>
      db
        .select({ key: idempotencyKeys.key })
        .from(idempotencyKeys)
        .where(sql`${idempotencyKeys.tenantId} = ${tenantId} AND ${idempotencyKeys.key} = ${key}`)
        .limit(1),
    )
    return rows.length > 0
  }

  /** Deletes idempotency keys older than the cutoff, a bounded number per statement; returns how many. */
  async deleteIdempotencyKeysBefore(db: Database, cutoff: Date, limit = 10_000): Promise<number> {
    const result = await timedQuery('ingest.reapIdempotencyKeys', () =>
      db.execute<{ deleted: number }>(sql`
        WITH gone AS (
          DELETE FROM ${idempotencyKeys} WHERE ctid IN (
            SELECT ctid FROM ${idempotencyKeys}
            WHERE ${idempotencyKeys.createdAt} < ${cutoff.toISOString()}::timestamptz LIMIT ${limit})
          RETURNING 1)
        SELECT count(*)::int AS deleted FROM gone`),
    )
    return Number(result.rows[0]?.deleted ?? 0)
  }
}
