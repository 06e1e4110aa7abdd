// The browser's QueueStore: one IndexedDB database per queue name. Records live in `records` (key `seq`, from
// IndexedDB's key generator, which never hands out a number twice); a record waiting for a batch carries
// `queued: 1`, and the `queue` index over that field lists exactly the unbatched records in seq order (index
// entries with equal keys are ordered by primary key). Batches, rejected records and state values each have
// their own object store. Every change that touches more than one thing is one readwrite transaction, and
// every method resolves on that transaction's `complete` event, so it is durable when it resolves.
import type {
  IngestEvent,
  ProblemDocument,
  QueueCounts,
  QueuedRecord,
  QueueStore,
  RejectedRecord,
  StoredBatch,
} from '../core/ports.js'
import { onResult, openDatabase, transact } from './idb.js'

const RECORDS = 'records'
const BATCHES = 'batches'
const REJECTED = 'rejected'
const STATE = 'state'
const QUEUE_INDEX = 'queue'
const ALL = [RECORDS, BATCHES, REJECTED, STATE]

/** A record as stored: `queued` is present while it is in no batch, `batch` while it is in one. */
interface RecordRow {
  seq?: number
  event: IngestEvent
  recordedAt: number
  queued?: 1
  batch?: string
}

export interface IndexedDbQueueStoreOptions {
  /** The IndexedDB factory to use; the page's `indexedDB` by default. */
  readonly indexedDB?: IDBFactory
}

/** The database that holds the queue named `name`. */
export function queueDatabaseName(name: string): string {
  return `pos-sdk-queue:${name}`
}

export class IndexedDbQueueStore implements QueueStore {
  private constructor(private readonly db: IDBDatabase) {}

  /** Opens the queue `name`, creating its database on first use. */
  static async open(name: string, options: IndexedDbQueueStoreOptions = {}): Promise<IndexedDbQueueStore> {
    const db = await openDatabase(options.indexedDB ?? indexedDB, queueDatabaseName(name), 1, (created) => {
      const records = created.createObjectStore(RECORDS, { keyPath: 'seq', autoIncrement: true })
      records.createIndex(QUEUE_INDEX, 'queued')
      created.createObjectStore(BATCHES, { keyPath: 'key' })
      created.createObjectStore(REJECTED, { keyPath: 'seq' })
      created.createObjectStore(STATE)
    })
    return new IndexedDbQueueStore(db)
  }

  append(events: readonly IngestEvent[], recordedAt: number): Promise<QueuedRecord[]> {
    return transact(this.db, [RECORDS], 'readwrite', (tx) => {
      const records = tx.objectStore(RECORDS)
      const appended: QueuedRecord[] = []
      for (const event of events) {
        const row: RecordRow = { event, recordedAt, queued: 1 }
        onResult(records.add(row), (seq) => appended.push({ seq: seq as number, event, recordedAt }))
      }
      return () => appended
    })
  }

  unbatched(limit: number): Promise<QueuedRecord[]> {
    return transact(this.db, [RECORDS], 'readonly', (tx) => {
      let rows: RecordRow[] = []
      const queue = tx.objectStore(RECORDS).index(QUEUE_INDEX)
      onResult(queue.getAll(IDBKeyRange.only(1), limit), (found) => {
        rows = found as RecordRow[]
      })
      return () => rows.map(toQueuedRecord)
    })
  }

  saveBatch(batch: StoredBatch): Promise<void> {
    return transact(this.db, [RECORDS, BATCHES], 'readwrite', (tx, abort) => {
      if (new Set(batch.seqs).size !== batch.seqs.length)
        throw new Error(`batch ${batch.key} names a record twice`)
      const records = tx.objectStore(RECORDS)
      // `add` fails (and so aborts everything) when a batch with this key exists already.
      tx.objectStore(BATCHES).add(toBatchRow(batch))
      for (const seq of batch.seqs) {
        onResult(records.get(seq), (found: RecordRow | undefined) => {
          if (found === undefined) return abort(new Error(`record ${seq} does not exist`))
          if (found.queued !== 1) return abort(new Error(`record ${seq} is in batch already`))
          const { queued: _, ...rest } = found
          records.put({ ...rest, batch: batch.key })
        })
      }
      return () => undefined
    })
  }

  openBatches(): Promise<StoredBatch[]> {
    return transact(this.db, [BATCHES], 'readonly', (tx) => {
      let rows: StoredBatch[] = []
      onResult(tx.objectStore(BATCHES).getAll(), (found) => {
        rows = found as StoredBatch[]
      })
      // Few batches are open at once: ordering them here costs less than an index kept on every write.
      return () => rows.map(toBatchRow).sort(oldestFirst)
    })
  }

  batchRecords(key: string): Promise<QueuedRecord[]> {
    return transact(this.db, [RECORDS, BATCHES], 'readonly', (tx) => {
      const records = tx.objectStore(RECORDS)
      const found: QueuedRecord[] = []
      onResult(tx.objectStore(BATCHES).get(key), (batch: StoredBatch | undefined) => {
        for (const seq of batch?.seqs ?? []) {
          onResult(records.get(seq), (row: RecordRow | undefined) => {
            if (row !== undefined) found.push(toQueuedRecord(row))
          })
        }
      })
      return () => found.sort((a, b) => a.seq - b.seq)
    })
  }

