// The SQL of the ingest write path. One call writes a whole batch of requests with a fixed number of
// set-based statements, whatever the batch size: one for idempotency keys, the event log, the catalog,
// stock moves and refunds, and one each for counts and orders when the batch has any (then inside a
// transaction). Changes are reduced first (DISTINCT ON, GROUP BY, or in memory), so no statement touches a
// row twice, and later changes never lose to older ones that arrive late.
//
// This is the hot path, so it is plain SQL: each statement takes one array per column and reads them with
// unnest(), which keeps the text fixed (prepared once per connection) and the parameters few, however large
// the batch. The ingest tests run every statement, so a schema change that breaks one fails them.
import { sql } from 'drizzle-orm'
import { idempotencyKeys } from '../../db/schema.js'
import type { Database, SqlSession, Statement } from '../../platform/database.js'
import { timedQuery } from '../../platform/metrics.js'
import { TtlCache } from '../../platform/ttl-cache.js'
import { STATUS_OF_TYPE, type ValidEvent } from './events.js'

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

const SEP = '\u0000'
/** Store ids never change once created; a deleted tenant's ids fail the foreign key and clear the cache. */
const STORE_CACHE_TTL_MS = 60_000

type OrderEvent = Extract<ValidEvent, { type: `order.${string}` }>

interface Accepted {
  readonly tenantId: string
  readonly event: ValidEvent
}

const statement = (name: string, text: string): Statement => ({ name: `ingest.${name}`, text })

