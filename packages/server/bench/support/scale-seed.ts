// Seeds a database at scale for `npm run bench:scale`: one large tenant with N events beside many small ones,
// with every projection the ingest write path keeps (stores, products, stock moves and levels, orders with
// their line items, refunds). Nothing goes through HTTP: the events are generated in SQL (generate_series), one
// transaction per chunk so that the change feed's (tx_id, seq) order has as many transactions as a busy
// service would, and the projections are then derived from the stored events by set-based statements that
// apply the write path's rules (ingest/statements.ts, ingest/projections.ts). test/bench/scale-seed.test.ts
// ingests the same events through the API and checks that the read API answers the same over both.
//
// The derivations rely on what the generator guarantees, which keeps them short: occurrence times rise
// strictly with the event's position, an order's versions rise with its events, a product's payload is the
// same on every upsert, and a product is deleted only well after it was first upserted.
//
// Every table and column is named through the Drizzle schema (platform/sql.ts), as the write path's statements
// are, so a renamed column breaks the build here too. The names in lower case inside a statement are its own:
// aliases given where the schema's columns are read.
import { getTableName } from 'drizzle-orm'
import type pg from 'pg'
import {
  events as e,
  orderLineItems as li,
  orders as o,
  products as p,
  refunds as r,
  stockLevels as sl,
  stockMovements as sm,
  sources,
  stores as st,
  tenants,
} from '../../src/db/schema.js'
import { columns, column as q, select, table } from '../../src/platform/sql.js'

/** How the tenant's events spread over keys: scaled with N, capped at a large retailer's size. */
export interface KeySpread {
  readonly skus: number
  readonly stores: number
}

export function keySpreadOf(events: number): KeySpread {
  return {
    skus: Math.min(5000, Math.max(20, Math.floor(events / 1000))),
    stores: Math.min(40, Math.max(3, Math.floor(events / 100_000))),
  }
}

export interface SeedOptions {
  /** Events of the large tenant. */
  readonly events: number
  readonly smallTenants: number
  readonly eventsPerSmallTenant: number
  /** The large tenant's stores and SKUs; keySpreadOf(events) unless given. */
  readonly spread?: KeySpread
  /** Events per transaction. */
  readonly chunk?: number
  readonly log?: (line: string) => void
}

export interface SeededTenantRef {
  readonly tenantId: string
  readonly sourceName: string
}

export interface SeedResult {
  readonly large: SeededTenantRef
  readonly small: readonly SeededTenantRef[]
  readonly seconds: { readonly events: number; readonly projections: number; readonly indexes: number }
}

export const SEED_SOURCE = 'pos'
const DEFAULT_CHUNK = 5000
/** Where the large tenant's clock starts; each event happens one second after the one before. */
const EPOCH = '2026-01-01T00:00:00Z'