  deferBatch(key: string, attempts: number, notBefore: number): Promise<void> {
    return transact(this.db, [BATCHES], 'readwrite', (tx) => {
      const batches = tx.objectStore(BATCHES)
      onResult(batches.get(key), (batch: StoredBatch | undefined) => {
        if (batch !== undefined) batches.put({ ...toBatchRow(batch), attempts, notBefore })
      })
      return () => undefined
    })
  }

  completeBatch(key: string): Promise<void> {
    return transact(this.db, [RECORDS, BATCHES], 'readwrite', (tx) => {
      const batches = tx.objectStore(BATCHES)
      const records = tx.objectStore(RECORDS)
      onResult(batches.get(key), (batch: StoredBatch | undefined) => {
        if (batch === undefined) return
        for (const seq of batch.seqs) records.delete(seq)
        batches.delete(key)
      })
      return () => undefined
    })
  }

  rejectFromBatch(
    key: string,
    rejected: ReadonlyArray<{ seq: number; problem: ProblemDocument }>,
    at: number,
  ): Promise<void> {
    const problems = new Map(rejected.map((r) => [r.seq, r.problem]))
    return transact(this.db, [RECORDS, BATCHES, REJECTED], 'readwrite', (tx) => {
      const batches = tx.objectStore(BATCHES)
      const records = tx.objectStore(RECORDS)
      const rejectedStore = tx.objectStore(REJECTED)
      onResult(batches.get(key), (batch: StoredBatch | undefined) => {
        if (batch === undefined) return
        batches.delete(key)
        for (const seq of batch.seqs) {
          onResult(records.get(seq), (row: RecordRow | undefined) => {
            if (row === undefined) return
            const problem = problems.get(seq)
            if (problem === undefined) {
              const { batch: _, ...rest } = row
              records.put({ ...rest, queued: 1 })
              return
            }
            records.delete(seq)
            const entry: RejectedRecord = {
              seq,
              event: row.event,
              recordedAt: row.recordedAt,
              problem,
              rejectedAt: at,
            }
            rejectedStore.put(entry)
          })
        }
      })
      return () => undefined
    })
  }

  rejected(limit: number): Promise<RejectedRecord[]> {
    return transact(this.db, [REJECTED], 'readonly', (tx) => {
      let rows: RejectedRecord[] = []
      onResult(tx.objectStore(REJECTED).getAll(null, limit), (found) => {
        rows = found as RejectedRecord[]
      })
      return () => rows
    })
  }

  deleteRejected(seqs: readonly number[]): Promise<void> {
    return transact(this.db, [REJECTED], 'readwrite', (tx) => {
      const store = tx.objectStore(REJECTED)
      for (const seq of seqs) store.delete(seq)
      return () => undefined
    })
  }

  counts(): Promise<QueueCounts> {
    return transact(this.db, ALL, 'readonly', (tx) => {
      let all = 0
      let queued = 0
      let rejected = 0
      const records = tx.objectStore(RECORDS)
      onResult(records.count(), (n) => {
        all = n
      })
      onResult(records.index(QUEUE_INDEX).count(), (n) => {
        queued = n
      })
      onResult(tx.objectStore(REJECTED).count(), (n) => {
        rejected = n
      })
      return () => ({ queued, batched: all - queued, rejected })
    })
  }

  getState(name: string): Promise<string | undefined> {
    return transact(this.db, [STATE], 'readonly', (tx) => {
      let value: string | undefined
      onResult(tx.objectStore(STATE).get(name), (found: unknown) => {
        value = typeof found === 'string' ? found : undefined
      })
      return () => value
    })
  }

  setState(name: string, value: string): Promise<void> {
    return transact(this.db, [STATE], 'readwrite', (tx) => {
      tx.objectStore(STATE).put(value, name)
      return () => undefined
    })
  }

  async close(): Promise<void> {
    // Transactions already started still complete; every method resolved only after its own did.
    this.db.close()
  }
}

function toQueuedRecord(row: RecordRow): QueuedRecord {
  return { seq: row.seq as number, event: row.event, recordedAt: row.recordedAt }
}

/** A batch with exactly the fields of StoredBatch, in one order, whatever object it came from. */
function toBatchRow(batch: StoredBatch): StoredBatch {
  const { key, body, seqs, createdAt, attempts, notBefore } = batch
  return { key, body, seqs: [...seqs], createdAt, attempts, notBefore }
}

function oldestFirst(a: StoredBatch, b: StoredBatch): number {
  return (
    a.createdAt - b.createdAt ||
    (a.seqs[0] ?? 0) - (b.seqs[0] ?? 0) ||
    (a.key < b.key ? -1 : a.key > b.key ? 1 : 0)
  )
}