const FIND_KEYS = statement(
  'findKeys',
  `SELECT tenant_id, key, fingerprint FROM idempotency_keys
   WHERE (tenant_id, key) IN (SELECT * FROM unnest($1::uuid[], $2::text[]))`,
)
const FIND_STORES = statement(
  'findStores',
  `SELECT id, tenant_id, code FROM stores
   WHERE (tenant_id, code) IN (SELECT * FROM unnest($1::uuid[], $2::text[]))`,
)
const CREATE_STORES = statement(
  'createStores',
  `INSERT INTO stores (tenant_id, code) SELECT * FROM unnest($1::uuid[], $2::text[])
   ON CONFLICT DO NOTHING RETURNING id, tenant_id, code`,
)
// The whole write of a batch in one statement, so that a batch without orders or counts needs no explicit
// transaction and one round trip: it claims the idempotency keys, appends the events of the requests whose
// key it claimed (or that have none), and projects the appended events: the latest change per product, every
// stock move (stock on hand = the latest count + every move that happened after it, so a move that arrives
// after a later count is not counted twice) and refunds. Events stored before, or twice in this batch, are
// skipped: the first in batch order is stored. It answers with the keys claimed and the events appended.
const WRITE_BATCH = statement(
  'writeBatch',
  `WITH claimed AS (
     INSERT INTO idempotency_keys (tenant_id, key, fingerprint)
     SELECT * FROM unnest($1::uuid[], $2::text[], $3::text[])
     ON CONFLICT DO NOTHING RETURNING tenant_id, key
   ), appended AS (
     INSERT INTO events (tenant_id, source_id, source_name, event_id, type, payload, occurred_at)
     SELECT e.tenant_id, e.source_id, e.source_name, e.event_id, e.type, e.payload, e.occurred_at
     FROM unnest($4::uuid[], $5::uuid[], $6::text[], $7::text[], $8::text[], $9::jsonb[], $10::timestamptz[],
       $11::text[]) WITH ORDINALITY AS e(tenant_id, source_id, source_name, event_id, type, payload, occurred_at,
       request_key, n)
     WHERE e.request_key IS NULL
       OR EXISTS (SELECT 1 FROM claimed c WHERE c.tenant_id = e.tenant_id AND c.key = e.request_key)
     ORDER BY e.n
     ON CONFLICT (tenant_id, source_name, event_id) DO NOTHING
     RETURNING seq, tenant_id, source_name, event_id, type, payload, occurred_at
   ), store_ids AS (
     SELECT * FROM unnest($12::uuid[], $13::text[], $14::uuid[]) AS s(tenant_id, code, id)
   ), product_changes AS (
     SELECT DISTINCT ON (tenant_id, payload->>'sku') tenant_id, type, payload, occurred_at
     FROM appended WHERE type IN ('product.upserted', 'product.deleted')
     ORDER BY tenant_id, payload->>'sku', occurred_at DESC, seq DESC
   ), upserted AS (
     INSERT INTO products AS p (tenant_id, sku, name, price_amount, currency, barcode, changed_at)
     SELECT tenant_id, payload->>'sku', payload->>'name', (payload->'price'->>'amount')::bigint,
       payload->'price'->>'currency', payload->>'barcode', occurred_at
     FROM product_changes WHERE type = 'product.upserted'
     ORDER BY tenant_id, payload->>'sku'
     ON CONFLICT (tenant_id, sku) DO UPDATE SET
       name = excluded.name, price_amount = excluded.price_amount, currency = excluded.currency,
       barcode = excluded.barcode, deleted_at = NULL, changed_at = excluded.changed_at, updated_at = now()
     WHERE p.changed_at <= excluded.changed_at
     RETURNING 1
   ), deleted AS (
     UPDATE products p SET deleted_at = c.occurred_at, changed_at = c.occurred_at, updated_at = now()
     FROM product_changes c
     WHERE c.type = 'product.deleted' AND p.tenant_id = c.tenant_id AND p.sku = c.payload->>'sku'
       AND p.changed_at <= c.occurred_at
     RETURNING 1
   ), m AS (
     INSERT INTO stock_movements (tenant_id, store_id, sku, delta, occurred_at)
     SELECT a.tenant_id, s.id, a.payload->>'sku', (a.payload->>'delta')::numeric, a.occurred_at
     FROM appended a JOIN store_ids s ON s.tenant_id = a.tenant_id AND s.code = a.payload->>'storeId'
     WHERE a.type = 'inventory.adjusted'
     RETURNING tenant_id, store_id, sku, delta, occurred_at
   ), levels AS (
     INSERT INTO stock_levels AS s (tenant_id, store_id, sku, on_hand)
     SELECT tenant_id, store_id, sku, sum(delta) FROM m GROUP BY tenant_id, store_id, sku
     ORDER BY tenant_id, store_id, sku
     ON CONFLICT (tenant_id, store_id, sku) DO UPDATE SET
       on_hand = s.on_hand + coalesce((
         SELECT sum(m.delta) FROM m
         WHERE m.tenant_id = s.tenant_id AND m.store_id = s.store_id AND m.sku = s.sku
           AND (s.counted_at IS NULL OR m.occurred_at > s.counted_at)
       ), 0),
       updated_at = now()
     RETURNING 1
   ), refunded AS (
     INSERT INTO refunds (tenant_id, order_id, refund_id, amount, currency, occurred_at)
     SELECT tenant_id, payload->>'orderId', payload->>'refundId', (payload->'amount'->>'amount')::bigint,
       payload->'amount'->>'currency', occurred_at
     FROM appended WHERE type = 'refund.created'
     ON CONFLICT DO NOTHING
     RETURNING 1
   )
   SELECT true AS claimed, tenant_id, key AS name, NULL AS event_id FROM claimed
   UNION ALL
   SELECT false, tenant_id, source_name, event_id FROM appended`,
)
// Counts and orders follow in the same transaction, so a count sees the moves of its own batch.
const COUNT_STOCK = statement(
  'countStock',
  `INSERT INTO stock_levels AS s (tenant_id, store_id, sku, on_hand, counted_at)
   SELECT v.tenant_id, v.store_id, v.sku,
     v.on_hand + coalesce((
       SELECT sum(sm.delta) FROM stock_movements sm
       WHERE sm.tenant_id = v.tenant_id AND sm.store_id = v.store_id AND sm.sku = v.sku
         AND sm.occurred_at > v.counted_at
     ), 0),
     v.counted_at
   FROM unnest($1::uuid[], $2::uuid[], $3::text[], $4::numeric[], $5::timestamptz[])
     AS v(tenant_id, store_id, sku, on_hand, counted_at)
   ON CONFLICT (tenant_id, store_id, sku) DO UPDATE SET
     on_hand = excluded.on_hand, counted_at = excluded.counted_at, updated_at = now()
   WHERE s.counted_at IS NULL OR s.counted_at <= excluded.counted_at`,
)
// Versions decide when both sides have one, else the time it happened: the same rule as newerOrder().
const UPSERT_ORDERS = statement(
  'upsertOrders',
  `INSERT INTO orders AS o (tenant_id, order_id, store_id, status, version, currency, total_amount, changed_at)
   SELECT * FROM unnest($1::uuid[], $2::text[], $3::uuid[], $4::text[], $5::bigint[], $6::text[], $7::bigint[],
     $8::timestamptz[])
   ON CONFLICT (tenant_id, order_id) DO UPDATE SET
     store_id = excluded.store_id, status = excluded.status, version = coalesce(excluded.version, o.version),
     currency = excluded.currency, total_amount = excluded.total_amount, changed_at = excluded.changed_at,
     updated_at = now()
   WHERE CASE WHEN excluded.version IS NOT NULL AND o.version IS NOT NULL
     THEN excluded.version > o.version ELSE excluded.changed_at >= o.changed_at END
   RETURNING id, tenant_id, order_id`,
)
const CLEAR_LINE_ITEMS = statement(
  'clearLineItems',
  'DELETE FROM order_line_items WHERE order_pk = ANY($1::bigint[])',
)
const INSERT_LINE_ITEMS = statement(
  'insertLineItems',
  `INSERT INTO order_line_items (order_pk, position, sku, quantity, unit_price_amount, currency)
   SELECT * FROM unnest($1::bigint[], $2::int[], $3::text[], $4::numeric[], $5::bigint[], $6::text[])`,
)
/** Columns of rows, as unnest() takes them: one array per column. */
function columns<Row extends readonly unknown[]>(rows: readonly Row[], width: number): unknown[][] {
  const arrays: unknown[][] = Array.from({ length: width }, () => new Array(rows.length))
  for (let r = 0; r < rows.length; r++) {
    const row = rows[r]!
    for (let c = 0; c < width; c++) arrays[c]![r] = row[c]
  }
  return arrays
}

