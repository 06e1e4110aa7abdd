// The Node queue store on SQLite (better-sqlite3 12): WAL with synchronous=FULL, so a change is on disk
// before its promise resolves and a power cut loses nothing that was acknowledged; every change that touches
// more than one row is one transaction, so a crash leaves the old state or the new one, never a mix.
import Database from 'better-sqlite3'
import type { IngestEvent, ProblemDocument, QueuedRecord, QueueStore, StoredBatch } from '../core/ports.js'
import { fromRow, QUEUE_SETUP, QUEUE_SQL as SQL } from '../sqlite/queue-schema.js'

/** Opens (creating when absent) the queue at `path`, a file the app owns; the SDK adds `-wal` and `-shm`. */
export function openSqliteQueueStore(path: string): QueueStore {
  const db = new Database(path)
  db.exec(QUEUE_SETUP)

  const appendRecord = db.prepare<[string, number]>(SQL.appendRecord)
  const unbatched = db.prepare<[number]>(SQL.unbatched)
  const insertBatch = db.prepare<[string, string, string, number, number, number]>(SQL.insertBatch)
  const claim = db.prepare<[string, number]>(
    'UPDATE records SET batch_key = ? WHERE seq = ? AND batch_key IS NULL',
  )
  const openBatches = db.prepare<[]>(SQL.openBatches)
  const batchRecords = db.prepare<[string]>(SQL.batchRecords)
  const defer = db.prepare<[number, number, string]>(SQL.deferBatch)
  const deleteBatchRecords = db.prepare<[string]>(SQL.deleteBatchRecords)
  const releaseBatchRecords = db.prepare<[string]>(SQL.releaseBatchRecords)
  const deleteBatch = db.prepare<[string]>(SQL.deleteBatch)
  const rejectRecord = db.prepare<[string, number, number, string]>(SQL.rejectRecord)
  const deleteBatchRecord = db.prepare<[number, string]>(SQL.deleteBatchRecord)
  const rejected = db.prepare<[number]>(SQL.rejected)
  const deleteRejected = db.prepare<[string]>(SQL.deleteRejected)
  const counts = db.prepare<[]>(SQL.counts)
  const getState = db.prepare<[string], { value: string }>(SQL.getState)
  const setState = db.prepare<[string, string]>(SQL.setState)

  const append = db.transaction((events: readonly IngestEvent[], recordedAt: number): QueuedRecord[] =>
    events.map((event) => {
      const seq = Number(appendRecord.run(JSON.stringify(event), recordedAt).lastInsertRowid)
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
        rejectRecord.run(JSON.stringify(problem), at, seq, key)
        deleteBatchRecord.run(seq, key)
      }
      releaseBatchRecords.run(key)
      deleteBatch.run(key)
    },
  )

  return {
    async append(events, recordedAt) {
      return append(events, recordedAt)
    },
    async unbatched(limit) {
      return unbatched.all(limit).map(fromRow.record)
    },
    async saveBatch(batch) {
      saveBatch(batch)
    },
    async openBatches() {
      return openBatches.all().map(fromRow.batch)
    },
    async batchRecords(key) {
      return batchRecords.all(key).map(fromRow.record)
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
    async rejected(limit) {
      return rejected.all(limit).map(fromRow.rejected)
    },
    async deleteRejected(seqs) {
      deleteRejected.run(JSON.stringify(seqs))
    },
    async counts() {
      return fromRow.counts(counts.get())
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
