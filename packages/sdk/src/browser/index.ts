// The SDK's browser entry point: a QueueStore on IndexedDB and a SecureStore that encrypts under a
// non-extractable WebCrypto key.
export {
  BrowserSecureStore,
  type BrowserSecureStoreOptions,
  secureDatabaseName,
} from './browser-secure-store.js'
export {
  IndexedDbQueueStore,
  type IndexedDbQueueStoreOptions,
  queueDatabaseName,
} from './indexeddb-queue-store.js'