function run<Row>(session: SqlSession, stmt: Statement, params: readonly unknown[]): Promise<Row[]> {
  return timedQuery(stmt.name, () => session.query<Row>(stmt, params))
}

const byText = (a: string, b: string) => (a < b ? -1 : a > b ? 1 : 0)

/** Whether `a` is a newer state of an order than `b`: versions decide when both have one, else time. */
function newerOrder(a: OrderEvent, b: OrderEvent): boolean {
  if (a.data.version !== undefined && b.data.version !== undefined) return a.data.version > b.data.version
  return a.occurredAt.getTime() >= b.occurredAt.getTime()
}

/** Whether a batch needs an explicit transaction: counts and orders are written by statements of their own. */
export function needsTransaction(requests: readonly IngestRequest[]): boolean {
  return requests.some((request) =>
    request.events.some((event) => event.type === 'inventory.counted' || event.type.startsWith('order.')),
  )
}

export class IngestRepository {
  readonly #storeIds = new TtlCache<string>(STORE_CACHE_TTL_MS)

  /** Forgets cached store ids, after a write failed on a foreign key (a store's tenant was deleted). */
  forgetStores(): void {
    this.#storeIds.clear()
  }

  /**
   * Writes a batch. When `needsTransaction(requests)` is false, the session may autocommit: everything but
   * the creation of new stores (harmless on its own) happens in one statement.
   */
  async writeBatch(session: SqlSession, requests: readonly IngestRequest[]): Promise<WriteOutcome[]> {
    const storeIds = await this.#resolveStores(session, requests)
    const { claimed, appended } = await this.#write(session, requests, storeIds)
    const outcomes: (WriteOutcome | undefined)[] = await this.#settleTakenKeys(session, requests, claimed)
    const accepted: Accepted[] = []
    for (let i = 0; i < requests.length; i++) {
      if (outcomes[i] !== undefined) continue
      const request = requests[i]!
      const acceptedIds: string[] = []
      const duplicateIds: string[] = []
      for (const event of request.events) {
        if (appended.delete(`${request.tenantId}${SEP}${request.sourceName}${SEP}${event.id}`)) {
          acceptedIds.push(event.id)
          accepted.push({ tenantId: request.tenantId, event })
        } else {
          duplicateIds.push(event.id)
        }
      }
      outcomes[i] = { kind: 'created', acceptedIds, duplicateIds }
    }
    const storeOf = (tenantId: string, code: string) => storeIds.get(`${tenantId}${SEP}${code}`)!
    const counts = this.#latestCounts(accepted, storeOf)
    if (counts.length > 0) await run(session, COUNT_STOCK, columns(counts, 5))
    await this.#projectOrders(session, accepted, storeOf)
    return outcomes as WriteOutcome[]
  }

