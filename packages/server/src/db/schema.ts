// The one schema definition: every table, column and index the service stores. drizzle-kit generates the
// SQL migrations in ../../drizzle/ from this file, and `db:status` fails when the two disagree.

import { SOURCE_KINDS } from '@pos/contracts/admin'
import { ORDER_STATUSES } from '@pos/contracts/order'
import { sql } from 'drizzle-orm'
import {
  bigint,
  bigserial,
  boolean,
  check,
  customType,
  index,
  integer,
  jsonb,
  numeric,
  type PgColumn,
  type PgTable,
  pgTable,
  primaryKey,
  text,
  timestamp,
  uniqueIndex,
  uuid,
} from 'drizzle-orm/pg-core'

const createdAt = () => timestamp('created_at', { withTimezone: true, mode: 'date' }).notNull().defaultNow()
const updatedAt = () => timestamp('updated_at', { withTimezone: true, mode: 'date' }).notNull().defaultNow()
const tenantId = () =>
  uuid('tenant_id')
    .notNull()
    .references(() => tenants.id, { onDelete: 'cascade' })
/**
 * The tenant of a row the write path writes with every batch (events, keys, stock, catalogue, orders): no
 * foreign key, whose check would be a lookup and lock of the tenant per row. Instead WRITE_BATCH locks each
 * tenant of a batch once and writes nothing for one that is gone, and deleting a tenant locks it first and
 * deletes these rows explicitly (TenantsRepository.deleteTenant).
 */
const writePathTenantId = () => uuid('tenant_id').notNull()
/** Money in minor units; JavaScript numbers hold them exactly up to 2^53. */
const money = (name: string) => bigint(name, { mode: 'number' })
/** Quantities may be fractional (weighed goods). */
const quantity = (name: string) => numeric(name, { precision: 20, scale: 6 })

/** The 64-bit id of the transaction that wrote a row; orders the change feed by commit visibility. */
const xid8 = customType<{ data: string; driverData: string }>({ dataType: () => 'xid8' })

export const tenants = pgTable(
  'tenants',
  {
    id: uuid('id').primaryKey().default(sql`gen_random_uuid()`),
    name: text('name').notNull(),
    /** The tenant's own rate limit per API key; both null: RATE_LIMIT_MAX per RATE_LIMIT_WINDOW_MS. */
    rateLimitMax: integer('rate_limit_max'),
    rateLimitWindowMs: integer('rate_limit_window_ms'),
    createdAt: createdAt(),
  },
  (t) => [
    check(
      'tenants_rate_limit_check',
      sql`(${t.rateLimitMax} IS NULL) = (${t.rateLimitWindowMs} IS NULL) AND (${t.rateLimitMax} IS NULL OR (${t.rateLimitMax} > 0 AND ${t.rateLimitWindowMs} >= 1000 AND ${t.rateLimitWindowMs} % 1000 = 0))`,
    ),
  ],
)

export const apiKeys = pgTable(
  'api_keys',
  {
    id: uuid('id').primaryKey().default(sql`gen_random_uuid()`),
    tenantId: tenantId(),
    name: text('name').notNull(),
    /** The public start of the key, for lookup; the key itself is never stored. */
    prefix: text('prefix').notNull(),
    /** SHA-256 of the whole key, hex. Keys carry 192 random bits, so a fast hash is enough. */
    keyHash: text('key_hash').notNull(),
    scopes: text('scopes').array().notNull(),
    createdAt: createdAt(),
    revokedAt: timestamp('revoked_at', { withTimezone: true, mode: 'date' }),
  },
  (t) => [uniqueIndex('api_keys_prefix_key').on(t.prefix), index('api_keys_tenant_idx').on(t.tenantId)],
)

