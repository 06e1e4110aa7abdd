// Test doubles of the two Expo modules, for running the Expo adapters' contracts in Node. They are not the
// device: expo-sqlite here is better-sqlite3 (the same SQLite engine, driven through the subset of
// expo-sqlite's asynchronous API the queue store uses, with expo-sqlite's own non-exclusive
// withTransactionAsync), and expo-secure-store is a Map that enforces the module's key characters and the
// 2048-byte value limit. What they prove is the adapters' SQL, transactions and name mapping, not the native
// modules.
import Database from 'better-sqlite3'
import type { SecureStoreOptions } from 'expo-secure-store'
import type {
  SQLiteBindParams,
  SQLiteBindValue,
  SQLiteRunResult,
  SQLiteVariadicBindParams,
} from 'expo-sqlite'
import type { SecureStoreModule } from '../../src/expo/secure-store.js'
import type { QueueDatabase } from '../../src/expo/sqlite-queue-store.js'

/** Each call answers after the current macrotask, as a call over the native bridge does, so calls interleave. */
const nextTurn = () => new Promise<void>((resolve) => setImmediate(resolve))

function positional(params: unknown[]): SQLiteBindValue[] {
  const [first] = params
  if (params.length === 1 && Array.isArray(first)) return first as SQLiteBindValue[]
  if (params.length === 1 && first !== null && typeof first === 'object' && !(first instanceof Uint8Array))
    throw new Error('the double binds positional parameters only')
  return params as SQLiteBindValue[]
}

export class BetterSqliteExpoDatabase implements QueueDatabase {
  private readonly db: Database.Database

  constructor(file: string) {
    this.db = new Database(file)
  }

  async execAsync(source: string): Promise<void> {
    await nextTurn()
    this.db.exec(source)
  }

  runAsync(source: string, params: SQLiteBindParams): Promise<SQLiteRunResult>
  runAsync(source: string, ...params: SQLiteVariadicBindParams): Promise<SQLiteRunResult>
  async runAsync(source: string, ...params: unknown[]): Promise<SQLiteRunResult> {
    await nextTurn()
    const info = this.db.prepare(source).run(...positional(params))
    return { lastInsertRowId: Number(info.lastInsertRowid), changes: info.changes }
  }

  getFirstAsync<T>(source: string, params: SQLiteBindParams): Promise<T | null>
  getFirstAsync<T>(source: string, ...params: SQLiteVariadicBindParams): Promise<T | null>
  async getFirstAsync<T>(source: string, ...params: unknown[]): Promise<T | null> {
    await nextTurn()
    return (this.db.prepare(source).get(...positional(params)) as T | undefined) ?? null
  }

  getAllAsync<T>(source: string, params: SQLiteBindParams): Promise<T[]>
  getAllAsync<T>(source: string, ...params: SQLiteVariadicBindParams): Promise<T[]>
  async getAllAsync<T>(source: string, ...params: unknown[]): Promise<T[]> {
    await nextTurn()
    return this.db.prepare(source).all(...positional(params)) as T[]
  }

  /** As expo-sqlite has it: BEGIN, the task, COMMIT; ROLLBACK and rethrow when the task throws. */
  async withTransactionAsync(task: () => Promise<void>): Promise<void> {
    try {
      await this.execAsync('BEGIN')
      await task()
      await this.execAsync('COMMIT')
    } catch (error) {
      await this.execAsync('ROLLBACK')
      throw error
    }
  }

  async closeAsync(): Promise<void> {
    await nextTurn()
    this.db.close()
  }
}

/** expo-secure-store's asynchronous functions over a Map, with the module's own checks on keys and sizes. */
export class MapSecureStoreModule implements SecureStoreModule {
  readonly entries = new Map<string, string>()

  private static check(key: string): void {
    if (!/^[A-Za-z0-9._-]+$/.test(key)) throw new Error(`Invalid key: ${key}`)
  }

  async getItemAsync(key: string, _options?: SecureStoreOptions): Promise<string | null> {
    MapSecureStoreModule.check(key)
    return this.entries.get(key) ?? null
  }

  async setItemAsync(key: string, value: string, _options?: SecureStoreOptions): Promise<void> {
    MapSecureStoreModule.check(key)
    if (new TextEncoder().encode(value).length > 2048) throw new Error('value too large')
    this.entries.set(key, value)
  }

  async deleteItemAsync(key: string, _options?: SecureStoreOptions): Promise<void> {
    MapSecureStoreModule.check(key)
    this.entries.delete(key)
  }
}
