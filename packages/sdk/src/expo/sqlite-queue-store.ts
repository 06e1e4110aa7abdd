// The React Native QueueStore on expo-sqlite's asynchronous API. One SQLite database per queue, in WAL mode
// with synchronous=FULL so a committed transaction is on disk when its promise resolves. Every method runs
// under one in-process lock: a connection sees its own uncommitted writes, so a read or a second transaction
// interleaved with an open one (which expo-sqlite's withTransactionAsync allows) would see half a change.
// withExclusiveTransactionAsync would avoid that too, but it opens a connection per transaction and is not
// available on web; the lock is cheaper and works everywhere.
//
// This file only imports expo-sqlite's types, so the same class can run on any object with the same methods
// (the SDK's Node tests drive it with one backed by better-sqlite3); `index.ts` opens the real database.
import type { SQLiteDatabase } from 'expo-sqlite'
import type {
  IngestEvent,
  ProblemDocument,
  QueueCounts,
  QueuedRecord,
  QueueStore,
  RejectedRecord,
  StoredBatch,
} from '../core/ports.js'
import { fromRow, QUEUE_SETUP, QUEUE_SQL as SQL } from '../sqlite/queue-schema.js'

/** The part of expo-sqlite's SQLiteDatabase this store uses. */
export type QueueDatabase = Pick<
  SQLiteDatabase,
  'execAsync' | 'runAsync' | 'getAllAsync' | 'getFirstAsync' | 'withTransactionAsync' | 'closeAsync'
>

export class ExpoSqliteQueueStore implements QueueStore {
  private lock: Promise<unknown> = Promise.resolve()

  private constructor(private readonly db: QueueDatabase) {}

  /** Creates the schema when absent. The database is the store's from then on: close() closes it. */
  static async fromDatabase(db: QueueDatabase): Promise<ExpoSqliteQueueStore> {
    await db.execAsync(QUEUE_SETUP)
    return new ExpoSqliteQueueStore(db)
  }

  /** Runs `work` when every earlier call has finished, alone on the connection. */
  private exclusive<T>(work: () => Promise<T>): Promise<T> {
    const run = this.lock.then(work, work)
    this.lock = run.catch(() => undefined)
    return run
  }

  /** Runs `work` in one transaction, alone on the connection; rolled back when it throws. */
  private transaction<T>(work: () => Promise<T>): Promise<T> {
    return this.exclusive(async () => {
      let result: T | undefined
      await this.db.withTransactionAsync(async () => {
        result = await work()
      })
      return result as T
    })
  }

  append(events: readonly IngestEvent[], recordedAt: number): Promise<QueuedRecord[]> {
    return this.transaction(async () => {
      const appended: QueuedRecord[] = []
      for (const event of events) {
        const { lastInsertRowId } = await this.db.runAsync(
          SQL.appendRecord,
          JSON.stringify(event),
          recordedAt,
        )
        appended.push({ seq: lastInsertRowId, event, recordedAt })
      }
      return appended
    })
  }

  unbatched(limit: number): Promise<QueuedRecord[]> {
    return this.exclusive(async () => {
      const rows = await this.db.getAllAsync(SQL.unbatched, limit)
      return rows.map(fromRow.record)
    })
  }

  saveBatch(batch: StoredBatch): Promise<void> {
    return this.transaction(async () => {
      const seqs = JSON.stringify(batch.seqs)
      const free = await this.db.getFirstAsync<{ n: number }>(
        'SELECT count(*) AS n FROM records WHERE batch_key IS NULL AND seq IN (SELECT value FROM json_each(?))',
        seqs,
      )
      if (new Set(batch.seqs).size !== batch.seqs.length || free?.n !== batch.seqs.length)
        throw new Error(`batch ${batch.key} names records that are gone or in a batch already`)
      await this.db.runAsync(
        SQL.insertBatch,
        batch.key,
        batch.body,
        seqs,
        batch.createdAt,
        batch.attempts,
        batch.notBefore,
      )
      await this.db.runAsync(
        'UPDATE records SET batch_key = ? WHERE seq IN (SELECT value FROM json_each(?))',
        batch.key,
        seqs,
      )
    })
  }

  openBatches(): Promise<StoredBatch[]> {
    return this.exclusive(async () => {
      const rows = await this.db.getAllAsync(SQL.openBatches)
      return rows.map(fromRow.batch)
    })
  }

  batchRecords(key: string): Promise<QueuedRecord[]> {
    return this.exclusive(async () => {
      const rows = await this.db.getAllAsync(SQL.batchRecords, key)
      return rows.map(fromRow.record)
    })
  }

  deferBatch(key: string, attempts: number, notBefore: number): Promise<void> {
    return this.transaction(async () => {
      await this.db.runAsync(SQL.deferBatch, attempts, notBefore, key)
    })
  }

  completeBatch(key: string): Promise<void> {
    return this.transaction(async () => {
      await this.db.runAsync(SQL.deleteBatchRecords, key)
      await this.db.runAsync(SQL.deleteBatch, key)
    })
  }

  rejectFromBatch(
    key: string,
    rejected: ReadonlyArray<{ seq: number; problem: ProblemDocument }>,
    at: number,
  ): Promise<void> {
    return this.transaction(async () => {
      const batch = await this.db.getFirstAsync<{ key: string }>('SELECT key FROM batches WHERE key = ?', key)
      if (batch === null) return
      for (const { seq, problem } of rejected) {
        await this.db.runAsync(SQL.rejectRecord, JSON.stringify(problem), at, seq, key)
        await this.db.runAsync(SQL.deleteBatchRecord, seq, key)
      }
      await this.db.runAsync(SQL.releaseBatchRecords, key)
      await this.db.runAsync(SQL.deleteBatch, key)
    })
  }

  rejected(limit: number): Promise<RejectedRecord[]> {
    return this.exclusive(async () => {
      const rows = await this.db.getAllAsync(SQL.rejected, limit)
      return rows.map(fromRow.rejected)
    })
  }

  deleteRejected(seqs: readonly number[]): Promise<void> {
    return this.transaction(async () => {
      await this.db.runAsync(SQL.deleteRejected, JSON.stringify(seqs))
    })
  }

  counts(): Promise<QueueCounts> {
    return this.exclusive(async () => {
      return fromRow.counts(await this.db.getFirstAsync(SQL.counts))
    })
  }

  getState(name: string): Promise<string | undefined> {
    return this.exclusive(async () => {
      const row = await this.db.getFirstAsync<{ value: string }>(SQL.getState, name)
      return row?.value
    })
  }

  setState(name: string, value: string): Promise<void> {
    return this.transaction(async () => {
      await this.db.runAsync(SQL.setState, name, value)
    })
  }

  close(): Promise<void> {
    return this.exclusive(() => this.db.closeAsync())
  }
}