export const sources = pgTable(
  'sources',
  {
    id: uuid('id').primaryKey().default(sql`gen_random_uuid()`),
    tenantId: tenantId(),
    /** The slug used in ingest URLs: POST /v1/ingest/:source. */
    name: text('name').notNull(),
    kind: text('kind', { enum: SOURCE_KINDS }).notNull(),
    /**
     * Active HMAC secrets, newest first; two during a rotation. Empty: requests need no signature. Each one is
     * encrypted by platform/secrets.ts and bound to this row (SEALED_COLUMNS below).
     */
    encryptedSigningSecrets: text('encrypted_signing_secrets').array().notNull().default(sql`'{}'::text[]`),
    /**
     * The secrets as they were stored before encryption at rest (migration 0001 renamed the column, so that
     * replicas of the previous version fail instead of reading it as "unsigned"). Start-up encrypts whatever
     * is left here into encryptedSigningSecrets and empties it; a later migration drops it.
     */
    plaintextSigningSecrets: text('plaintext_signing_secrets').array().notNull().default(sql`'{}'::text[]`),
    /**
     * A connector source's (kind square or shopify) settings that are not secret: Square's notificationUrl
     * and baseUrl, Shopify's shopDomain, apiVersion and baseUrl (modules/connectors/config.ts). Null: not
     * configured, its webhooks are refused and it is never reconciled.
     */
    connectorSettings: jsonb('connector_settings'),
    /**
     * The connector's secrets (Square's signatureKey and accessToken, Shopify's webhookSecret and
     * accessToken) as one JSON object, encrypted by platform/secrets.ts and bound to this row (SEALED_COLUMNS).
     */
    encryptedConnectorSecrets: text('encrypted_connector_secrets'),
    createdAt: createdAt(),
  },
  (t) => [
    uniqueIndex('sources_tenant_name_key').on(t.tenantId, t.name),
    check('sources_kind_check', sql`${t.kind} IN ('sdk', 'custom', 'square', 'shopify')`),
  ],
)

/**
 * Remote configuration of a tenant's devices (GET /v1/config): a row without a source holds the tenant's
 * settings, a row with one that source's overrides. Every setting is nullable: null is "not set here", and the
 * level above (or the default, @pos/contracts/device-config) applies.
 */
export const deviceConfigs = pgTable(
  'device_configs',
  {
    id: uuid('id').primaryKey().default(sql`gen_random_uuid()`),
    tenantId: tenantId(),
    sourceId: uuid('source_id').references(() => sources.id, { onDelete: 'cascade' }),
    syncEnabled: boolean('sync_enabled'),
    minFlushIntervalSec: integer('min_flush_interval_sec'),
    maxBatchSize: integer('max_batch_size'),
    retryCap: integer('retry_cap'),
    maintenanceMode: boolean('maintenance_mode'),
    minSdkVersion: text('min_sdk_version'),
    updatedAt: updatedAt(),
  },
  (t) => [
    uniqueIndex('device_configs_tenant_key').on(t.tenantId).where(sql`${t.sourceId} IS NULL`),
    uniqueIndex('device_configs_source_key').on(t.sourceId).where(sql`${t.sourceId} IS NOT NULL`),
    check('device_configs_max_batch_size_check', sql`${t.maxBatchSize} BETWEEN 1 AND 500`),
  ],
)

/** What a source's signing secrets are bound to when encrypted: they decrypt in no other row. */
export const sourceSigningSecretAad = (sourceId: string): string => `source:${sourceId}:signing`

/** What a connector source's secrets are bound to when encrypted. */
export const sourceConnectorSecretsAad = (sourceId: string): string => `source:${sourceId}:connector`

/** What an endpoint's webhook secrets are bound to when encrypted. */
export const webhookSecretAad = (endpointId: string): string => `webhook-endpoint:${endpointId}:secret`

/** Why an endpoint stopped receiving deliveries. */
export const WEBHOOK_DISABLED_REASONS = ['manual', 'gone', 'failing'] as const
export type WebhookDisabledReason = (typeof WEBHOOK_DISABLED_REASONS)[number]