// The event at position i of a tenant, in cycles of ten: an order is created (1 to 3 lines) and, three events
// later, completed (1 in 20 canceled, 1 in 20 updated and left open); its first line moves stock; the other
// slots are stock moves (sales and restocks) over the whole spread of stores and SKUs, with now and then a
// refund, a physical count, a catalog change or a product deletion. `h` is a multiplicative hash of i.
const GENERATED = [e.tenantId, e.sourceId, e.sourceName, e.eventId, e.type, e.payload, e.occurredAt] as const
const GENERATOR = `
CREATE FUNCTION pg_temp.seed_events(
  p_tenant uuid, p_source uuid, p_source_name text, p_first bigint, p_last bigint, skus int, stores int, t0 timestamptz)
RETURNS TABLE (${GENERATED.map((col) => `${q(col)} ${col.getSQLType()}`).join(', ')})
LANGUAGE sql STABLE AS $fn$
  SELECT p_tenant, p_source, p_source_name, md5(p_tenant::text || ':' || i)::uuid::text, ev.type, ev.payload,
    t0 + i * interval '1 second'
  FROM generate_series(p_first, p_last) AS i
  CROSS JOIN LATERAL (SELECT i / 10 AS u, i % 10 AS r, (i * 2654435761) % 4294967296 AS h) k
  CROSS JOIN LATERAL (
    SELECT 'store-' || lpad((k.u % stores)::text, 3, '0') AS order_store,
      'store-' || lpad((k.h % stores)::text, 3, '0') AS any_store,
      'SKU-' || lpad(((k.h / 7) % skus)::text, 5, '0') AS any_sku
  ) pick
  CROSS JOIN LATERAL (
    SELECT jsonb_agg(jsonb_build_object('sku', l.sku, 'quantity', l.qty,
        'unitPrice', jsonb_build_object('amount', l.price, 'currency', 'EUR')) ORDER BY l.j) AS items,
      sum(l.qty * l.price) AS total,
      (array_agg(l.sku ORDER BY l.j))[1] AS first_sku,
      (array_agg(l.qty ORDER BY l.j))[1] AS first_qty,
      (array_agg(l.price ORDER BY l.j))[1] AS first_price
    FROM (
      SELECT j, 'SKU-' || lpad(s::text, 5, '0') AS sku, 1 + (k.u + j) % 4 AS qty, 199 + (s * 37) % 4800 AS price
      FROM generate_series(0, (k.u % 3)::int) AS j
      CROSS JOIN LATERAL (SELECT ((k.u * 7919 + j * 104729) % skus)::int AS s) x
    ) l
    WHERE k.r IN (0, 1, 3, 7)
  ) ord
  CROSS JOIN LATERAL (
    SELECT CASE
      WHEN k.r = 0 THEN 'order.created'
      WHEN k.r = 3 THEN CASE k.u % 20 WHEN 7 THEN 'order.canceled' WHEN 11 THEN 'order.updated' ELSE 'order.completed' END
      WHEN k.r = 7 AND k.u % 25 = 3 THEN 'refund.created'
      WHEN k.r = 8 AND k.u % 10 = 4 THEN 'inventory.counted'
      WHEN k.r = 9 AND k.u % 50 = 9 AND k.u >= 20 THEN 'product.deleted'
      WHEN k.r = 9 THEN 'product.upserted'
      ELSE 'inventory.adjusted' END AS type
  ) t
  CROSS JOIN LATERAL (
    SELECT t.type, CASE
      WHEN t.type LIKE 'order.%' THEN jsonb_build_object('orderId', 'ord-' || k.u, 'storeId', pick.order_store,
        'version', CASE WHEN k.r = 0 THEN 1 ELSE 2 END, 'currency', 'EUR', 'lineItems', ord.items,
        'total', jsonb_build_object('amount', ord.total, 'currency', 'EUR'))
      WHEN t.type = 'refund.created' THEN jsonb_build_object('orderId', 'ord-' || k.u, 'refundId', 'ref-' || k.u,
        'amount', jsonb_build_object('amount', ord.first_price, 'currency', 'EUR'))
      WHEN t.type = 'inventory.counted' THEN jsonb_build_object('storeId', pick.any_store, 'sku', pick.any_sku,
        'onHand', 20 + k.h % 50)
      WHEN t.type = 'product.deleted' THEN jsonb_build_object('sku', 'SKU-' || lpad(((k.u - 20) % skus)::text, 5, '0'))
      WHEN t.type = 'product.upserted' THEN (SELECT jsonb_build_object('sku', 'SKU-' || lpad(s::text, 5, '0'),
        'name', 'Product ' || lpad(s::text, 5, '0'), 'price', jsonb_build_object('amount', 199 + (s * 37) % 4800,
        'currency', 'EUR'), 'barcode', '40' || lpad(s::text, 11, '0')) FROM (SELECT (k.u % skus)::int AS s) x)
      -- The first line of the order created in this cycle leaves the shelf.
      WHEN k.r = 1 THEN jsonb_build_object('storeId', pick.order_store, 'sku', ord.first_sku, 'delta', -ord.first_qty)
      -- A restock.
      WHEN k.r = 5 THEN jsonb_build_object('storeId', pick.any_store, 'sku', pick.any_sku, 'delta', 12 + k.h % 24)
      ELSE jsonb_build_object('storeId', pick.any_store, 'sku', pick.any_sku, 'delta', -(1 + k.h % 3)) END AS payload
  ) ev
$fn$`

// The projections, derived from every stored event of the database, in the order of first appearance (the
// order of the ids the write path hands out). `received_at` stands for the write path's now(): the time the
// event's transaction stored it.

/** The events, read under the names the statements below use. */
const EVENTS = `(SELECT ${select({
  tenant_id: e.tenantId,
  type: e.type,
  payload: e.payload,
  occurred_at: e.occurredAt,
  received_at: e.receivedAt,
  seq: e.seq,
})} FROM ${table(e)})`

const STORE_EVENTS = `type IN ('inventory.adjusted', 'inventory.counted', 'order.created', 'order.updated',
  'order.completed', 'order.canceled')`

