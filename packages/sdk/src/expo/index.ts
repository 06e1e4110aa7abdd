// The SDK's React Native (Expo) entry point: a QueueStore on expo-sqlite and a SecureStore on
// expo-secure-store, both optional peer dependencies the app installs (`npx expo install expo-sqlite
// expo-secure-store`).

import * as SecureStoreModule from 'expo-secure-store'
import { openDatabaseAsync } from 'expo-sqlite'
import { ExpoSecureStoreAdapter, type ExpoSecureStoreOptions } from './secure-store.js'
import { ExpoSqliteQueueStore } from './sqlite-queue-store.js'

export { type ExpoSecureStoreOptions, MAX_VALUE_BYTES, secureStoreKey } from './secure-store.js'
export { ExpoSqliteQueueStore, type QueueDatabase } from './sqlite-queue-store.js'

/** The database file that holds the queue named `name`. */
export function queueDatabaseFile(name: string): string {
  return `pos-sdk-queue-${name}.db`
}

/** Opens the queue `name` in the app's default SQLite directory, creating it on first use. */
export async function openExpoSqliteQueueStore(name: string): Promise<ExpoSqliteQueueStore> {
  return ExpoSqliteQueueStore.fromDatabase(await openDatabaseAsync(queueDatabaseFile(name)))
}

/** Credentials in the Keychain (iOS) or the Keystore (Android), through expo-secure-store. */
export class ExpoSecureStore extends ExpoSecureStoreAdapter {
  constructor(options: ExpoSecureStoreOptions = {}) {
    super(SecureStoreModule, {
      keychainAccessible: SecureStoreModule.AFTER_FIRST_UNLOCK_THIS_DEVICE_ONLY,
      ...options,
    })
  }
}
