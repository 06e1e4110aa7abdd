// The Node adapters held to the shared contracts: the SQLite queue store, the encrypted-file secure store,
// the keychain where this machine has one, and the refusal to keep credentials anywhere else without one.
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, describe, expect, it } from 'vitest'
import {
  KeychainUnavailableError,
  keychainUnavailable,
  openEncryptedFileSecureStore,
  openNodeSecureStore,
  openSqliteQueueStore,
} from '../src/node/index.js'
import { QUEUE_SETUP } from '../src/sqlite/queue-schema.js'
import { queueStoreContract, secureStoreContract } from '../src/testing/index.js'

const dirs: string[] = []
function freshDir(): string {
  const dir = mkdtempSync(join(tmpdir(), 'pos-sdk-adapter-'))
  dirs.push(dir)
  return dir
}
afterAll(() => {
  for (const dir of dirs) rmSync(dir, { recursive: true, force: true })
})

const PASSPHRASE = 'correct horse battery staple'

describe('the SQLite queue store', () => {
  for (const check of queueStoreContract(() => {
    const path = join(freshDir(), 'queue.db')
    return { open: async () => openSqliteQueueStore(path) }
  }))
    it(check.name, () => check.run())

  it('runs in WAL mode with synchronous FULL', async () => {
    const path = join(freshDir(), 'queue.db')
    const store = openSqliteQueueStore(path)
    await store.close()
    const Database = (await import('better-sqlite3')).default
    const db = new Database(path)
    expect(db.pragma('journal_mode', { simple: true })).toBe('wal')
    // synchronous is a setting of each connection, not of the file: the setup every store runs on its own
    // connection must set it to FULL (2), or a commit could resolve before it is on disk.
    expect(db.pragma('synchronous', { simple: true })).not.toBe(2)
    db.exec(QUEUE_SETUP)
    expect(db.pragma('synchronous', { simple: true })).toBe(2)
    db.close()
  })
})

describe('the encrypted-file secure store', () => {
  for (const check of secureStoreContract(() => {
    const path = join(freshDir(), 'secrets.json')
    return { open: () => openEncryptedFileSecureStore(path, PASSPHRASE) }
  }))
    it(check.name, () => check.run())

  it('writes a file of mode 0600 that holds no value in the clear, and refuses a wrong passphrase', async () => {
    const path = join(freshDir(), 'secrets.json')
    const store = await openEncryptedFileSecureStore(path, PASSPHRASE)
    await store.set('apiKey', 'pos_live_visible_if_not_encrypted')
    expect(statSync(path).mode & 0o777).toBe(0o600)
    expect(readFileSync(path, 'utf8')).not.toContain('visible_if_not_encrypted')
    await expect(openEncryptedFileSecureStore(path, 'another passphrase!')).rejects.toThrow(
      /wrong passphrase/,
    )
  })

  it('refuses a file that was changed', async () => {
    const path = join(freshDir(), 'secrets.json')
    await (await openEncryptedFileSecureStore(path, PASSPHRASE)).set('apiKey', 'pos_live_x')
    const sealed = JSON.parse(readFileSync(path, 'utf8')) as { data: string }
    const bytes = Buffer.from(sealed.data, 'base64')
    bytes[0] = (bytes[0] as number) ^ 1
    writeFileSync(path, JSON.stringify({ ...sealed, data: bytes.toString('base64') }))
    await expect(openEncryptedFileSecureStore(path, PASSPHRASE)).rejects.toThrow(/was changed/)
  })

  it('is what openNodeSecureStore gives when the app chooses it explicitly', async () => {
    const path = join(freshDir(), 'secrets.json')
    const store = await openNodeSecureStore({ encryptedFile: { path, passphrase: PASSPHRASE } })
    await store.set('signingSecret', 's')
    expect(await (await openEncryptedFileSecureStore(path, PASSPHRASE)).get('signingSecret')).toBe('s')
  })
})

const keychainMissing = keychainUnavailable('pos-sdk-test')

describe.runIf(keychainMissing !== undefined)('without an operating system keychain (this machine)', () => {
  it('openNodeSecureStore refuses and names the way out', async () => {
    const failure = await openNodeSecureStore({ service: 'pos-sdk-test' }).catch((e: unknown) => e)
    expect(failure).toBeInstanceOf(KeychainUnavailableError)
    expect((failure as Error).message).toMatch(/No operating system keychain/)
    expect((failure as Error).message).toMatch(/encryptedFile/)
  })
})

describe.runIf(keychainMissing === undefined)('the operating system keychain', () => {
  const service = `pos-sdk-test-${process.pid}`
  for (const check of secureStoreContract(() => ({ open: () => openNodeSecureStore({ service }) })))
    it(check.name, () => check.run())
})
