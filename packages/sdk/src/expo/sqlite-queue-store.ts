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
import {
  type BatchRow,
  QUEUE_SCHEMA,
  type RecordRow,
  type RejectedRow,
  toQueuedRecord,
  toRejectedRecord,
  toStoredBatch,
} from '../sqlite/queue-schema.js'

/** The part of expo-sqlite's SQLiteDatabase this store uses. */
export type QueueDatabase = Pick<
  SQLiteDatabase,
  'execAsync' | 'runAsync' | 'getAllAsync' | 'getFirstAsync' | 'withTransactionAsync' | 'closeAsync'
>

const SCHEMA = `
PRAGMA journal_mode = WAL;
PRAGMA synchronous = FULL;
${QUEUE_SCHEMA}`

export class ExpoSqliteQueueStore implements QueueStore {
  private lock: Promise<unknown> = Promise.resolve()

  private constructor(private readonly db: QueueDatabase) {}

  /** Creates the schema when absent. The database is the store's from then on: close() closes it. */
  static async fromDatabase(db: QueueDatabase): Promise<ExpoSqliteQueueStore> {
    await db.execAsync(SCHEMA)
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
          'INSERT INTO records (event, recorded_at) VALUES (?, ?)',
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
      const rows = await this.db.getAllAsync<RecordRow>(
        'SELECT seq, event, recorded_at FROM records WHERE batch_key IS NULL ORDER BY seq LIMIT ?',
        limit,
      )
      return rows.map(toQueuedRecord)
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
      // The primary key refuses a second batch with the same key.
      await this.db.runAsync(
        'INSERT INTO batches (key, body, seqs, created_at, attempts, not_before) VALUES (?, ?, ?, ?, ?, ?)',
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
      const rows = await this.db.getAllAsync<BatchRow>(
        'SELECT key, body, seqs, created_at, attempts, not_before FROM batches ORDER BY created_at, rowid',
      )
      return rows.map(toStoredBatch)
    })
  }

  batchRecords(key: string): Promise<QueuedRecord[]> {
    return this.exclusive(async () => {
      const rows = await this.db.getAllAsync<RecordRow>(
        'SELECT seq, event, recorded_at FROM records WHERE batch_key = ? ORDER BY seq',
        key,
      )
      return rows.map(toQueuedRecord)
    })
  }

  deferBatch(key: string, attempts: number, notBefore: number): Promise<void> {
    return this.transaction(async () => {
      await this.db.runAsync(
        'UPDATE batches SET attempts = ?, not_before = ? WHERE key = ?',
        attempts,
        notBefore,
        key,
      )
    })
  }

  completeBatch(key: string): Promise<void> {
    return this.transaction(async () => {
      await this.db.runAsync('DELETE FROM records WHERE batch_key = ?', key)
      await this.db.runAsync('DELETE FROM batches WHERE key = ?', key)
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
        await this.db.runAsync(
          `INSERT INTO rejected (seq, event, recorded_at, problem, rejected_at)
           SELECT seq, event, recorded_at, ?, ? FROM records WHERE seq = ? AND batch_key = ?`,
          JSON.stringify(problem),
          at,
          seq,
          key,
        )
        await this.db.runAsync('DELETE FROM records WHERE seq = ? AND batch_key = ?', seq, key)
      }
      await this.db.runAsync('UPDATE records SET batch_key = NULL WHERE batch_key = ?', key)
      await this.db.runAsync('DELETE FROM batches WHERE key = ?', key)
    })
  }

  rejected(limit: number): Promise<RejectedRecord[]> {
    return this.exclusive(async () => {
      const rows = await this.db.getAllAsync<RejectedRow>(
        'SELECT seq, event, recorded_at, problem, rejected_at FROM rejected ORDER BY seq LIMIT ?',
        limit,
      )
      return rows.map(toRejectedRecord)
    })
  }

  deleteRejected(seqs: readonly number[]): Promise<void> {
    return this.transaction(async () => {
      await this.db.runAsync(
        'DELETE FROM rejected WHERE seq IN (SELECT value FROM json_each(?))',
        JSON.stringify(seqs),
      )
    })
  }

  counts(): Promise<QueueCounts> {
    return this.exclusive(async () => {
      const row = await this.db.getFirstAsync<QueueCounts>(
        `SELECT
           (SELECT count(*) FROM records WHERE batch_key IS NULL) AS queued,
           (SELECT count(*) FROM records WHERE batch_key IS NOT NULL) AS batched,
           (SELECT count(*) FROM rejected) AS rejected`,
      )
      return { queued: row?.queued ?? 0, batched: row?.batched ?? 0, rejected: row?.rejected ?? 0 }
    })
  }

  getState(name: string): Promise<string | undefined> {
    return this.exclusive(async () => {
      const row = await this.db.getFirstAsync<{ value: string }>(
        'SELECT value FROM state WHERE name = ?',
        name,
      )
      return row?.value
    })
  }

  setState(name: string, value: string): Promise<void> {
    return this.transaction(async () => {
      await this.db.runAsync(
        'INSERT INTO state (name, value) VALUES (?, ?) ON CONFLICT (name) DO UPDATE SET value = excluded.value',
        name,
        value,
      )
    })
  }

  close(): Promise<void> {
    return this.exclusive(() => this.db.closeAsync())
  }
}
