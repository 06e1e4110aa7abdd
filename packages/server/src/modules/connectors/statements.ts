// The SQL of the connectors' background work, which runs on every replica and shares it through PostgreSQL:
// - CLAIM_INBOX leases due inbox rows (FOR UPDATE SKIP LOCKED, then a lease expiry and token on the row), so
//   one replica processes each webhook; a replica that dies holding a lease loses it when it expires.
// - SETTLE_INBOX records what processing came to (done, dead, or postponed), only while the lease is held.
// - SCHEDULE_RUNS starts a reconciliation of every configured connector source whose last one started more
//   than RECONCILE_INTERVAL_MINUTES ago; the partial unique index keeps one running run per source.
// - RENEW_INBOX and RENEW_RUN extend the leases a replica holds while a provider call runs long (Shopify's
//   call-limit pacing waits up to 20 s), so only a replica that stopped renewing loses its work.
// - CLAIM_RUN leases one running reconciliation; ADVANCE_RUN stores a page's cursor and counts (and renews
//   the lease), FINISH_RUN completes it and POSTPONE_RUN lets it wait for the provider, each under the lease.
import { connectorInbox as i, reconciliationRuns as r, sources as s } from '../../db/schema.js'
import { column as q, type RowOf, select, statement, table } from '../../platform/sql.js'

const name = (n: string) => `connectors.${n}`
const ms = (param: string) => `${param}::float8 * interval '1 millisecond'`

const claimedInbox = {
  id: i.id,
  tenant_id: i.tenantId,
  source_id: i.sourceId,
  provider: i.provider,
  provider_event_id: i.providerEventId,
  topic: i.topic,
  payload: i.payload,
  attempts: i.attempts,
  received_at: i.receivedAt,
}
export type ClaimedInboxRow = RowOf<typeof claimedInbox>

/** $1 most rows, $2 lease in ms, $3 lease token. Due pending rows whose lease is free or expired. */
export const CLAIM_INBOX = statement<[number, number, string], ClaimedInboxRow>(
  name('claimInbox'),
  `WITH due AS (
     SELECT ${q(i.id)} AS id FROM ${table(i)}
     WHERE ${q(i.status)} = 'pending' AND ${q(i.nextAttemptAt)} <= now()
       AND (${q(i.leaseExpiresAt)} IS NULL OR ${q(i.leaseExpiresAt)} < now())
     ORDER BY ${q(i.nextAttemptAt)}
     LIMIT $1
     FOR UPDATE SKIP LOCKED
   )
   UPDATE ${table(i)} x
   SET ${q(i.leaseExpiresAt)} = now() + ${ms('$2')}, ${q(i.leaseToken)} = $3::uuid
   FROM due WHERE ${q(i.id, 'x')} = due.id
   RETURNING ${select(claimedInbox, 'x')}`,
)

/**
 * $1 row, $2 lease token, $3 new status, $4 count the attempt, $5 next attempt in ms from now, $6 error.
 * Answers the row if the lease was still held.
 */
export const SETTLE_INBOX = statement<
  [string, string, string, boolean, number, string | null],
  { id: string }
>(
  name('settleInbox'),
  `UPDATE ${table(i)}
   SET ${q(i.status)} = $3::text,
     ${q(i.attempts)} = ${q(i.attempts)} + (CASE WHEN $4::boolean THEN 1 ELSE 0 END),
     ${q(i.nextAttemptAt)} = now() + ${ms('$5')}, ${q(i.lastError)} = $6::text,
     ${q(i.leaseExpiresAt)} = NULL, ${q(i.leaseToken)} = NULL, ${q(i.updatedAt)} = now()
   WHERE ${q(i.id)} = $1::bigint AND ${q(i.leaseToken)} = $2::uuid
   RETURNING ${q(i.id)} AS id`,
)

/** $1 lease token, $2 lease in ms. Extends the lease of the inbox rows one round holds. */
export const RENEW_INBOX = statement<[string, number], { id: string }>(
  name('renewInbox'),
  `UPDATE ${table(i)} SET ${q(i.leaseExpiresAt)} = now() + ${ms('$2')}
   WHERE ${q(i.leaseToken)} = $1::uuid AND ${q(i.status)} = 'pending'
   RETURNING ${q(i.id)} AS id`,
)

/** Dead letters per provider, for the connector_dead_letters gauge. */
export const COUNT_DEAD = statement<[], { provider: string; dead: number }>(
  name('countDead'),
  `SELECT ${q(i.provider)} AS provider, count(*)::int AS dead FROM ${table(i)}
   WHERE ${q(i.status)} = 'dead' GROUP BY ${q(i.provider)}`,
)

/**
 * $1 interval in ms. Starts a run for every configured connector source without a run started within the
 * interval; `since` is the start of its last completed run (0: everything).
 */
