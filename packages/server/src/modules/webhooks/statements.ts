// The SQL of the webhook dispatcher, which runs on every replica and shares its work through PostgreSQL:
// - FAN_OUT reads a tenant's events after its cursor, in change-feed order and with the feed's visibility rule
//   (only transactions older than every one still in flight), creates a delivery per matching endpoint and
//   advances the cursor, in one statement. The cursor row is taken FOR UPDATE SKIP LOCKED: one replica fans out a
//   tenant at a time, the others skip it; an event is fanned out exactly once.
// - CLAIM_DUE leases due deliveries (FOR UPDATE SKIP LOCKED, then a lease expiry and token on the row), so one
//   replica makes each attempt; a replica that dies holding a lease loses it when it expires.
// - SETTLE records many attempts and their outcomes in one statement, each only while the replica still holds
//   its lease.
import {
  webhookAttempts as a,
  webhookCursors as c,
  webhookDeliveries as d,
  events as e,
  type WebhookDeliveryStatus,
  webhookEndpoints as w,
} from '../../db/schema.js'
import { column as q, type RowOf, select, statement, table } from '../../platform/sql.js'

const name = (n: string) => `webhooks.${n}`

export const TENANTS_WITH_CURSORS = statement<[], { tenant_id: string }>(
  name('tenantsWithCursors'),
  `SELECT ${q(c.tenantId)} AS tenant_id FROM ${table(c)}`,
)

const iso = (expression: string) =>
  `to_char(${expression} AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"')`

/** $1 tenant, $2 most events read. Answers how many events were read and deliveries created (no row: skipped). */
export const FAN_OUT = statement<[string, number], { read: number; created: number }>(
  name('fanOut'),
  `WITH cur AS (
     SELECT ${q(c.txId)} AS tx_id, ${q(c.seq)} AS seq FROM ${table(c)}
     WHERE ${q(c.tenantId)} = $1 FOR UPDATE SKIP LOCKED
   ), batch AS (
     SELECT ${q(e.txId, 'x')} AS tx_id, ${q(e.seq, 'x')} AS seq, ${q(e.type, 'x')} AS type,
       jsonb_build_object(
         'id', ${q(e.eventId, 'x')}, 'source', ${q(e.sourceName, 'x')}, 'type', ${q(e.type, 'x')},
         'occurredAt', ${iso(q(e.occurredAt, 'x'))}, 'receivedAt', ${iso(q(e.receivedAt, 'x'))},
         'data', ${q(e.payload, 'x')}) AS event
     FROM ${table(e)} x, cur
     WHERE ${q(e.tenantId, 'x')} = $1
       AND ${q(e.txId, 'x')} < pg_snapshot_xmin(pg_current_snapshot())
       AND (${q(e.txId, 'x')}, ${q(e.seq, 'x')}) > (cur.tx_id, cur.seq)
     ORDER BY ${q(e.txId, 'x')}, ${q(e.seq, 'x')}
     LIMIT $2
   ), created AS (
     INSERT INTO ${table(d)} (${q(d.tenantId)}, ${q(d.endpointId)}, ${q(d.eventType)}, ${q(d.event)})
     SELECT $1::uuid, ${q(w.id, 'ep')}, batch.type, batch.event
     FROM batch JOIN ${table(w)} ep
       ON ${q(w.tenantId, 'ep')} = $1 AND ${q(w.enabled, 'ep')}
       AND batch.type = ANY(${q(w.eventTypes, 'ep')})
       AND (batch.tx_id, batch.seq) > (${q(w.startTxId, 'ep')}, ${q(w.startSeq, 'ep')})
     ORDER BY batch.tx_id, batch.seq, ${q(w.id, 'ep')}
     RETURNING 1
   ), last AS (
     SELECT tx_id, seq FROM batch ORDER BY tx_id DESC, seq DESC LIMIT 1
   )
   UPDATE ${table(c)} SET ${q(c.txId)} = last.tx_id, ${q(c.seq)} = last.seq
   FROM last WHERE ${table(c)}.${q(c.tenantId)} = $1
   RETURNING (SELECT count(*) FROM batch)::int AS read, (SELECT count(*) FROM created)::int AS created`,
)

