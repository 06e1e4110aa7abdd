// The Node entry point (@pos/sdk/node): the core with the Node adapters, a SQLite queue and a keychain (or
// explicitly chosen encrypted file) for the credentials.
export * from '../index.js'
export {
  KeychainUnavailableError,
  keychainUnavailable,
  type NodeSecureStoreOptions,
  openEncryptedFileSecureStore,
  openNodeSecureStore,
} from './secure-store.js'
export { openSqliteQueueStore } from './sqlite-queue-store.js'
