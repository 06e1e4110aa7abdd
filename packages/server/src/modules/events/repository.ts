// SQL for the change feed: the tenant's events in the order they became visible. A bigserial is not commit
// order (a transaction that took seq 10 can commit after one that took seq 11), so the feed is ordered by
// (tx_id, seq) and shows only rows whose transaction is older than every transaction still in flight: no
// event can later appear behind a position the feed has already handed out.
// Reads `events`, which only the ingest write path appends to (WRITE_BATCH in ingest/statements.ts).
import type { Static } from '@fastify/type-provider-typebox'
import type { FeedEvent } from '@pos/contracts/events'
import { and, asc, eq, sql } from 'drizzle-orm'
import { events } from '../../db/schema.js'
import type { Database } from '../../platform/database.js'
import { timedQuery } from '../../platform/metrics.js'
import { type PageRequest, type Slice, sliceRows } from '../../platform/pagination.js'

/** A place in the feed: the transaction that wrote an event and the event's seq. */
export interface FeedPosition {
  /** xid8, as a decimal string: it may exceed 2^53. */
  readonly txId: string
  readonly seq: number
}

/** Before every event. */
export const FEED_START: FeedPosition = { txId: '0', seq: 0 }

export type EventView = Static<typeof FeedEvent>

export class EventsRepository {
  constructor(private readonly db: Database) {}

  /** The next events of the tenant's feed after `page.after`, among those no open transaction can precede. */
  readFeed(tenantId: string, page: PageRequest<FeedPosition>): Promise<Slice<EventView, FeedPosition>> {
    return timedQuery('events.readFeed', async () => {
      const after = page.after ?? FEED_START
      const rows = await this.db
        .select({
          txId: events.txId,
          seq: events.seq,
          eventId: events.eventId,
          sourceName: events.sourceName,
          type: events.type,
          occurredAt: events.occurredAt,
          receivedAt: events.receivedAt,
          payload: events.payload,
        })
        .from(events)
        .where(
          and(
            eq(events.tenantId, tenantId),
            sql`${events.txId} < pg_snapshot_xmin(pg_current_snapshot())`,
            sql`(${events.txId}, ${events.seq}) > (${after.txId}::xid8, ${after.seq}::bigint)`,
          ),
        )
        .orderBy(asc(events.txId), asc(events.seq))
        .limit(page.limit + 1)
      return sliceRows(
        rows,
        page.limit,
        (row) => ({
          id: row.eventId,
          source: row.sourceName,
          type: row.type,
          occurredAt: row.occurredAt.toISOString(),
          receivedAt: row.receivedAt.toISOString(),
          data: row.payload,
        }),
        (row) => ({ txId: row.txId, seq: row.seq }),
      )
    })
  }
}
