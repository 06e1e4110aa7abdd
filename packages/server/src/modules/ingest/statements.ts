// The SQL of the ingest write path. One batch of requests is written by a fixed number of set-based
// statements whatever its size: WRITE_BATCH claims the keys, appends the events and projects the catalog, stock
// moves and refunds; COUNT_STOCK and the order statements follow when the batch has counts or orders (then
// inside a transaction). Changes are reduced first (DISTINCT ON, GROUP BY, or in memory), so no statement
// touches a row twice, and later changes never lose to older ones that arrive late.
//
// Each statement takes one array per column and reads them with unnest(), which keeps its text fixed (prepared
// once per connection) and its parameters few, however large the batch. The events themselves, the bulk of a
// batch (JSON payloads), go as one JSON array of records instead (recordset()): cheaper to write and to read.
// Every table, column and array type is rendered from the Drizzle schema (platform/sql.ts), and each
// statement's parameters and rows are typed.
import {
  events as e,
  idempotencyKeys as ik,
  orderLineItems as li,
  orders as o,
  products as p,
  refunds as r,
  stockLevels as sl,
  stockMovements as sm,
  stores as st,
  tenants as tn,
} from '../../db/schema.js'
import {
  arrays,
  type ColumnArrays,
  columns,
  column as q,
  type RecordOf,
  type RowOf,
  recordset,
  select,
  statement,
  table,
} from '../../platform/sql.js'

const name = (what: string) => `ingest.${what}`

// --- Stores ------------------------------------------------------------------------------------------------

const storeKey = [st.tenantId, st.code] as const
const storeRow = { id: st.id, tenant_id: st.tenantId, code: st.code }
export type StoreRow = RowOf<typeof storeRow>

export const FIND_STORES = statement<ColumnArrays<typeof storeKey>, StoreRow>(
  name('findStores'),
  `SELECT ${select(storeRow)} FROM ${table(st)}
   WHERE (${columns(...storeKey)}) IN (SELECT * FROM unnest(${arrays(1, storeKey)}))`,
)

export const CREATE_STORES = statement<ColumnArrays<typeof storeKey>, StoreRow>(
  name('createStores'),
  `INSERT INTO ${table(st)} (${columns(...storeKey)}) SELECT * FROM unnest(${arrays(1, storeKey)})
   ON CONFLICT DO NOTHING RETURNING ${select(storeRow)}`,
)

// --- Idempotency keys --------------------------------------------------------------------------------------

const keyColumns = [ik.tenantId, ik.key, ik.fingerprint] as const
const keyId = [ik.tenantId, ik.key] as const
const keyRow = { tenant_id: ik.tenantId, key: ik.key, fingerprint: ik.fingerprint }
export type KeyRow = RowOf<typeof keyRow>

/** The fingerprints stored for keys this batch could not claim. */
export const FIND_KEYS = statement<ColumnArrays<typeof keyId>, KeyRow>(
  name('findKeys'),
  `SELECT ${select(keyRow)} FROM ${table(ik)}
   WHERE (${columns(...keyId)}) IN (SELECT * FROM unnest(${arrays(1, keyId)}))`,
)

const requestEvents = [e.tenantId, e.sourceName, e.eventId, e.requestKey] as const
const storedEventRow = { tenant_id: e.tenantId, source_name: e.sourceName, event_id: e.eventId }
export type StoredEventRow = RowOf<typeof storedEventRow>

/** Of the events a replayed request names, those its original stored (found through the primary key). */
export const FIND_REQUEST_EVENTS = statement<ColumnArrays<typeof requestEvents>, StoredEventRow>(
  name('findRequestEvents'),
  `SELECT ${select(storedEventRow, 'x')} FROM ${table(e)} x
   JOIN unnest(${arrays(1, requestEvents)}) AS w(tenant_id, source_name, event_id, request_key)
     ON ${q(e.tenantId, 'x')} = w.tenant_id AND ${q(e.sourceName, 'x')} = w.source_name
     AND ${q(e.eventId, 'x')} = w.event_id AND ${q(e.requestKey, 'x')} = w.request_key`,
)

const keyExists = { key: ik.key }
export const FIND_KEY = statement<[string, string], RowOf<typeof keyExists>>(
  name('findIdempotencyKey'),
  `SELECT ${select(keyExists)} FROM ${table(ik)} WHERE ${q(ik.tenantId)} = $1 AND ${q(ik.key)} = $2 LIMIT 1`,
)