/** A tenant's outbound webhook endpoint (modules/webhooks). */
export const webhookEndpoints = pgTable(
  'webhook_endpoints',
  {
    id: uuid('id').primaryKey(),
    tenantId: tenantId(),
    url: text('url').notNull(),
    eventTypes: text('event_types').array().notNull(),
    description: text('description'),
    enabled: boolean('enabled').notNull().default(true),
    disabledReason: text('disabled_reason', { enum: WEBHOOK_DISABLED_REASONS }),
    /**
     * The signing secrets, newest first, each encrypted by platform/secrets.ts and bound to this row: two
     * during the 24 hours after a rotation, when both sign.
     */
    encryptedSecrets: text('encrypted_secrets').array().notNull(),
    /** Until when the previous secret (the second one) still signs. */
    previousSecretExpiresAt: timestamp('previous_secret_expires_at', { withTimezone: true, mode: 'date' }),
    /**
     * Where in the tenant's event log the endpoint starts: it receives the events after this position only,
     * never the ones stored before it existed.
     */
    startTxId: xid8('start_tx_id').notNull(),
    startSeq: bigint('start_seq', { mode: 'number' }).notNull(),
    /** Since when every attempt to this endpoint failed; null once one succeeds. */
    failingSince: timestamp('failing_since', { withTimezone: true, mode: 'date' }),
    /** The Idempotency-Key and fingerprint of the request that created it, so a replay finds it. */
    idempotencyKey: text('idempotency_key'),
    idempotencyFingerprint: text('idempotency_fingerprint'),
    /** The same for the latest rotation, so a retried rotation is answered, not rotated again. */
    rotationIdempotencyKey: text('rotation_idempotency_key'),
    rotationIdempotencyFingerprint: text('rotation_idempotency_fingerprint'),
    createdAt: createdAt(),
    updatedAt: updatedAt(),
  },
  (t) => [
    index('webhook_endpoints_tenant_idx').on(t.tenantId, t.createdAt),
    uniqueIndex('webhook_endpoints_tenant_idempotency_key').on(t.tenantId, t.idempotencyKey),
  ],
)

/**
 * How far the fan-out has read each tenant's event log, in change-feed order: one row per tenant with an
 * endpoint, locked by the replica that fans out the next events and advanced in the same transaction that
 * creates their deliveries.
 */
export const webhookCursors = pgTable('webhook_cursors', {
  tenantId: uuid('tenant_id')
    .primaryKey()
    .references(() => tenants.id, { onDelete: 'cascade' }),
  txId: xid8('tx_id').notNull(),
  seq: bigint('seq', { mode: 'number' }).notNull(),
})

export const WEBHOOK_DELIVERY_STATUSES = ['pending', 'succeeded', 'failed'] as const
export type WebhookDeliveryStatus = (typeof WEBHOOK_DELIVERY_STATUSES)[number]

/** One event to one endpoint, until it succeeds or its last attempt failed (then replayable). */
export const webhookDeliveries = pgTable(
  'webhook_deliveries',
  {
    id: bigserial('id', { mode: 'number' }).primaryKey(),
    tenantId: tenantId(),
    endpointId: uuid('endpoint_id')
      .notNull()
      .references(() => webhookEndpoints.id, { onDelete: 'cascade' }),
    eventType: text('event_type').notNull(),
    /** The event as the change feed serves it (contracts/events.ts FeedEvent): the same body on every attempt. */
    event: jsonb('event').notNull(),
    status: text('status', { enum: WEBHOOK_DELIVERY_STATUSES }).notNull().default('pending'),
    /** Attempts made so far; the retry schedule's length is the most there will be. */
    attempts: integer('attempts').notNull().default(0),
    nextAttemptAt: timestamp('next_attempt_at', { withTimezone: true, mode: 'date' }).notNull().defaultNow(),
    /** While a replica works on it: until when. An expired lease is taken by any replica. */
    leaseExpiresAt: timestamp('lease_expires_at', { withTimezone: true, mode: 'date' }),
    /** Names the holder of the lease, so a replica whose lease expired cannot overwrite the next one's result. */
    leaseToken: uuid('lease_token'),
    createdAt: createdAt(),
    updatedAt: updatedAt(),
  },
  (t) => [
    index('webhook_deliveries_due_idx').on(t.nextAttemptAt).where(sql`${t.status} = 'pending'`),
    index('webhook_deliveries_endpoint_idx').on(t.endpointId, t.id),
    // Deliveries arrive in time order, so a BRIN index finds the old ones for the retention job at almost no
    // cost to each insert, unlike a B-tree.
    index('webhook_deliveries_created_idx').using('brin', t.createdAt),
    check('webhook_deliveries_status_check', sql`${t.status} IN ('pending', 'succeeded', 'failed')`),
  ],
)