export const SCHEDULE_RUNS = statement<[number], { id: string }>(
  name('scheduleRuns'),
  `INSERT INTO ${table(r)} (${q(r.tenantId)}, ${q(r.sourceId)}, ${q(r.trigger)}, ${q(r.since)})
   SELECT ${q(s.tenantId, 'src')}, ${q(s.id, 'src')}, 'schedule',
     COALESCE((SELECT (extract(epoch FROM max(${q(r.startedAt, 'done')})) * 1000)::bigint FROM ${table(r)} done
               WHERE ${q(r.sourceId, 'done')} = ${q(s.id, 'src')} AND ${q(r.status, 'done')} = 'completed'), 0)
   FROM ${table(s)} src
   WHERE ${q(s.kind, 'src')} IN ('square', 'shopify') AND ${q(s.connectorSettings, 'src')} IS NOT NULL
     AND NOT EXISTS (SELECT 1 FROM ${table(r)} recent WHERE ${q(r.sourceId, 'recent')} = ${q(s.id, 'src')}
       AND (${q(r.status, 'recent')} = 'running' OR ${q(r.startedAt, 'recent')} > now() - ${ms('$1')}))
   ON CONFLICT DO NOTHING
   RETURNING ${q(r.id)} AS id`,
)

const claimedRun = {
  id: r.id,
  tenant_id: r.tenantId,
  source_id: r.sourceId,
  since: r.since,
  cursor: r.cursor,
  pages: r.pages,
  objects: r.objects,
  drift: r.drift,
  trigger: r.trigger,
  started_at: r.startedAt,
}
export type ClaimedRunRow = RowOf<typeof claimedRun>

/** $1 lease in ms, $2 lease token. One due running run whose lease is free or expired. */
export const CLAIM_RUN = statement<[number, string], ClaimedRunRow>(
  name('claimRun'),
  `WITH due AS (
     SELECT ${q(r.id)} AS id FROM ${table(r)}
     WHERE ${q(r.status)} = 'running' AND ${q(r.nextAttemptAt)} <= now()
       AND (${q(r.leaseExpiresAt)} IS NULL OR ${q(r.leaseExpiresAt)} < now())
     ORDER BY ${q(r.nextAttemptAt)}
     LIMIT 1
     FOR UPDATE SKIP LOCKED
   )
   UPDATE ${table(r)} x
   SET ${q(r.leaseExpiresAt)} = now() + ${ms('$1')}, ${q(r.leaseToken)} = $2::uuid
   FROM due WHERE ${q(r.id, 'x')} = due.id
   RETURNING ${select(claimedRun, 'x')}`,
)

/**
 * $1 run, $2 lease token, $3 cursor of the next page, $4 objects, $5 drift, $6 lease in ms, $7 unmappable
 * objects: one page done, the lease renewed. No row: the lease was lost (another replica took the run over).
 */
export const ADVANCE_RUN = statement<
  [string, string, string | null, number, number, number, number],
  { id: string }
>(
  name('advanceRun'),
  `UPDATE ${table(r)}
   SET ${q(r.cursor)} = $3::text, ${q(r.pages)} = ${q(r.pages)} + 1,
     ${q(r.objects)} = ${q(r.objects)} + $4::int, ${q(r.drift)} = ${q(r.drift)} + $5::int,
     ${q(r.unmappable)} = ${q(r.unmappable)} + $7::int,
     ${q(r.lastError)} = NULL, ${q(r.leaseExpiresAt)} = now() + ${ms('$6')}
   WHERE ${q(r.id)} = $1::bigint AND ${q(r.leaseToken)} = $2::uuid AND ${q(r.status)} = 'running'
   RETURNING ${q(r.id)} AS id`,
)

/** $1 run, $2 lease token, $3 lease in ms. Extends the lease of a run while a page is read. */
export const RENEW_RUN = statement<[string, string, number], { id: string }>(
  name('renewRun'),
  `UPDATE ${table(r)} SET ${q(r.leaseExpiresAt)} = now() + ${ms('$3')}
   WHERE ${q(r.id)} = $1::bigint AND ${q(r.leaseToken)} = $2::uuid AND ${q(r.status)} = 'running'
   RETURNING ${q(r.id)} AS id`,
)

/** $1 run, $2 lease token, $3 error or null. Completes the run. */
export const FINISH_RUN = statement<
  [string, string, string | null],
  { pages: number; objects: number; drift: number; unmappable: number; started_at: Date; finished_at: Date }
>(
  name('finishRun'),
  `UPDATE ${table(r)}
   SET ${q(r.status)} = 'completed', ${q(r.finishedAt)} = now(), ${q(r.lastError)} = $3::text,
     ${q(r.leaseExpiresAt)} = NULL, ${q(r.leaseToken)} = NULL
   WHERE ${q(r.id)} = $1::bigint AND ${q(r.leaseToken)} = $2::uuid AND ${q(r.status)} = 'running'
   RETURNING ${q(r.pages)} AS pages, ${q(r.objects)} AS objects, ${q(r.drift)} AS drift,
     ${q(r.unmappable)} AS unmappable,
     ${q(r.startedAt)} AS started_at, ${q(r.finishedAt)} AS finished_at`,
)

/** $1 run, $2 lease token, $3 wait in ms, $4 error. The provider is unavailable: the run goes on later. */
export const POSTPONE_RUN = statement<[string, string, number, string], { id: string }>(
  name('postponeRun'),
  `UPDATE ${table(r)}
   SET ${q(r.nextAttemptAt)} = now() + ${ms('$3')}, ${q(r.lastError)} = $4::text,
     ${q(r.leaseExpiresAt)} = NULL, ${q(r.leaseToken)} = NULL
   WHERE ${q(r.id)} = $1::bigint AND ${q(r.leaseToken)} = $2::uuid AND ${q(r.status)} = 'running'
   RETURNING ${q(r.id)} AS id`,
)