/** Deletes keys older than $1, at most $2 per statement, so the reaper never holds long locks. */
export const REAP_KEYS = statement<[string, number], { deleted: number }>(
  name('reapIdempotencyKeys'),
  `WITH gone AS (
     DELETE FROM ${table(ik)} WHERE ctid IN (
       SELECT ctid FROM ${table(ik)} WHERE ${q(ik.createdAt)} < $1::timestamptz LIMIT $2)
     RETURNING 1)
   SELECT count(*)::int AS deleted FROM gone`,
)

// --- The batch ---------------------------------------------------------------------------------------------

/** The events a batch appends, one JSON record each (platform/sql.ts `recordset`), as WRITE_BATCH names them. */
const eventFields = {
  tenant_id: e.tenantId,
  source_id: e.sourceId,
  source_name: e.sourceName,
  event_id: e.eventId,
  type: e.type,
  payload: e.payload,
  occurred_at: e.occurredAt,
  request_key: e.requestKey,
} as const
export type EventRecord = RecordOf<typeof eventFields>
const eventNames = Object.keys(eventFields)
const storeIdColumns = [st.tenantId, st.code, st.id] as const

export type WriteBatchParams = [
  /** The batch's tenants; each is locked (in id order) before anything of it is written. */
  tenants: string[],
  ...ColumnArrays<typeof keyColumns>,
  /** JSON.stringify of the batch's EventRecord[], in batch order. */
  events: string,
  ...ColumnArrays<typeof storeIdColumns>,
]
/**
 * A tenant the batch found and locked (`tenant`), a key it claimed (`key`, name = the key) or an event it
 * appended (`event`, name = the source's name).
 */
export interface WriteBatchRow {
  readonly kind: 'tenant' | 'key' | 'event'
  readonly tenant_id: string
  readonly name: string | null
  readonly event_id: string | null
}

// Names of the JSON fields the projections read from an event's payload.
const sku = `payload->>'sku'`
const firstKey = 2
const firstEvent = firstKey + keyColumns.length
const firstStore = firstEvent + 1

