// The SQLite layout of the local queue, shared by the Node store (better-sqlite3) and the Expo store
// (expo-sqlite): the tables, their rows and how a row becomes a record or a batch. Plain strings and
// functions, no platform module: each store runs them through its own driver.
import type {
  IngestEvent,
  ProblemDocument,
  QueuedRecord,
  RejectedRecord,
  StoredBatch,
} from '../core/ports.js'

export const QUEUE_SCHEMA = `
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

export interface RecordRow {
  seq: number
  event: string
  recorded_at: number
}

export interface BatchRow {
  key: string
  body: string
  seqs: string
  created_at: number
  attempts: number
  not_before: number
}

export interface RejectedRow extends RecordRow {
  problem: string
  rejected_at: number
}

export function toQueuedRecord(row: RecordRow): QueuedRecord {
  return { seq: row.seq, event: JSON.parse(row.event) as IngestEvent, recordedAt: row.recorded_at }
}

export function toStoredBatch(row: BatchRow): StoredBatch {
  return {
    key: row.key,
    body: row.body,
    seqs: JSON.parse(row.seqs) as number[],
    createdAt: row.created_at,
    attempts: row.attempts,
    notBefore: row.not_before,
  }
}

export function toRejectedRecord(row: RejectedRow): RejectedRecord {
  return {
    ...toQueuedRecord(row),
    problem: JSON.parse(row.problem) as ProblemDocument,
    rejectedAt: row.rejected_at,
  }
}
