// SQL for the connectors as the request path and the admin API use it: storing a verified webhook in the
// inbox (once per provider event id), the dead letters and their replay, reconciliation runs, and each
// source's provider state. The background work's statements are in statements.ts. Every query is timed
// under `connectors.<operation>`.
import type { ConnectorKind } from '@pos/contracts/admin'
import { and, desc, eq, lt, ne, sql } from 'drizzle-orm'
import { connectorInbox, connectorState, reconciliationRuns } from '../../db/schema.js'
import type { Database } from '../../platform/database.js'
import { sqlState, UNIQUE_VIOLATION } from '../../platform/database-errors.js'
import { timedQuery } from '../../platform/metrics.js'
import { type PageRequest, type Slice, sliceRows } from '../../platform/pagination.js'
import type { ProviderState, UnmappableObject } from './provider.js'

/** The topic of a dead letter a reconciliation found (an object, not a webhook). */
export const RECONCILIATION_TOPIC = 'reconciliation'

export interface NewInboxRow {
  readonly tenantId: string
  readonly sourceId: string
  readonly provider: ConnectorKind
  readonly providerEventId: string
  readonly topic: string
  readonly payload: unknown
}

export interface DeadLetterRecord {
  readonly id: number
  readonly providerEventId: string
  readonly topic: string
  readonly reason: string | null
  readonly attempts: number
  readonly receivedAt: Date
  readonly updatedAt: Date
}

export interface RunRecord {
  readonly id: number
  readonly sourceId: string
  readonly status: 'running' | 'completed'
  readonly trigger: string
  readonly since: number
  readonly pages: number
  readonly objects: number
  readonly drift: number
  readonly unmappable: number
  readonly lastError: string | null
  readonly startedAt: Date
  readonly finishedAt: Date | null
}

const deadLetterColumns = {
  id: connectorInbox.id,
  providerEventId: connectorInbox.providerEventId,
  topic: connectorInbox.topic,
  reason: connectorInbox.lastError,
  attempts: connectorInbox.attempts,
  receivedAt: connectorInbox.receivedAt,
  updatedAt: connectorInbox.updatedAt,
}

const runColumns = {
  id: reconciliationRuns.id,
  sourceId: reconciliationRuns.sourceId,
  status: reconciliationRuns.status,
  trigger: reconciliationRuns.trigger,
  since: reconciliationRuns.since,
  pages: reconciliationRuns.pages,
  objects: reconciliationRuns.objects,
  drift: reconciliationRuns.drift,
  unmappable: reconciliationRuns.unmappable,
  lastError: reconciliationRuns.lastError,
  startedAt: reconciliationRuns.startedAt,
  finishedAt: reconciliationRuns.finishedAt,
}

export class ConnectorsRepository {
  constructor(private readonly db: Database) {}

  /** Stores a verified webhook; false when the source already has one with this provider event id. */
  insertInbox(row: NewInboxRow): Promise<boolean> {
    return timedQuery('connectors.insertInbox', async () => {
      const inserted = await this.db
        .insert(connectorInbox)
        .values(row)
        .onConflictDoNothing({ target: [connectorInbox.sourceId, connectorInbox.providerEventId] })
        .returning({ id: connectorInbox.id })
      return inserted.length > 0
    })
  }

  /**
   * Dead-letters the objects a reconciliation could not map, one row per object (topic `reconciliation`):
   * found again by a later run, its row is updated, not repeated.
   */
  deadLetterObjects(
    source: { readonly tenantId: string; readonly id: string },
    provider: ConnectorKind,
    reconciliationId: number,
    objects: readonly UnmappableObject[],
  ): Promise<void> {
    return timedQuery('connectors.deadLetterObjects', async () => {
      if (objects.length === 0) return
      await this.db
        .insert(connectorInbox)
        .values(
          objects.map((object) => ({
            tenantId: source.tenantId,
            sourceId: source.id,
            provider,
            providerEventId: `${RECONCILIATION_TOPIC}:${object.objectId}`,
            topic: RECONCILIATION_TOPIC,
            payload: { objectId: object.objectId, reconciliationId },
            status: 'dead' as const,
            attempts: 1,
            lastError: object.reason,
          })),
        )
        .onConflictDoUpdate({
          target: [connectorInbox.sourceId, connectorInbox.providerEventId],
          set: {
            status: 'dead',
            payload: sql`excluded.${sql.identifier(connectorInbox.payload.name)}`,
            lastError: sql`excluded.${sql.identifier(connectorInbox.lastError.name)}`,
            updatedAt: sql`now()`,
          },
        })
    })
  }