// The whole write of a batch in one statement, so that a batch without orders or counts needs no explicit
// transaction and one round trip: it locks the batch's tenants (FOR KEY SHARE, which a tenant's deletion waits
// for, TenantsRepository.deleteTenant) and writes nothing for one that is gone, claims the idempotency keys,
// appends the events of the requests whose key it claimed (or that have none), and projects the appended
// events: the latest change per product, every stock move (stock on hand = the latest count + every move that
// happened after it, so a move that arrives after a later count is not counted twice) and refunds. A stock level adds the sum of its moves in the batch when
// it was never counted or counted before the batch's earliest move (one uncorrelated subquery for the whole
// batch); only a level counted in between sums its moves one by one, since scanning the batch's moves for
// every level would cost the square of the batch's size. Events stored before, or twice in this batch, are
// skipped: the first in batch order is stored. It answers with the tenants it locked, the keys it claimed and the
// events it appended.
export const WRITE_BATCH = statement<WriteBatchParams, WriteBatchRow>(
  name('writeBatch'),
  `WITH live AS (
     SELECT ${q(tn.id)} AS id FROM ${table(tn)} WHERE ${q(tn.id)} = ANY(${arrays(1, [tn.id])})
     ORDER BY ${q(tn.id)} FOR KEY SHARE
   ), claimed AS (
     INSERT INTO ${table(ik)} (${columns(...keyColumns)})
     SELECT * FROM unnest(${arrays(firstKey, keyColumns)}) AS k(tenant_id, key, fingerprint)
     WHERE k.tenant_id IN (SELECT id FROM live)
     ON CONFLICT DO NOTHING RETURNING ${columns(ik.tenantId, ik.key)}
   ), appended AS (
     INSERT INTO ${table(e)} (${columns(...Object.values(eventFields))})
     SELECT ${eventNames.map((field) => `w.${field}`).join(', ')}
     FROM ROWS FROM (${recordset(firstEvent, eventFields)}) WITH ORDINALITY AS w(${eventNames.join(', ')}, n)
     WHERE w.tenant_id IN (SELECT id FROM live) AND (w.request_key IS NULL
       OR EXISTS (SELECT 1 FROM claimed c WHERE c.${q(ik.tenantId)} = w.tenant_id AND c.${q(ik.key)} = w.request_key))
     ORDER BY w.n
     ON CONFLICT (${columns(e.tenantId, e.sourceName, e.eventId)}) DO NOTHING
     RETURNING ${select({ seq: e.seq, tenant_id: e.tenantId, source_name: e.sourceName, event_id: e.eventId, type: e.type, payload: e.payload, occurred_at: e.occurredAt })}
   ), store_ids AS (
     SELECT * FROM unnest(${arrays(firstStore, storeIdColumns)}) AS s(tenant_id, code, id)
   ), product_changes AS (
     SELECT DISTINCT ON (tenant_id, ${sku}) tenant_id, type, payload, occurred_at
     FROM appended WHERE type IN ('product.upserted', 'product.deleted')
     ORDER BY tenant_id, ${sku}, occurred_at DESC, seq DESC
   ), upserted AS (
     INSERT INTO ${table(p)} AS p (${columns(p.tenantId, p.sku, p.name, p.priceAmount, p.currency, p.barcode, p.changedAt)})
     SELECT tenant_id, ${sku}, payload->>'name', (payload->'price'->>'amount')::bigint,
       payload->'price'->>'currency', payload->>'barcode', occurred_at
     FROM product_changes WHERE type = 'product.upserted'
     ORDER BY tenant_id, ${sku}
     ON CONFLICT (${columns(p.tenantId, p.sku)}) DO UPDATE SET
       ${q(p.name)} = excluded.${q(p.name)}, ${q(p.priceAmount)} = excluded.${q(p.priceAmount)},
       ${q(p.currency)} = excluded.${q(p.currency)}, ${q(p.barcode)} = excluded.${q(p.barcode)},
       ${q(p.deletedAt)} = NULL, ${q(p.changedAt)} = excluded.${q(p.changedAt)}, ${q(p.updatedAt)} = now()
     WHERE ${q(p.changedAt, 'p')} <= excluded.${q(p.changedAt)}
     RETURNING 1
   ), deleted AS (
     UPDATE ${table(p)} p SET ${q(p.deletedAt)} = c.occurred_at, ${q(p.changedAt)} = c.occurred_at,
       ${q(p.updatedAt)} = now()
     FROM product_changes c
     WHERE c.type = 'product.deleted' AND ${q(p.tenantId, 'p')} = c.tenant_id AND ${q(p.sku, 'p')} = c.${sku}
       AND ${q(p.changedAt, 'p')} <= c.occurred_at
     RETURNING 1
   ), m AS (
     INSERT INTO ${table(sm)} (${columns(sm.tenantId, sm.storeId, sm.sku, sm.delta, sm.occurredAt)})
     SELECT a.tenant_id, s.id, a.${sku}, (a.payload->>'delta')::numeric, a.occurred_at
     FROM appended a JOIN store_ids s ON s.tenant_id = a.tenant_id AND s.code = a.payload->>'storeId'
     WHERE a.type = 'inventory.adjusted'
     RETURNING ${select({ tenant_id: sm.tenantId, store_id: sm.storeId, sku: sm.sku, delta: sm.delta, occurred_at: sm.occurredAt })}
   ), levels AS (
     INSERT INTO ${table(sl)} AS s (${columns(sl.tenantId, sl.storeId, sl.sku, sl.onHand)})
     SELECT tenant_id, store_id, sku, sum(delta) FROM m GROUP BY tenant_id, store_id, sku
     ORDER BY tenant_id, store_id, sku
     ON CONFLICT (${columns(sl.tenantId, sl.storeId, sl.sku)}) DO UPDATE SET
       ${q(sl.onHand)} = ${q(sl.onHand, 's')} + CASE
         WHEN ${q(sl.countedAt, 's')} IS NULL OR ${q(sl.countedAt, 's')} < (SELECT min(occurred_at) FROM m)
         THEN excluded.${q(sl.onHand)}
         ELSE coalesce((
           SELECT sum(m.delta) FROM m
           WHERE m.tenant_id = ${q(sl.tenantId, 's')} AND m.store_id = ${q(sl.storeId, 's')}
             AND m.sku = ${q(sl.sku, 's')} AND m.occurred_at > ${q(sl.countedAt, 's')}
         ), 0) END,
       ${q(sl.updatedAt)} = now()
     RETURNING 1
   ), refunded AS (
     INSERT INTO ${table(r)} (${columns(r.tenantId, r.orderId, r.refundId, r.amount, r.currency, r.occurredAt)})
     SELECT tenant_id, payload->>'orderId', payload->>'refundId', (payload->'amount'->>'amount')::bigint,
       payload->'amount'->>'currency', occurred_at
     FROM appended WHERE type = 'refund.created'
     ON CONFLICT DO NOTHING
     RETURNING 1
   )
   SELECT 'tenant' AS kind, id AS tenant_id, NULL AS name, NULL AS event_id FROM live
   UNION ALL
   SELECT 'key', ${q(ik.tenantId)}, ${q(ik.key)}, NULL FROM claimed
   UNION ALL
   SELECT 'event', tenant_id, source_name, event_id FROM appended`,
)