/** Each attempt of a delivery, for the API to show. */
export const webhookAttempts = pgTable(
  'webhook_attempts',
  {
    id: bigserial('id', { mode: 'number' }).primaryKey(),
    deliveryId: bigint('delivery_id', { mode: 'number' })
      .notNull()
      .references(() => webhookDeliveries.id, { onDelete: 'cascade' }),
    attemptedAt: timestamp('attempted_at', { withTimezone: true, mode: 'date' }).notNull(),
    /** The status the endpoint answered, if it answered. */
    statusCode: integer('status_code'),
    durationMs: integer('duration_ms').notNull(),
    error: text('error'),
  },
  (t) => [index('webhook_attempts_delivery_idx').on(t.deliveryId, t.id)],
)

/** A column whose values (one, or a list) are secrets encrypted by platform/secrets.ts. */
export interface SealedColumn {
  /** `table.column`, for messages. */
  readonly name: string
  readonly table: PgTable
  /** The row's id, which the additional data binds each value to. */
  readonly id: PgColumn
  readonly column: PgColumn
  /** The column the same secrets were kept in clear before encryption at rest, until start-up empties it. */
  readonly plaintext?: PgColumn
  aad(id: string): string
}

/**
 * Every column holding secrets the service reads back. Start-up checks the encryption key against them, and
 * `secrets:reencrypt` moves them to the current key; a new one only needs to be listed here.
 */
export const SEALED_COLUMNS: readonly SealedColumn[] = [
  {
    name: 'sources.encrypted_signing_secrets',
    table: sources,
    id: sources.id,
    column: sources.encryptedSigningSecrets,
    plaintext: sources.plaintextSigningSecrets,
    aad: sourceSigningSecretAad,
  },
  {
    name: 'sources.encrypted_connector_secrets',
    table: sources,
    id: sources.id,
    column: sources.encryptedConnectorSecrets,
    aad: sourceConnectorSecretsAad,
  },
  {
    name: 'webhook_endpoints.encrypted_secrets',
    table: webhookEndpoints,
    id: webhookEndpoints.id,
    column: webhookEndpoints.encryptedSecrets,
    aad: webhookSecretAad,
  },
]

export const stores = pgTable(
  'stores',
  {
    id: uuid('id').primaryKey().default(sql`gen_random_uuid()`),
    tenantId: tenantId(),
    /** The tenant's own store code, as the POS sends it. */
    code: text('code').notNull(),
    createdAt: createdAt(),
  },
  (t) => [uniqueIndex('stores_tenant_code_key').on(t.tenantId, t.code)],
)

export const idempotencyKeys = pgTable(
  'idempotency_keys',
  {
    tenantId: writePathTenantId(),
    key: text('key').notNull(),
    /** SHA-256 of the source and the raw body: a replay must be byte-for-byte the same request. */
    fingerprint: text('fingerprint').notNull(),
    createdAt: createdAt(),
  },
  (t) => [
    primaryKey({ columns: [t.tenantId, t.key] }),
    // Keys arrive in time order, so a BRIN index finds the expired ones for the reaper at almost no cost
    // to each insert, unlike a B-tree.
    index('idempotency_keys_created_idx').using('brin', t.createdAt),
  ],
)