/** The store a stock or order event names: `s` joined to the events `x`. */
const JOIN_STORE = `JOIN ${table(st)} s
  ON ${q(st.tenantId, 's')} = x.tenant_id AND ${q(st.code, 's')} = x.payload->>'storeId'`

const PROJECTIONS = [
  `INSERT INTO ${table(st)} (${columns(st.tenantId, st.code, st.createdAt)})
   SELECT tenant_id, payload->>'storeId', min(received_at) FROM ${EVENTS} x WHERE ${STORE_EVENTS}
   GROUP BY tenant_id, payload->>'storeId' ORDER BY min(seq)`,

  `INSERT INTO ${table(p)} (${columns(p.tenantId, p.sku, p.name, p.priceAmount, p.currency, p.barcode)},
     ${columns(p.deletedAt, p.changedAt, p.createdAt, p.updatedAt)})
   WITH changes AS (
     SELECT tenant_id, payload->>'sku' AS sku, type, payload, occurred_at, received_at, seq FROM ${EVENTS} x
     WHERE type IN ('product.upserted', 'product.deleted')
   ), first_upsert AS (
     SELECT tenant_id, sku, min(seq) AS seq, min(received_at) AS received_at FROM changes
     WHERE type = 'product.upserted' GROUP BY tenant_id, sku
   ), last_upsert AS (
     SELECT DISTINCT ON (tenant_id, sku) tenant_id, sku, payload FROM changes
     WHERE type = 'product.upserted' ORDER BY tenant_id, sku, seq DESC
   ), last_change AS (
     -- A deletion before the product's first upsert finds no row and changes nothing.
     SELECT DISTINCT ON (c.tenant_id, c.sku) c.tenant_id, c.sku, c.type, c.occurred_at, c.received_at
     FROM changes c JOIN first_upsert f ON f.tenant_id = c.tenant_id AND f.sku = c.sku AND c.seq >= f.seq
     ORDER BY c.tenant_id, c.sku, c.seq DESC
   )
   SELECT f.tenant_id, f.sku, u.payload->>'name', (u.payload->'price'->>'amount')::bigint,
     u.payload->'price'->>'currency', u.payload->>'barcode',
     CASE WHEN l.type = 'product.deleted' THEN l.occurred_at END, l.occurred_at, f.received_at, l.received_at
   FROM first_upsert f
   JOIN last_upsert u ON u.tenant_id = f.tenant_id AND u.sku = f.sku
   JOIN last_change l ON l.tenant_id = f.tenant_id AND l.sku = f.sku
   ORDER BY f.seq`,

  `INSERT INTO ${table(sm)} (${columns(sm.tenantId, sm.storeId, sm.sku, sm.delta, sm.occurredAt)})
   SELECT x.tenant_id, ${q(st.id, 's')}, x.payload->>'sku', (x.payload->>'delta')::numeric, x.occurred_at
   FROM ${EVENTS} x ${JOIN_STORE}
   WHERE x.type = 'inventory.adjusted' ORDER BY x.seq`,

  // Stock on hand: the latest count plus every move that happened after it (all moves when never counted).
  `INSERT INTO ${table(sl)} (${columns(sl.tenantId, sl.storeId, sl.sku, sl.onHand, sl.countedAt, sl.updatedAt)})
   WITH stock AS (
     SELECT x.tenant_id, ${q(st.id, 's')} AS store_id, x.payload->>'sku' AS sku, x.type, x.payload, x.occurred_at,
       x.received_at, x.seq
     FROM ${EVENTS} x ${JOIN_STORE}
     WHERE x.type IN ('inventory.adjusted', 'inventory.counted')
   ), last_count AS (
     SELECT DISTINCT ON (tenant_id, store_id, sku) tenant_id, store_id, sku,
       (payload->>'onHand')::numeric AS on_hand, occurred_at
     FROM stock WHERE type = 'inventory.counted' ORDER BY tenant_id, store_id, sku, seq DESC
   )
   SELECT x.tenant_id, x.store_id, x.sku,
     coalesce(c.on_hand, 0) + coalesce(sum((x.payload->>'delta')::numeric)
       FILTER (WHERE x.type = 'inventory.adjusted' AND (c.occurred_at IS NULL OR x.occurred_at > c.occurred_at)), 0),
     c.occurred_at, max(x.received_at)
   FROM stock x
   LEFT JOIN last_count c ON c.tenant_id = x.tenant_id AND c.store_id = x.store_id AND c.sku = x.sku
   GROUP BY x.tenant_id, x.store_id, x.sku, c.on_hand, c.occurred_at
   ORDER BY min(x.seq)`,

  // The state an order shows is its event with the highest version; line items are that event's.
  `INSERT INTO ${table(o)} (${columns(o.tenantId, o.orderId, o.storeId, o.status, o.version, o.currency)},
     ${columns(o.totalAmount, o.changedAt, o.createdAt, o.updatedAt)})
   WITH changes AS (
     SELECT tenant_id, payload->>'orderId' AS order_id, type, payload, occurred_at, received_at, seq FROM ${EVENTS} x
     WHERE type IN ('order.created', 'order.updated', 'order.completed', 'order.canceled')
   ), firsts AS (
     SELECT tenant_id, order_id, min(seq) AS seq, min(received_at) AS received_at FROM changes
     GROUP BY tenant_id, order_id
   ), latest AS (
     SELECT DISTINCT ON (tenant_id, order_id) * FROM changes
     ORDER BY tenant_id, order_id, (payload->>'version')::bigint DESC, seq
   )
   SELECT x.tenant_id, x.order_id, ${q(st.id, 's')},
     coalesce(x.payload->>'status', CASE x.type WHEN 'order.completed' THEN 'COMPLETED'
       WHEN 'order.canceled' THEN 'CANCELED' ELSE 'OPEN' END),
     (x.payload->>'version')::bigint, x.payload->>'currency', (x.payload->'total'->>'amount')::bigint,
     x.occurred_at, f.received_at, x.received_at
   FROM latest x
   JOIN firsts f ON f.tenant_id = x.tenant_id AND f.order_id = x.order_id
   ${JOIN_STORE}
   ORDER BY f.seq`,

  `INSERT INTO ${table(li)} (${columns(li.orderPk, li.position, li.sku, li.quantity, li.unitPriceAmount, li.currency)})
   SELECT ${q(o.id, 'o')}, item.n - 1, item.value->>'sku', (item.value->>'quantity')::numeric,
     (item.value->'unitPrice'->>'amount')::bigint, item.value->'unitPrice'->>'currency'
   FROM (
     SELECT DISTINCT ON (tenant_id, payload->>'orderId') tenant_id, payload
     FROM ${EVENTS} x WHERE type IN ('order.created', 'order.updated', 'order.completed', 'order.canceled')
     ORDER BY tenant_id, payload->>'orderId', (payload->>'version')::bigint DESC, seq
   ) l
   JOIN ${table(o)} o ON ${q(o.tenantId, 'o')} = l.tenant_id AND ${q(o.orderId, 'o')} = l.payload->>'orderId'
   CROSS JOIN LATERAL jsonb_array_elements(l.payload->'lineItems') WITH ORDINALITY AS item(value, n)
   ORDER BY ${q(o.id, 'o')}, item.n`,

  `INSERT INTO ${table(r)} (${columns(r.tenantId, r.orderId, r.refundId, r.amount, r.currency)},
     ${columns(r.occurredAt, r.createdAt)})
   SELECT tenant_id, payload->>'orderId', payload->>'refundId', (payload->'amount'->>'amount')::bigint,
     payload->'amount'->>'currency', occurred_at, received_at
   FROM ${EVENTS} x WHERE type = 'refund.created' ORDER BY seq
   ON CONFLICT DO NOTHING`,
]

