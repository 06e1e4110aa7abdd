// The Node queue store on SQLite (better-sqlite3 12): WAL with synchronous=FULL, so a change is on disk
// before its promise resolves and a power cut loses nothing that was acknowledged; every change that touches
// more than one row is one transaction, so a crash leaves the old state or the new one, never a mix.
import Database from 'better-sqlite3'
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

/** Opens (creating when absent) the queue at `path`, a file the app owns; the SDK adds `-wal` and `-shm`. */
export function openSqliteQueueStore(path: string): QueueStore {
  const db = new Database(path)
  db.pragma('journal_mode = WAL')
  // FULL: the WAL is synced at every commit, so an acknowledged append survives a power cut (NORMAL would not).
  db.pragma('synchronous = FULL')
  db.exec(QUEUE_SCHEMA)

  const insertRecord = db.prepare<[string, number]>(
    'INSERT INTO records (event, recorded_at) VALUES (?, ?) RETURNING seq',
  )
  const unbatched = db.prepare<[number], RecordRow>(
    'SELECT seq, event, recorded_at FROM records WHERE batch_key IS NULL ORDER BY seq LIMIT ?',
  )
  const insertBatch = db.prepare<[string, string, string, number, number, number]>(
    'INSERT INTO batches (key, body, seqs, created_at, attempts, not_before) VALUES (?, ?, ?, ?, ?, ?)',
  )
  const claim = db.prepare<[string, number]>(
    'UPDATE records SET batch_key = ? WHERE seq = ? AND batch_key IS NULL',
  )
  const openBatches = db.prepare<[], BatchRow>('SELECT * FROM batches ORDER BY created_at, rowid')
  const batchRecords = db.prepare<[string], RecordRow>(
    'SELECT seq, event, recorded_at FROM records WHERE batch_key = ? ORDER BY seq',
  )
  const defer = db.prepare<[number, number, string]>(
    'UPDATE batches SET attempts = ?, not_before = ? WHERE key = ?',
  )
  const deleteBatchRecords = db.prepare<[string]>('DELETE FROM records WHERE batch_key = ?')
  const releaseBatchRecords = db.prepare<[string]>('UPDATE records SET batch_key = NULL WHERE batch_key = ?')
  const deleteBatch = db.prepare<[string]>('DELETE FROM batches WHERE key = ?')
  const moveToRejected = db.prepare<[string, number, string, number]>(
    `INSERT INTO rejected (seq, event, recorded_at, problem, rejected_at)
     SELECT seq, event, recorded_at, ?, ? FROM records WHERE batch_key = ? AND seq = ?`,
  )
  const deleteRecord = db.prepare<[number]>('DELETE FROM records WHERE seq = ?')
  const rejected = db.prepare<[number], RejectedRow>('SELECT * FROM rejected ORDER BY seq LIMIT ?')
  const deleteRejected = db.prepare<[number]>('DELETE FROM rejected WHERE seq = ?')
  const counts = db.prepare<[], QueueCounts>(
    `SELECT (SELECT count(*) FROM records WHERE batch_key IS NULL) AS queued,
            (SELECT count(*) FROM records WHERE batch_key IS NOT NULL) AS batched,
            (SELECT count(*) FROM rejected) AS rejected`,
  )
  const getState = db.prepare<[string], { value: string }>('SELECT value FROM state WHERE name = ?')
  const setState = db.prepare<[string, string]>(
    'INSERT INTO state (name, value) VALUES (?, ?) ON CONFLICT (name) DO UPDATE SET value = excluded.value',
  )

  const append = db.transaction((events: readonly IngestEvent[], recordedAt: number): QueuedRecord[] =>
    events.map((event) => {
      const { seq } = insertRecord.get(JSON.stringify(event), recordedAt) as { seq: number }
      return { seq, event, recordedAt }
    }),
  )
  const saveBatch = db.transaction((batch: StoredBatch) => {
    insertBatch.run(
      batch.key,
      batch.body,
      JSON.stringify(batch.seqs),
      batch.createdAt,
      batch.attempts,
      batch.notBefore,
    )
    for (const seq of batch.seqs) {
      // Throwing rolls the whole transaction back: the batch is not stored either.
      if (claim.run(batch.key, seq).changes !== 1) throw new Error(`record ${seq} is missing or in a batch`)
    }
  })
  const completeBatch = db.transaction((key: string) => {
    deleteBatchRecords.run(key)
    deleteBatch.run(key)
  })
  const rejectFromBatch = db.transaction(
    (key: string, refused: ReadonlyArray<{ seq: number; problem: ProblemDocument }>, at: number) => {
      for (const { seq, problem } of refused) {
        moveToRejected.run(JSON.stringify(problem), at, key, seq)
        deleteRecord.run(seq)
      }
      releaseBatchRecords.run(key)
      deleteBatch.run(key)
    },
  )
  const deleteRejectedMany = db.transaction((seqs: readonly number[]) => {
    for (const seq of seqs) deleteRejected.run(seq)
  })

  return {
    async append(events, recordedAt) {
      return append(events, recordedAt)
    },
    async unbatched(limit) {
      return unbatched.all(limit).map(toQueuedRecord)
    },
    async saveBatch(batch) {
      saveBatch(batch)
    },
    async openBatches() {
      return openBatches.all().map(toStoredBatch)
    },
    async batchRecords(key) {
      return batchRecords.all(key).map(toQueuedRecord)
    },
    async deferBatch(key, attempts, notBefore) {
      defer.run(attempts, notBefore, key)
    },
    async completeBatch(key) {
      completeBatch(key)
    },
    async rejectFromBatch(key, refused, at) {
      rejectFromBatch(key, refused, at)
    },
    async rejected(limit): Promise<RejectedRecord[]> {
      return rejected.all(limit).map(toRejectedRecord)
    },
    async deleteRejected(seqs) {
      deleteRejectedMany(seqs)
    },
    async counts() {
      return { ...counts.get()! }
    },
    async getState(name) {
      return getState.get(name)?.value
    },
    async setState(name, value) {
      setState.run(name, value)
    },
    async close() {
      if (db.open) db.close()
    },
  }
}