const claimed = {
  id: d.id,
  tenant_id: d.tenantId,
  endpoint_id: d.endpointId,
  event_type: d.eventType,
  event: d.event,
  attempts: d.attempts,
}
const claimedEndpoint = {
  url: w.url,
  encrypted_secrets: w.encryptedSecrets,
  previous_secret_expires_at: w.previousSecretExpiresAt,
  failing_since: w.failingSince,
}
export type ClaimedRow = RowOf<typeof claimed> & RowOf<typeof claimedEndpoint>

/**
 * $1 most deliveries, $2 lease in ms, $3 lease token. Due pending deliveries of enabled endpoints whose lease
 * is free or expired, oldest due first.
 */
export const CLAIM_DUE = statement<[number, number, string], ClaimedRow>(
  name('claimDue'),
  `WITH due AS (
     SELECT ${q(d.id, 'x')} AS id FROM ${table(d)} x
     JOIN ${table(w)} ep ON ${q(w.id, 'ep')} = ${q(d.endpointId, 'x')} AND ${q(w.enabled, 'ep')}
     WHERE ${q(d.status, 'x')} = 'pending' AND ${q(d.nextAttemptAt, 'x')} <= now()
       AND (${q(d.leaseExpiresAt, 'x')} IS NULL OR ${q(d.leaseExpiresAt, 'x')} < now())
     ORDER BY ${q(d.nextAttemptAt, 'x')}
     LIMIT $1
     FOR UPDATE OF x SKIP LOCKED
   )
   UPDATE ${table(d)} dl
   SET ${q(d.leaseExpiresAt)} = now() + $2::float8 * interval '1 millisecond', ${q(d.leaseToken)} = $3::uuid
   FROM due, ${table(w)} ep
   WHERE ${q(d.id, 'dl')} = due.id AND ${q(w.id, 'ep')} = ${q(d.endpointId, 'dl')}
   RETURNING ${select(claimed, 'dl')}, ${select(claimedEndpoint, 'ep')}`,
)

/** A row type turned into one array per field, as unnest() reads them. */
type ArraysOf<Row extends readonly unknown[]> = { -readonly [K in keyof Row]: Row[K][] }

/** One attempt's outcome, a row of SETTLE's arrays. */
export type SettleRow = [
  id: string,
  leaseToken: string,
  status: WebhookDeliveryStatus,
  /** 1: the attempt is recorded and counted; 0: it is not (postponed by an open breaker or a shutdown). */
  counted: 0 | 1,
  /** The next attempt, in ms from now. */
  delayMs: number,
  attemptedAt: string,
  statusCode: number | null,
  durationMs: number,
  error: string | null,
]

/**
 * Records many attempts and their deliveries' next state in one statement, each only while its lease is still
 * held (same token). Answers the deliveries it settled.
 */
export const SETTLE = statement<ArraysOf<SettleRow>, { id: string }>(
  name('settle'),
  `WITH settled AS (
     UPDATE ${table(d)} dl
     SET ${q(d.status)} = w.status,
       ${q(d.attempts)} = ${q(d.attempts, 'dl')} + w.counted,
       ${q(d.nextAttemptAt)} = now() + w.delay_ms * interval '1 millisecond',
       ${q(d.leaseExpiresAt)} = NULL, ${q(d.leaseToken)} = NULL, ${q(d.updatedAt)} = now()
     FROM unnest($1::bigint[], $2::uuid[], $3::text[], $4::int[], $5::float8[], $6::timestamptz[], $7::int[],
       $8::int[], $9::text[])
       AS w(id, lease_token, status, counted, delay_ms, attempted_at, status_code, duration_ms, error)
     WHERE ${q(d.id, 'dl')} = w.id AND ${q(d.leaseToken, 'dl')} = w.lease_token
     RETURNING ${q(d.id, 'dl')} AS id, w.counted, w.attempted_at, w.status_code, w.duration_ms, w.error
   ), recorded AS (
     INSERT INTO ${table(a)} (${q(a.deliveryId)}, ${q(a.attemptedAt)}, ${q(a.statusCode)}, ${q(a.durationMs)}, ${q(a.error)})
     SELECT id, attempted_at, status_code, duration_ms, error FROM settled WHERE counted = 1 ORDER BY id
   )
   SELECT id FROM settled`,
)