  /** One page of a source's dead letters, newest first. */
  listDeadLetters(sourceId: string, page: PageRequest<number>): Promise<Slice<DeadLetterRecord, number>> {
    return timedQuery('connectors.listDeadLetters', async () => {
      const rows = await this.db
        .select(deadLetterColumns)
        .from(connectorInbox)
        .where(
          and(
            eq(connectorInbox.sourceId, sourceId),
            eq(connectorInbox.status, 'dead'),
            page.after === undefined ? undefined : lt(connectorInbox.id, page.after),
          ),
        )
        .orderBy(desc(connectorInbox.id))
        .limit(page.limit + 1)
      return sliceRows(
        rows,
        page.limit,
        (row) => row,
        (row) => row.id,
      )
    })
  }

  /**
   * Makes a dead letter due again with a fresh count of attempts: 'replayed', 'absent' when it is not a dead
   * letter of the source, 'reconciliation' when a reconciliation found it (there is no webhook to replay).
   */
  replayDeadLetter(sourceId: string, id: number): Promise<'replayed' | 'absent' | 'reconciliation'> {
    return timedQuery('connectors.replayDeadLetter', async () => {
      const rows = await this.db
        .update(connectorInbox)
        .set({
          status: 'pending',
          attempts: 0,
          nextAttemptAt: sql`now()`,
          lastError: null,
          updatedAt: sql`now()`,
        })
        .where(
          and(
            eq(connectorInbox.sourceId, sourceId),
            eq(connectorInbox.id, id),
            eq(connectorInbox.status, 'dead'),
            ne(connectorInbox.topic, RECONCILIATION_TOPIC),
          ),
        )
        .returning({ id: connectorInbox.id })
      if (rows.length > 0) return 'replayed'
      const [found] = await this.db
        .select({ id: connectorInbox.id })
        .from(connectorInbox)
        .where(
          and(
            eq(connectorInbox.sourceId, sourceId),
            eq(connectorInbox.id, id),
            eq(connectorInbox.status, 'dead'),
          ),
        )
      return found === undefined ? 'absent' : 'reconciliation'
    })
  }

  /** The source's running reconciliation, started now if there is none. */
  requestRun(tenantId: string, sourceId: string, trigger: string): Promise<RunRecord> {
    return timedQuery('connectors.requestRun', async () => {
      for (;;) {
        const [running] = await this.db
          .select(runColumns)
          .from(reconciliationRuns)
          .where(and(eq(reconciliationRuns.sourceId, sourceId), eq(reconciliationRuns.status, 'running')))
        if (running !== undefined) return running
        const [last] = await this.db
          .select({ startedAt: reconciliationRuns.startedAt })
          .from(reconciliationRuns)
          .where(and(eq(reconciliationRuns.sourceId, sourceId), eq(reconciliationRuns.status, 'completed')))
          .orderBy(desc(reconciliationRuns.id))
          .limit(1)
        try {
          const [created] = await this.db
            .insert(reconciliationRuns)
            .values({ tenantId, sourceId, trigger, since: last?.startedAt.getTime() ?? 0 })
            .returning(runColumns)
          if (created !== undefined) return created
        } catch (err) {
          // Another request or replica started one at the same moment: answer with that one.
          if (sqlState(err) !== UNIQUE_VIOLATION) throw err
        }
      }
    })
  }

  listRuns(sourceId: string, limit: number): Promise<RunRecord[]> {
    return timedQuery('connectors.listRuns', () =>
      this.db
        .select(runColumns)
        .from(reconciliationRuns)
        .where(eq(reconciliationRuns.sourceId, sourceId))
        .orderBy(desc(reconciliationRuns.id))
        .limit(limit),
    )
  }

  findRun(sourceId: string, id: number): Promise<RunRecord | undefined> {
    return timedQuery('connectors.findRun', async () => {
      const [run] = await this.db
        .select(runColumns)
        .from(reconciliationRuns)
        .where(and(eq(reconciliationRuns.sourceId, sourceId), eq(reconciliationRuns.id, id)))
      return run
    })
  }

  /** The provider's key-value memory of one source. */
  stateOf(sourceId: string): ProviderState {
    return {
      get: (key) =>
        timedQuery('connectors.getState', async () => {
          const [row] = await this.db
            .select({ value: connectorState.value })
            .from(connectorState)
            .where(and(eq(connectorState.sourceId, sourceId), eq(connectorState.key, key)))
          return row?.value
        }),
      set: (key, value) =>
        timedQuery('connectors.setState', async () => {
          await this.db
            .insert(connectorState)
            .values({ sourceId, key, value })
            .onConflictDoUpdate({
              target: [connectorState.sourceId, connectorState.key],
              set: { value, updatedAt: sql`now()` },
            })
        }),
    }
  }
}