/**
 * The immutable log of every event stored, in the order it became visible. The busiest table: its key is
 * the natural one, and it has no foreign keys (each would cost a lookup per row); deleting a tenant deletes
 * its events explicitly (TenantsRepository.deleteTenant).
 */
export const events = pgTable(
  'events',
  {
    seq: bigserial('seq', { mode: 'number' }).notNull(),
    tenantId: writePathTenantId(),
    /** Null for changes made through the API itself (product writes); informational once the source is gone. */
    sourceId: uuid('source_id'),
    sourceName: text('source_name').notNull(),
    eventId: text('event_id').notNull(),
    /**
     * The Idempotency-Key of the request that stored the event, when it had one: a replay of that request is
     * answered with the same accepted and duplicate ids as the original, found through the primary key.
     */
    requestKey: text('request_key'),
    type: text('type').notNull(),
    payload: jsonb('payload').notNull(),
    occurredAt: timestamp('occurred_at', { withTimezone: true, mode: 'date' }).notNull(),
    receivedAt: timestamp('received_at', { withTimezone: true, mode: 'date' }).notNull().defaultNow(),
    txId: xid8('tx_id').notNull().default(sql`pg_current_xact_id()`),
  },
  (t) => [
    primaryKey({ name: 'events_pkey', columns: [t.tenantId, t.sourceName, t.eventId] }),
    index('events_feed_idx').on(t.tenantId, t.txId, t.seq),
  ],
)

export const products = pgTable(
  'products',
  {
    id: bigserial('id', { mode: 'number' }).primaryKey(),
    tenantId: writePathTenantId(),
    sku: text('sku').notNull(),
    name: text('name').notNull(),
    priceAmount: money('price_amount').notNull(),
    currency: text('currency').notNull(),
    barcode: text('barcode'),
    /** Set by product.deleted; a later product.upserted brings the product back. */
    deletedAt: timestamp('deleted_at', { withTimezone: true, mode: 'date' }),
    /** When the change now shown happened at the POS: an older change arriving late does not overwrite it. */
    changedAt: timestamp('changed_at', { withTimezone: true, mode: 'date' }).notNull(),
    createdAt: createdAt(),
    updatedAt: updatedAt(),
  },
  (t) => [
    uniqueIndex('products_tenant_sku_key').on(t.tenantId, t.sku),
    index('products_tenant_barcode_idx').on(t.tenantId, t.barcode),
    index('products_tenant_list_idx').on(t.tenantId, t.id),
  ],
)

export const stockLevels = pgTable(
  'stock_levels',
  {
    id: bigserial('id', { mode: 'number' }).primaryKey(),
    tenantId: writePathTenantId(),
    /** A store of the same tenant (stores are deleted only with their tenant). */
    storeId: uuid('store_id').notNull(),
    sku: text('sku').notNull(),
    onHand: quantity('on_hand').notNull(),
    /** Time of the latest physical count; adjustments that happened before it are already in it. */
    countedAt: timestamp('counted_at', { withTimezone: true, mode: 'date' }),
    updatedAt: updatedAt(),
  },
  (t) => [
    uniqueIndex('stock_levels_tenant_store_sku_key').on(t.tenantId, t.storeId, t.sku),
    index('stock_levels_tenant_list_idx').on(t.tenantId, t.id),
  ],
)

/**
 * Every inventory.adjusted delta, so that a count arriving late can add the moves made after it. Written
 * with every stock move: one index (its key, which is also the lookup) and no foreign keys, like events.
 */