// --- Projections that need the batch's transaction ---------------------------------------------------------

const countColumns = [sl.tenantId, sl.storeId, sl.sku, sl.onHand, sl.countedAt] as const

// Counts follow the batch in the same transaction, so a count sees the moves of its own batch.
export const COUNT_STOCK = statement<ColumnArrays<typeof countColumns>, never>(
  name('countStock'),
  `INSERT INTO ${table(sl)} AS s (${columns(...countColumns)})
   SELECT v.tenant_id, v.store_id, v.sku,
     v.on_hand + coalesce((
       SELECT sum(x.${q(sm.delta)}) FROM ${table(sm)} x
       WHERE ${q(sm.tenantId, 'x')} = v.tenant_id AND ${q(sm.storeId, 'x')} = v.store_id
         AND ${q(sm.sku, 'x')} = v.sku AND ${q(sm.occurredAt, 'x')} > v.counted_at
     ), 0),
     v.counted_at
   FROM unnest(${arrays(1, countColumns)}) AS v(tenant_id, store_id, sku, on_hand, counted_at)
   ON CONFLICT (${columns(sl.tenantId, sl.storeId, sl.sku)}) DO UPDATE SET
     ${q(sl.onHand)} = excluded.${q(sl.onHand)}, ${q(sl.countedAt)} = excluded.${q(sl.countedAt)},
     ${q(sl.updatedAt)} = now()
   WHERE ${q(sl.countedAt, 's')} IS NULL OR ${q(sl.countedAt, 's')} <= excluded.${q(sl.countedAt)}`,
)

const orderColumns = [
  o.tenantId,
  o.orderId,
  o.storeId,
  o.status,
  o.version,
  o.currency,
  o.totalAmount,
  o.changedAt,
] as const
const appliedOrderRow = { id: o.id, tenant_id: o.tenantId, order_id: o.orderId }
export type AppliedOrderRow = RowOf<typeof appliedOrderRow>

// Versions decide when both sides have one, else the time it happened: the same rule as newerOrder().
export const UPSERT_ORDERS = statement<ColumnArrays<typeof orderColumns>, AppliedOrderRow>(
  name('upsertOrders'),
  `INSERT INTO ${table(o)} AS o (${columns(...orderColumns)})
   SELECT * FROM unnest(${arrays(1, orderColumns)})
   ON CONFLICT (${columns(o.tenantId, o.orderId)}) DO UPDATE SET
     ${q(o.storeId)} = excluded.${q(o.storeId)}, ${q(o.status)} = excluded.${q(o.status)},
     ${q(o.version)} = coalesce(excluded.${q(o.version)}, ${q(o.version, 'o')}),
     ${q(o.currency)} = excluded.${q(o.currency)}, ${q(o.totalAmount)} = excluded.${q(o.totalAmount)},
     ${q(o.changedAt)} = excluded.${q(o.changedAt)}, ${q(o.updatedAt)} = now()
   WHERE CASE WHEN excluded.${q(o.version)} IS NOT NULL AND ${q(o.version, 'o')} IS NOT NULL
     THEN excluded.${q(o.version)} > ${q(o.version, 'o')}
     ELSE excluded.${q(o.changedAt)} >= ${q(o.changedAt, 'o')} END
   RETURNING ${select(appliedOrderRow)}`,
)

export const CLEAR_LINE_ITEMS = statement<[(number | string)[]], never>(
  name('clearLineItems'),
  `DELETE FROM ${table(li)} WHERE ${q(li.orderPk)} = ANY(${arrays(1, [li.orderPk])})`,
)

const lineItemColumns = [
  li.orderPk,
  li.position,
  li.sku,
  li.quantity,
  li.unitPriceAmount,
  li.currency,
] as const
export const INSERT_LINE_ITEMS = statement<ColumnArrays<typeof lineItemColumns>, never>(
  name('insertLineItems'),
  `INSERT INTO ${table(li)} (${columns(...lineItemColumns)})
   SELECT * FROM unnest(${arrays(1, lineItemColumns)})`,
)
