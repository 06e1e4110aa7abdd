// The few IndexedDB helpers both browser adapters share. IndexedDB's unit of atomicity is the transaction,
// and its unit of durability is the transaction's `complete` event: every change here resolves only then, and
// asks for `durability: 'strict'` (the browser flushes to disk before `complete`) where the browser has it.

/** Opens (creating or upgrading) a database; `upgrade` creates the object stores of a new database. */
export function openDatabase(
  factory: IDBFactory,
  name: string,
  version: number,
  upgrade: (db: IDBDatabase, oldVersion: number) => void,
): Promise<IDBDatabase> {
  return new Promise((resolve, reject) => {
    const request = factory.open(name, version)
    request.onupgradeneeded = (event) => upgrade(request.result, event.oldVersion)
    request.onsuccess = () => {
      const db = request.result
      // Another tab upgrading or deleting the database must not wait on this one forever.
      db.onversionchange = () => db.close()
      resolve(db)
    }
    // No onblocked: an upgrade waits until older connections close, which onversionchange above makes them do.
    request.onerror = () => reject(request.error ?? new Error(`cannot open IndexedDB database ${name}`))
  })
}

/** Why a transaction was given up, when the code (not the browser) decided it. */
export type Abort = (reason: Error) => void

/**
 * Runs `work` in one transaction over `stores` and resolves with what `result` returns once the transaction
 * completed (committed, and with strict durability flushed). `work` only issues requests; it may call `abort`
 * from any request callback, which rolls back everything the transaction did and rejects with that reason.
 */
export function transact<T>(
  db: IDBDatabase,
  stores: readonly string[],
  mode: IDBTransactionMode,
  work: (tx: IDBTransaction, abort: Abort) => () => T,
): Promise<T> {
  return new Promise((resolve, reject) => {
    const tx = db.transaction(stores as string[], mode, { durability: 'strict' })
    let reason: Error | undefined
    let result: (() => T) | undefined
    const abort: Abort = (why) => {
      reason ??= why
      try {
        tx.abort()
      } catch {
        // Already finished or aborting: the first reason stands.
      }
    }
    tx.oncomplete = () => {
      if (reason !== undefined || result === undefined)
        reject(reason ?? new Error('transaction had no result'))
      else resolve(result())
    }
    tx.onabort = () => reject(reason ?? tx.error ?? new Error('IndexedDB transaction aborted'))
    try {
      result = work(tx, abort)
    } catch (error) {
      abort(error instanceof Error ? error : new Error(String(error)))
    }
  })
}

/** Calls `then` with the request's result when it succeeds (errors abort the transaction by themselves). */
export function onResult<T>(request: IDBRequest<T>, then: (value: T) => void): void {
  request.onsuccess = () => then(request.result)
}
