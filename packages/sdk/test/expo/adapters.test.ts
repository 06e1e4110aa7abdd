// The Expo adapters' contracts, run in Node against test doubles of expo-sqlite (better-sqlite3 behind the same
// asynchronous API) and expo-secure-store (a Map). This checks the adapters' SQL, transactions and key mapping;
// it is not a run on a device (see the README).
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, describe, expect, it } from 'vitest'
import { ExpoSecureStoreAdapter, MAX_VALUE_BYTES, secureStoreKey } from '../../src/expo/secure-store.js'
import { ExpoSqliteQueueStore } from '../../src/expo/sqlite-queue-store.js'
import { queueStoreContract, secureStoreContract } from '../../src/testing/index.js'
import { BetterSqliteExpoDatabase, MapSecureStoreModule } from './expo-doubles.js'

const dir = mkdtempSync(join(tmpdir(), 'pos-sdk-expo-'))
afterAll(() => rmSync(dir, { recursive: true, force: true }))
let location = 0

describe('ExpoSqliteQueueStore passes the QueueStore contract (expo-sqlite double on better-sqlite3)', () => {
  const checks = queueStoreContract(() => {
    const file = join(dir, `queue-${++location}.db`)
    return { open: () => ExpoSqliteQueueStore.fromDatabase(new BetterSqliteExpoDatabase(file)) }
  })
  for (const check of checks) it(check.name, () => check.run())
})

describe('ExpoSecureStore passes the SecureStore contract (expo-secure-store double)', () => {
  const checks = secureStoreContract(() => {
    const module = new MapSecureStoreModule()
    return { open: async () => new ExpoSecureStoreAdapter(module) }
  })
  for (const check of checks) it(check.name, () => check.run())
})

describe('ExpoSecureStore', () => {
  it('maps every name to a key expo-secure-store accepts, and no two names to one key', async () => {
    const names = ['apiKey', 'signingSecret', 'a_b', 'a_005fb', 'a b', 'a/b', 'é', '😀', 'cursor:feed']
    const keys = names.map((name) => secureStoreKey('pos-sdk', name))
    for (const key of keys) expect(key).toMatch(/^[A-Za-z0-9._-]+$/)
    expect(new Set(keys).size).toBe(names.length)

    const module = new MapSecureStoreModule()
    const store = new ExpoSecureStoreAdapter(module)
    for (const name of names) await store.set(name, `value of ${name}`)
    for (const name of names) expect(await store.get(name)).toBe(`value of ${name}`)
    expect([...module.entries.keys()].sort()).toEqual([...keys].sort())
  })

  it('refuses a value over 2048 bytes without naming the value', async () => {
    const store = new ExpoSecureStoreAdapter(new MapSecureStoreModule())
    const value = `secret-${'é'.repeat(MAX_VALUE_BYTES / 2)}`
    await expect(store.set('signingSecret', value)).rejects.toThrow(/at most 2048/)
    await expect(store.set('signingSecret', value)).rejects.not.toThrow(/secret-/)
    expect(await store.get('signingSecret')).toBeUndefined()
  })

  it('refuses a prefix expo-secure-store could not store', () => {
    expect(() => new ExpoSecureStoreAdapter(new MapSecureStoreModule(), { prefix: 'pos sdk' })).toThrow(
      /prefix/,
    )
  })
})