/** The tables the seed fills whose indexes are dropped while it loads and rebuilt after, as defined. */
const BULK_TABLES = [getTableName(e), getTableName(sm)]

interface IndexDefinition {
  readonly name: string
  readonly table: string
  /** CREATE INDEX ..., or ALTER TABLE ... ADD CONSTRAINT ... for a primary key. */
  readonly create: string
  readonly constraint: boolean
}

/** The indexes of the bulk tables exactly as the migrations created them, to drop now and rebuild later. */
async function bulkIndexes(client: pg.Client): Promise<IndexDefinition[]> {
  const { rows } = await client.query<{
    name: string
    table: string
    def: string
    constraint: string | null
  }>(
    `SELECT i.relname AS name, t.relname AS table, pg_get_indexdef(i.oid) AS def,
       pg_get_constraintdef(c.oid) AS constraint
     FROM pg_index x JOIN pg_class i ON i.oid = x.indexrelid JOIN pg_class t ON t.oid = x.indrelid
     LEFT JOIN pg_constraint c ON c.conindid = i.oid AND c.contype = 'p'
     WHERE t.relname = ANY($1) AND t.relnamespace = 'public'::regnamespace`,
    [BULK_TABLES],
  )
  return rows.map((row) => ({
    name: row.name,
    table: row.table,
    constraint: row.constraint !== null,
    create:
      row.constraint !== null
        ? `ALTER TABLE "${row.table}" ADD CONSTRAINT "${row.name}" ${row.constraint}`
        : row.def,
  }))
}

