// The SDK's platform-free core. Platform adapters are separate entry points (/node, /browser, /expo).
export type {
  IngestEvent,
  ProblemDocument,
  QueueCounts,
  QueuedRecord,
  QueueStore,
  RejectedRecord,
  SecureStore,
  StoredBatch,
} from './core/ports.js'