  async #write(
    session: SqlSession,
    requests: readonly IngestRequest[],
    storeIds: Map<string, string>,
  ): Promise<{ claimed: Set<string>; appended: Set<string> }> {
    const keys: [string, string, string][] = []
    const events: [string, string | null, string, string, string, string, string, string | null][] = []
    for (const request of requests) {
      const key = request.idempotencyKey ?? null
      if (key !== null) keys.push([request.tenantId, key, request.fingerprint])
      for (const event of request.events) {
        events.push([
          request.tenantId,
          request.sourceId,
          request.sourceName,
          event.id,
          event.type,
          JSON.stringify(event.data),
          event.occurredAt.toISOString(),
          key,
        ])
      }
    }
    // One lock order for every batch, so two batches never wait on each other's keys in a cycle.
    keys.sort((a, b) => byText(a[0], b[0]) || byText(a[1], b[1]))
    const stores = [...storeIds].map(([key, id]) => [...(key.split(SEP) as [string, string]), id] as const)
    const rows = await run<{ claimed: boolean; tenant_id: string; name: string; event_id: string | null }>(
      session,
      WRITE_BATCH,
      [...columns(keys, 3), ...columns(events, 8), ...columns(stores, 3)],
    )
    const claimed = new Set<string>()
    const appended = new Set<string>()
    for (const row of rows) {
      if (row.claimed) claimed.add(`${row.tenant_id}${SEP}${row.name}`)
      else appended.add(`${row.tenant_id}${SEP}${row.name}${SEP}${row.event_id}`)
    }
    return { claimed, appended }
  }

  /** A request whose key was claimed before is a replay when it is the same request, else a misuse of the key. */
  async #settleTakenKeys(
    session: SqlSession,
    requests: readonly IngestRequest[],
    claimed: Set<string>,
  ): Promise<(WriteOutcome | undefined)[]> {
    const outcomes: (WriteOutcome | undefined)[] = requests.map(() => undefined)
    const taken: [string, string, number][] = []
    requests.forEach((request, index) => {
      const key = request.idempotencyKey
      if (key !== undefined && !claimed.has(`${request.tenantId}${SEP}${key}`)) {
        taken.push([request.tenantId, key, index])
      }
    })
    if (taken.length === 0) return outcomes
    const existing = await run<{ tenant_id: string; key: string; fingerprint: string }>(
      session,
      FIND_KEYS,
      columns(taken, 2),
    )
    const fingerprints = new Map(existing.map((row) => [`${row.tenant_id}${SEP}${row.key}`, row.fingerprint]))
    for (const [tenantId, key, index] of taken) {
      const stored = fingerprints.get(`${tenantId}${SEP}${key}`)
      outcomes[index] =
        stored === requests[index]!.fingerprint ? { kind: 'replayed' } : { kind: 'key-reused' }
    }
    return outcomes
  }

  /** The ids of every store the events name, creating the stores seen for the first time. */
  async #resolveStores(
    session: SqlSession,
    requests: readonly IngestRequest[],
  ): Promise<Map<string, string>> {
    const ids = new Map<string, string>()
    const missing = new Map<string, [string, string]>()
    for (const { tenantId, events } of requests) {
      for (const event of events) {
        if (!('storeId' in event.data)) continue
        const key = `${tenantId}${SEP}${event.data.storeId}`
        if (ids.has(key) || missing.has(key)) continue
        const cached = this.#storeIds.get(key)
        if (cached === undefined) missing.set(key, [tenantId, event.data.storeId])
        else ids.set(key, cached)
      }
    }
    if (missing.size === 0) return ids
    const remember = (rows: { id: string; tenant_id: string; code: string }[]) => {
      for (const row of rows) {
        const key = `${row.tenant_id}${SEP}${row.code}`
        ids.set(key, row.id)
        this.#storeIds.set(key, row.id)
        missing.delete(key)
      }
    }
    remember(await run(session, FIND_STORES, columns([...missing.values()], 2)))
    if (missing.size > 0) {
      const wanted = [...missing.values()].sort((a, b) => byText(a[0], b[0]) || byText(a[1], b[1]))
      remember(await run(session, CREATE_STORES, columns(wanted, 2)))
    }
    // A store another transaction created meanwhile: our insert waited for it, then did nothing.
    if (missing.size > 0) remember(await run(session, FIND_STORES, columns([...missing.values()], 2)))
    return ids
  }

  /** The latest count per store and SKU among the accepted events. */
  #latestCounts(accepted: readonly Accepted[], storeOf: (tenantId: string, code: string) => string) {
    const latest = new Map<string, [string, string, string, string, string]>()
    for (const { tenantId, event } of accepted) {
      if (event.type !== 'inventory.counted') continue
      const { storeId, sku, onHand } = event.data
      const key = `${tenantId}${SEP}${storeId}${SEP}${sku}`
      const at = event.occurredAt.toISOString()
      const current = latest.get(key)
      if (!current || at >= current[4])
        latest.set(key, [tenantId, storeOf(tenantId, storeId), sku, String(onHand), at])
    }
    return [...latest.values()].sort((a, b) => byText(a[1], b[1]) || byText(a[2], b[2]))
  }

  async #projectOrders(
    session: SqlSession,
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
    const winners = [...latest.values()].sort((a, b) => byText(a.event.data.orderId, b.event.data.orderId))
    const rows = winners.map(({ tenantId, event }) => [
      tenantId,
      event.data.orderId,
      storeOf(tenantId, event.data.storeId),
      event.data.status ?? STATUS_OF_TYPE[event.type]!,
      event.data.version ?? null,
      event.data.currency,
      event.data.total.amount,
      event.occurredAt.toISOString(),
    ])
    const applied = await run<{ id: string; tenant_id: string; order_id: string }>(
      session,
      UPSERT_ORDERS,
      columns(rows, 8),
    )
    if (applied.length === 0) return
    await run(session, CLEAR_LINE_ITEMS, [applied.map((row) => row.id)])
    const items: [string, number, string, string, number, string][] = []
    for (const row of applied) {
      const { event } = latest.get(`${row.tenant_id}${SEP}${row.order_id}`)!
      event.data.lineItems.forEach((item, position) => {
        items.push([
          row.id,
          position,
          item.sku,
          String(item.quantity),
          item.unitPrice.amount,
          item.unitPrice.currency,
        ])
      })
    }
    if (items.length > 0) await run(session, INSERT_LINE_ITEMS, columns(items, 6))
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