async function timed(work: () => Promise<void>): Promise<number> {
  const started = performance.now()
  await work()
  return (performance.now() - started) / 1000
}

/** Seeds a migrated, empty database through `client` (a session of its own: the generator is a temp function). */
export async function seedScaleData(client: pg.Client, options: SeedOptions): Promise<SeedResult> {
  const log = options.log ?? (() => undefined)
  const chunk = options.chunk ?? DEFAULT_CHUNK
  const { rows: existing } = await client.query<{ n: string }>(`SELECT count(*) AS n FROM ${table(e)}`)
  if (Number(existing[0]!.n) > 0) throw new Error('the database already holds events: seed a fresh one')
  await client.query(GENERATOR)

  const createTenant = async (name: string): Promise<SeededTenantRef & { sourceId: string }> => {
    const { rows } = await client.query<{ tenant_id: string; source_id: string }>(
      `WITH t AS (INSERT INTO ${table(tenants)} (${columns(tenants.name)}) VALUES ($1) RETURNING ${q(tenants.id)} AS id)
       INSERT INTO ${table(sources)} (${columns(sources.tenantId, sources.name, sources.kind)})
       SELECT id, $2, 'sdk' FROM t
       RETURNING ${select({ tenant_id: sources.tenantId, source_id: sources.id })}`,
      [name, SEED_SOURCE],
    )
    return { tenantId: rows[0]!.tenant_id, sourceId: rows[0]!.source_id, sourceName: SEED_SOURCE }
  }
  const insertEvents = (
    tenant: { tenantId: string; sourceId: string },
    first: number,
    last: number,
    spread: KeySpread,
  ) =>
    client.query(
      `INSERT INTO ${table(e)} (${columns(...GENERATED)})
       SELECT * FROM pg_temp.seed_events($1, $2, $3, $4, $5, $6, $7, $8)`,
      [tenant.tenantId, tenant.sourceId, SEED_SOURCE, first, last, spread.skus, spread.stores, EPOCH],
    )

  const indexes = await bulkIndexes(client)
  for (const index of indexes) {
    await client.query(
      index.constraint
        ? `ALTER TABLE "${index.table}" DROP CONSTRAINT "${index.name}"`
        : `DROP INDEX "${index.name}"`,
    )
  }

  const small: SeededTenantRef[] = []
  let large: (SeededTenantRef & { sourceId: string }) | undefined
  const eventSeconds = await timed(async () => {
    const smallSpread = keySpreadOf(options.eventsPerSmallTenant)
    for (let n = 0; n < options.smallTenants; n++) {
      const tenant = await createTenant(`Small tenant ${n + 1}`)
      small.push({ tenantId: tenant.tenantId, sourceName: tenant.sourceName })
      if (options.eventsPerSmallTenant > 0)
        await insertEvents(tenant, 0, options.eventsPerSmallTenant - 1, smallSpread)
    }
    large = await createTenant('Large tenant')
    const spread = options.spread ?? keySpreadOf(options.events)
    // One transaction per chunk (each statement autocommits), as group commits store them.
    for (let first = 0; first < options.events; first += chunk) {
      await insertEvents(large, first, Math.min(options.events, first + chunk) - 1, spread)
      if ((first / chunk) % 100 === 99) log(`  ${first + chunk} events`)
    }
  })
  log(`events stored in ${eventSeconds.toFixed(1)} s`)

  const projectionSeconds = await timed(async () => {
    for (const statement of PROJECTIONS) await client.query(statement)
  })
  log(`projections derived in ${projectionSeconds.toFixed(1)} s`)

  const indexSeconds = await timed(async () => {
    for (const index of indexes) await client.query(index.create)
    await client.query('VACUUM ANALYZE')
  })
  log(`indexes of ${BULK_TABLES.join(' and ')} rebuilt, database analysed, in ${indexSeconds.toFixed(1)} s`)
  return {
    large: { tenantId: large!.tenantId, sourceName: large!.sourceName },
    small,
    seconds: { events: eventSeconds, projections: projectionSeconds, indexes: indexSeconds },
  }
}
