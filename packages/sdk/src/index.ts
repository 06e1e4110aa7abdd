// The SDK's platform-free core. Platform adapters are separate entry points (/node, /browser, /expo).
export type {
  Api,
  CursorStore,
  FeedEventRecord,
  FollowOptions,
  IngestResult,
  OrderPage,
  ProductPage,
  StockLevelPage,
} from './core/api.js'
export {
  type ClientEvents,
  type ClientOptions,
  createClient,
  DeviceClient,
  type FlushReport,
  type NewEvent,
  type SyncStatus,
} from './core/client.js'
export { webCrypto } from './core/crypto.js'
export { ApiError, AuthError, type FailureSummary, ProtocolError, TransportError } from './core/errors.js'
export type {
  CryptoPort,
  IngestEvent,
  ProblemDocument,
  QueueCounts,
  QueuedRecord,
  QueueStore,
  RejectedRecord,
  SecureStore,
  StoredBatch,
} from './core/ports.js'
export { DEFAULT_REMOTE_CONFIG, type RemoteConfig } from './core/remote-config.js'
export { compareVersions } from './core/semver.js'
export { API_KEY, type FetchLike, SIGNING_SECRET } from './core/transport.js'
export { SDK_VERSION } from './core/version.js'
export { type VerifyWebhookOptions, verifyWebhook, type WebhookHeaders } from './core/webhooks.js'