export const stockMovements = pgTable(
  'stock_movements',
  {
    id: bigserial('id', { mode: 'number' }).notNull(),
    tenantId: writePathTenantId(),
    storeId: uuid('store_id').notNull(),
    sku: text('sku').notNull(),
    delta: quantity('delta').notNull(),
    occurredAt: timestamp('occurred_at', { withTimezone: true, mode: 'date' }).notNull(),
  },
  (t) => [
    primaryKey({ name: 'stock_movements_pkey', columns: [t.tenantId, t.storeId, t.sku, t.occurredAt, t.id] }),
  ],
)

export const orders = pgTable(
  'orders',
  {
    id: bigserial('id', { mode: 'number' }).primaryKey(),
    tenantId: writePathTenantId(),
    /** The order id the POS sent. */
    orderId: text('order_id').notNull(),
    /** A store of the same tenant (stores are deleted only with their tenant). */
    storeId: uuid('store_id').notNull(),
    status: text('status', { enum: ORDER_STATUSES }).notNull(),
    /** The POS's version of the order, when it sends one; a lower version never overwrites a higher. */
    version: bigint('version', { mode: 'number' }),
    currency: text('currency').notNull(),
    totalAmount: money('total_amount').notNull(),
    /** When the state now shown happened at the POS. */
    changedAt: timestamp('changed_at', { withTimezone: true, mode: 'date' }).notNull(),
    createdAt: createdAt(),
    updatedAt: updatedAt(),
  },
  (t) => [
    uniqueIndex('orders_tenant_order_key').on(t.tenantId, t.orderId),
    index('orders_tenant_updated_idx').on(t.tenantId, t.updatedAt),
    index('orders_tenant_list_idx').on(t.tenantId, t.id),
    index('orders_tenant_store_list_idx').on(t.tenantId, t.storeId, t.id),
  ],
)

export const orderLineItems = pgTable(
  'order_line_items',
  {
    /** The order's `id`; no foreign key: CLEAR_LINE_ITEMS replaces an order's items, deleteTenant deletes them. */
    orderPk: bigint('order_pk', { mode: 'number' }).notNull(),
    position: integer('position').notNull(),
    sku: text('sku').notNull(),
    quantity: quantity('quantity').notNull(),
    unitPriceAmount: money('unit_price_amount').notNull(),
    currency: text('currency').notNull(),
  },
  (t) => [primaryKey({ columns: [t.orderPk, t.position] })],
)

export const refunds = pgTable(
  'refunds',
  {
    id: bigserial('id', { mode: 'number' }).primaryKey(),
    tenantId: writePathTenantId(),
    orderId: text('order_id').notNull(),
    refundId: text('refund_id').notNull(),
    amount: money('amount').notNull(),
    currency: text('currency').notNull(),
    occurredAt: timestamp('occurred_at', { withTimezone: true, mode: 'date' }).notNull(),
    createdAt: createdAt(),
  },
  (t) => [uniqueIndex('refunds_tenant_order_refund_key').on(t.tenantId, t.orderId, t.refundId)],
)

export const INBOX_STATUSES = ['pending', 'done', 'dead'] as const
export type InboxStatus = (typeof INBOX_STATUSES)[number]

/**
 * The connectors' inbox: every provider webhook whose signature verified, stored before it is answered, then
 * processed (fetched, mapped, written through ingest) by any replica under a lease. Unique per source by the
 * provider's event id, so a redelivery changes nothing. `dead` rows are the dead letters.
 */
