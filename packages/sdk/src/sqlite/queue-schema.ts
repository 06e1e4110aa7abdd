// The SQLite queue, shared by the Node store (better-sqlite3) and the Expo store (expo-sqlite): how a database
// is set up, the tables, the statements both stores run, their rows and how a row becomes a record or a batch.
// Plain strings and functions, no platform module: each store runs them through its own driver.
import type {
  IngestEvent,
  ProblemDocument,
  QueueCounts,
  QueuedRecord,
  RejectedRecord,
  StoredBatch,
} from '../core/ports.js'

const QUEUE_SCHEMA = `
CREATE TABLE IF NOT EXISTS records (
  seq INTEGER PRIMARY KEY AUTOINCREMENT,
  event TEXT NOT NULL,
  recorded_at INTEGER NOT NULL,
  batch_key TEXT
);
CREATE INDEX IF NOT EXISTS records_by_batch ON records (batch_key, seq);
CREATE TABLE IF NOT EXISTS batches (
  key TEXT PRIMARY KEY,
  body TEXT NOT NULL,
  seqs TEXT NOT NULL,
  created_at INTEGER NOT NULL,
  attempts INTEGER NOT NULL,
  not_before INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS rejected (
  seq INTEGER PRIMARY KEY,
  event TEXT NOT NULL,
  recorded_at INTEGER NOT NULL,
  problem TEXT NOT NULL,
  rejected_at INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS state (name TEXT PRIMARY KEY, value TEXT NOT NULL);
`

/**
 * What a store runs on opening: WAL with synchronous=FULL, so that a committed transaction is on disk when
 * its promise resolves and a power cut loses nothing acknowledged (NORMAL would), then the tables.
 */
export const QUEUE_SETUP = `
PRAGMA journal_mode = WAL;
PRAGMA synchronous = FULL;
${QUEUE_SCHEMA}`

/** The statements of both stores, by what they do; their `?` parameters in the order each comment gives. */
export const QUEUE_SQL = {
  /** (event, recordedAt) */
  appendRecord: 'INSERT INTO records (event, recorded_at) VALUES (?, ?)',
  /** (limit) */
  unbatched: 'SELECT seq, event, recorded_at FROM records WHERE batch_key IS NULL ORDER BY seq LIMIT ?',
  /** (key, body, seqs, createdAt, attempts, notBefore); the primary key refuses a second batch of a key. */
  insertBatch:
    'INSERT INTO batches (key, body, seqs, created_at, attempts, not_before) VALUES (?, ?, ?, ?, ?, ?)',
  openBatches:
    'SELECT key, body, seqs, created_at, attempts, not_before FROM batches ORDER BY created_at, rowid',
  /** (key) */
  batchRecords: 'SELECT seq, event, recorded_at FROM records WHERE batch_key = ? ORDER BY seq',
  /** (attempts, notBefore, key) */
  deferBatch: 'UPDATE batches SET attempts = ?, not_before = ? WHERE key = ?',
  /** (key) */
  deleteBatchRecords: 'DELETE FROM records WHERE batch_key = ?',
  /** (key) */
  releaseBatchRecords: 'UPDATE records SET batch_key = NULL WHERE batch_key = ?',
  /** (key) */
  deleteBatch: 'DELETE FROM batches WHERE key = ?',
  /** (problem, rejectedAt, seq, key): a copy of the batch's record in rejected. */
  rejectRecord: `INSERT INTO rejected (seq, event, recorded_at, problem, rejected_at)
     SELECT seq, event, recorded_at, ?, ? FROM records WHERE seq = ? AND batch_key = ?`,
  /** (seq, key) */
  deleteBatchRecord: 'DELETE FROM records WHERE seq = ? AND batch_key = ?',
  /** (limit) */
  rejected: 'SELECT seq, event, recorded_at, problem, rejected_at FROM rejected ORDER BY seq LIMIT ?',
  /** (seqs as a JSON array) */
  deleteRejected: 'DELETE FROM rejected WHERE seq IN (SELECT value FROM json_each(?))',
  counts: `SELECT
     (SELECT count(*) FROM records WHERE batch_key IS NULL) AS queued,
     (SELECT count(*) FROM records WHERE batch_key IS NOT NULL) AS batched,
     (SELECT count(*) FROM rejected) AS rejected`,
  /** (name) */
  getState: 'SELECT value FROM state WHERE name = ?',
  /** (name, value) */
  setState:
    'INSERT INTO state (name, value) VALUES (?, ?) ON CONFLICT (name) DO UPDATE SET value = excluded.value',
} as const

interface RecordRow {
  seq: number
  event: string
  recorded_at: number
}

interface BatchRow {
  key: string
  body: string
  seqs: string
  created_at: number
  attempts: number
  not_before: number
}

interface RejectedRow extends RecordRow {
  problem: string
  rejected_at: number
}

function toQueuedRecord(row: RecordRow): QueuedRecord {
  return { seq: row.seq, event: JSON.parse(row.event) as IngestEvent, recordedAt: row.recorded_at }
}

/**
 * What a row of QUEUE_SQL's reads is, whichever driver read it (the drivers type rows `unknown` or by a type
 * argument they never check; this is the one place that says what the columns are).
 */
export const fromRow = {
  /** A row of `unbatched` or `batchRecords`. */
  record: (row: unknown): QueuedRecord => toQueuedRecord(row as RecordRow),
  /** A row of `openBatches`. */
  batch(row: unknown): StoredBatch {
    const batch = row as BatchRow
    return {
      key: batch.key,
      body: batch.body,
      seqs: JSON.parse(batch.seqs) as number[],
      createdAt: batch.created_at,
      attempts: batch.attempts,
      notBefore: batch.not_before,
    }
  },
  /** A row of `rejected`. */
  rejected(row: unknown): RejectedRecord {
    const rejected = row as RejectedRow
    return {
      ...toQueuedRecord(rejected),
      problem: JSON.parse(rejected.problem) as ProblemDocument,
      rejectedAt: rejected.rejected_at,
    }
  },
  /** The row of `counts` (none: an empty queue). */
  counts(row: unknown): QueueCounts {
    const counts = (row ?? {}) as Partial<QueueCounts>
    return { queued: counts.queued ?? 0, batched: counts.batched ?? 0, rejected: counts.rejected ?? 0 }
  },
}
