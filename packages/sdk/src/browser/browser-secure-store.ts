// The browser's SecureStore. A page has no keychain, so each value is encrypted with AES-GCM under one
// WebCrypto key that is generated inside the browser as non-extractable: the key object is kept in IndexedDB
// (CryptoKey objects are structured-cloneable) but its bytes can never be read back by script, exported or
// sent anywhere. IndexedDB holds only the key handle and, per name, the IV and ciphertext; the name is bound to
// its ciphertext as additional data, so one name's record cannot be passed off as another's. Nothing goes to
// localStorage or sessionStorage.
//
// What this protects against: secrets lying in plain text in the browser profile, in storage dumps, backups and
// exports, and script that can only read storage. What it cannot: script running in the page itself can ask
// the store to decrypt, as the SDK does.
import type { SecureStore } from '../core/ports.js'
import { onResult, openDatabase, transact } from './idb.js'

const KEYS = 'keys'
const SECRETS = 'secrets'
const KEY_NAME = 'aes-gcm'
const IV_BYTES = 12

interface SealedValue {
  readonly iv: Uint8Array<ArrayBuffer>
  readonly ciphertext: ArrayBuffer
}

export interface BrowserSecureStoreOptions {
  /** The IndexedDB factory to use; the page's `indexedDB` by default. */
  readonly indexedDB?: IDBFactory
  /** The WebCrypto implementation; the page's `crypto` by default. */
  readonly crypto?: Crypto
}

/** The database that holds the secure store named `name`. */
export function secureDatabaseName(name: string): string {
  return `pos-sdk-secure:${name}`
}

export class BrowserSecureStore implements SecureStore {
  private constructor(
    private readonly db: IDBDatabase,
    private readonly key: CryptoKey,
    private readonly crypto: Crypto,
  ) {}

  /** Opens the secure store `name`; the first open generates its key. */
  static async open(name = 'default', options: BrowserSecureStoreOptions = {}): Promise<BrowserSecureStore> {
    const webCrypto = options.crypto ?? crypto
    const db = await openDatabase(options.indexedDB ?? indexedDB, secureDatabaseName(name), 1, (created) => {
      created.createObjectStore(KEYS)
      created.createObjectStore(SECRETS)
    })
    try {
      return new BrowserSecureStore(db, await loadOrCreateKey(db, webCrypto), webCrypto)
    } catch (error) {
      db.close()
      throw error
    }
  }

  async get(name: string): Promise<string | undefined> {
    const sealed = await transact(this.db, [SECRETS], 'readonly', (tx) => {
      let found: SealedValue | undefined
      onResult(tx.objectStore(SECRETS).get(name), (value: SealedValue | undefined) => {
        found = value
      })
      return () => found
    })
    if (sealed === undefined) return undefined
    const plain = await this.crypto.subtle.decrypt(
      { name: 'AES-GCM', iv: sealed.iv, additionalData: encode(name) },
      this.key,
      sealed.ciphertext,
    )
    return new TextDecoder().decode(plain)
  }

  async set(name: string, value: string): Promise<void> {
    const iv = this.crypto.getRandomValues(new Uint8Array(IV_BYTES))
    const ciphertext = await this.crypto.subtle.encrypt(
      { name: 'AES-GCM', iv, additionalData: encode(name) },
      this.key,
      encode(value),
    )
    const sealed: SealedValue = { iv, ciphertext }
    await transact(this.db, [SECRETS], 'readwrite', (tx) => {
      tx.objectStore(SECRETS).put(sealed, name)
      return () => undefined
    })
  }

  delete(name: string): Promise<void> {
    return transact(this.db, [SECRETS], 'readwrite', (tx) => {
      tx.objectStore(SECRETS).delete(name)
      return () => undefined
    })
  }

  async close(): Promise<void> {
    this.db.close()
  }
}

function encode(text: string): Uint8Array<ArrayBuffer> {
  return new TextEncoder().encode(text)
}

async function readKey(db: IDBDatabase): Promise<CryptoKey | undefined> {
  return transact(db, [KEYS], 'readonly', (tx) => {
    let key: CryptoKey | undefined
    onResult(tx.objectStore(KEYS).get(KEY_NAME), (found: CryptoKey | undefined) => {
      key = found
    })
    return () => key
  })
}

/**
 * The store's key: the one kept in IndexedDB, or a new non-extractable one. Key generation is asynchronous and
 * so cannot share a transaction with the write; two tabs opening at once both generate, `add` lets only the
 * first keep its key, and the other reads that one back.
 */
async function loadOrCreateKey(db: IDBDatabase, webCrypto: Crypto): Promise<CryptoKey> {
  const stored = await readKey(db)
  if (stored !== undefined) return stored
  const generated = await webCrypto.subtle.generateKey({ name: 'AES-GCM', length: 256 }, false, [
    'encrypt',
    'decrypt',
  ])
  try {
    await transact(db, [KEYS], 'readwrite', (tx) => {
      tx.objectStore(KEYS).add(generated, KEY_NAME)
      return () => undefined
    })
    return generated
  } catch (error) {
    const winner = await readKey(db)
    if (winner === undefined) throw error
    return winner
  }
}