export const connectorInbox = pgTable(
  'connector_inbox',
  {
    id: bigserial('id', { mode: 'number' }).primaryKey(),
    tenantId: tenantId(),
    sourceId: uuid('source_id')
      .notNull()
      .references(() => sources.id, { onDelete: 'cascade' }),
    provider: text('provider', { enum: SOURCE_KINDS }).notNull(),
    providerEventId: text('provider_event_id').notNull(),
    topic: text('topic').notNull(),
    payload: jsonb('payload').notNull(),
    status: text('status', { enum: INBOX_STATUSES }).notNull().default('pending'),
    /** Attempts that failed for the provider's or the mapping's sake; an open breaker spends none. */
    attempts: integer('attempts').notNull().default(0),
    nextAttemptAt: timestamp('next_attempt_at', { withTimezone: true, mode: 'date' }).notNull().defaultNow(),
    leaseExpiresAt: timestamp('lease_expires_at', { withTimezone: true, mode: 'date' }),
    leaseToken: uuid('lease_token'),
    /** Why the row is a dead letter, or why its last attempt failed. */
    lastError: text('last_error'),
    receivedAt: timestamp('received_at', { withTimezone: true, mode: 'date' }).notNull().defaultNow(),
    updatedAt: updatedAt(),
  },
  (t) => [
    uniqueIndex('connector_inbox_source_event_key').on(t.sourceId, t.providerEventId),
    index('connector_inbox_due_idx').on(t.nextAttemptAt).where(sql`${t.status} = 'pending'`),
    index('connector_inbox_dead_idx').on(t.sourceId, t.id).where(sql`${t.status} = 'dead'`),
    check('connector_inbox_status_check', sql`${t.status} IN ('pending', 'done', 'dead')`),
  ],
)

/** What a provider remembers per source between webhooks (provider.ts ProviderState). */
export const connectorState = pgTable(
  'connector_state',
  {
    sourceId: uuid('source_id')
      .notNull()
      .references(() => sources.id, { onDelete: 'cascade' }),
    key: text('key').notNull(),
    value: text('value').notNull(),
    updatedAt: updatedAt(),
  },
  (t) => [primaryKey({ columns: [t.sourceId, t.key] })],
)

export const RECONCILIATION_STATUSES = ['running', 'completed'] as const
export type ReconciliationStatus = (typeof RECONCILIATION_STATUSES)[number]

/**
 * One reconciliation pass of a connector source: at most one `running` per source (a partial unique index),
 * worked on by one replica at a time under its lease, resumed from `cursor` after a crash.
 */
export const reconciliationRuns = pgTable(
  'reconciliation_runs',
  {
    id: bigserial('id', { mode: 'number' }).primaryKey(),
    tenantId: tenantId(),
    sourceId: uuid('source_id')
      .notNull()
      .references(() => sources.id, { onDelete: 'cascade' }),
    status: text('status', { enum: RECONCILIATION_STATUSES }).notNull().default('running'),
    /** What started it: the schedule or an operator (API, CLI). */
    trigger: text('trigger').notNull(),
    /** Epoch ms of the previous complete pass's start: the provider is asked for what changed since. */
    since: bigint('since', { mode: 'number' }).notNull(),
    /** The provider's opaque cursor of the next page; null before the first page. */
    cursor: text('cursor'),
    pages: integer('pages').notNull().default(0),
    objects: integer('objects').notNull().default(0),
    /** Objects whose events were new to the store: webhooks had not delivered them. */
    drift: integer('drift').notNull().default(0),
    /** Objects the provider listed that could not be mapped: each is a dead letter of the source. */
    unmappable: integer('unmappable').notNull().default(0),
    /** Why the last page could not be read (the provider was unavailable); the run goes on later. */
    lastError: text('last_error'),
    nextAttemptAt: timestamp('next_attempt_at', { withTimezone: true, mode: 'date' }).notNull().defaultNow(),
    leaseExpiresAt: timestamp('lease_expires_at', { withTimezone: true, mode: 'date' }),
    leaseToken: uuid('lease_token'),
    startedAt: timestamp('started_at', { withTimezone: true, mode: 'date' }).notNull().defaultNow(),
    finishedAt: timestamp('finished_at', { withTimezone: true, mode: 'date' }),
  },
  (t) => [
    uniqueIndex('reconciliation_runs_running_key').on(t.sourceId).where(sql`${t.status} = 'running'`),
    index('reconciliation_runs_source_idx').on(t.sourceId, t.id),
    check('reconciliation_runs_status_check', sql`${t.status} IN ('running', 'completed')`),
  ],
)
