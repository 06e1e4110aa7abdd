// Which start-up errors are waited out and which end the process, on real drivers against real servers, and
// the backoff between attempts. The process-level behaviour is in test/process/startup.test.ts.
import { sql } from 'drizzle-orm'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { loadConfig } from '../../src/config.js'
import { type DatabaseHandle, openDatabase } from '../../src/platform/database.js'
import { openInvalidation } from '../../src/platform/invalidation.js'
import { Lifecycle } from '../../src/platform/lifecycle.js'
import { createLogger } from '../../src/platform/logger.js'
import { createOutbound } from '../../src/platform/outbound/outbound.js'
import { openRedis, type RedisHandle } from '../../src/platform/redis.js'
import { completeStartup, retryDelayMs } from '../../src/platform/startup.js'
import { ADMIN_TOKEN, CapturedLogs } from '../helpers/app.js'
import { createTestDatabase, type TestDatabase } from '../helpers/database.js'
import { freePort as closedPort } from '../helpers/private-redis.js'
import { TEST_ENCRYPTION_KEY, testSecrets } from '../helpers/secrets.js'

const silent = createLogger({ level: 'silent' })

/** The error a query on `handle` fails with. */
async function failureOf(handle: DatabaseHandle): Promise<unknown> {
  return handle.db.execute(sql`SELECT 1`).then(
    () => expect.unreachable('the query succeeded'),
    (err: unknown) => err,
  )
}

function withCode(message: string, code: string): Error {
  return Object.assign(new Error(message), { code })
}

describe('start-up retries', () => {
  let database: TestDatabase
  let port: number
  const opened: { close(): Promise<void> }[] = []
  beforeAll(async () => {
    database = await createTestDatabase()
    port = await closedPort()
  })
  afterAll(async () => {
    await Promise.allSettled(opened.map((handle) => handle.close()))
    await database.drop()
  })

  async function postgresAt(url: URL): Promise<DatabaseHandle> {
    const handle = await openDatabase({ databaseUrl: url.toString(), dataDir: '', log: silent, poolSize: 1 })
    opened.push(handle)
    return handle
  }

  function redisAt(url: string): RedisHandle {
    const handle = openRedis(url, silent)
    opened.push(handle)
    return handle
  }

  it('waits 250 ms after the first failed attempt, doubling up to 10 s', () => {
    expect([1, 2, 3, 4, 5, 6, 7, 100].map(retryDelayMs)).toEqual([
      250, 500, 1000, 2000, 4000, 8000, 10_000, 10_000,
    ])
  })

  it('waits out a PostgreSQL that refuses connections, even behind the query wrapper', async () => {
    const url = new URL(database.url)
    url.port = String(port)
    const handle = await postgresAt(url)
    const err = await failureOf(handle)
    expect(handle.isUnreachable(err)).toBe(true)
    expect(handle.isUnreachable(new Error('wrapped', { cause: err }))).toBe(true)
  })

  it('waits out a PostgreSQL that is starting, shutting down or out of connection slots', async () => {
    const handle = await postgresAt(new URL(database.url))
    for (const state of ['57P03', '57P01', '53300', '08006']) {
      expect(handle.isUnreachable(withCode('not now', state))).toBe(true)
    }
    expect(handle.isUnreachable(new Error('Connection terminated unexpectedly'))).toBe(true)
  })

  it('does not wait out what the same settings can never fix', async () => {
    const url = new URL(database.url)
    url.pathname = `/${database.name}_missing`
    const handle = await postgresAt(url)
    const missing = await failureOf(handle)
    expect(handle.isUnreachable(missing)).toBe(false)
    for (const state of ['28P01', '28000', '42601']) {
      expect(handle.isUnreachable(withCode('no', state))).toBe(false)
    }
    expect(handle.isUnreachable(new Error('applied migrations were modified since: 0000_init'))).toBe(false)
  })

  it('waits out Redis unless it refuses the login', async () => {
    const redis = redisAt(`redis://127.0.0.1:${port}`)
    const err = await redis.reach().then(
      () => expect.unreachable('redis answered'),
      (e: unknown) => e,
    )
    expect(redis.isUnreachable(err)).toBe(true)
    expect(redis.isUnreachable(new Error('WRONGPASS invalid username-password pair'))).toBe(false)
    expect(redis.isUnreachable(new Error('NOAUTH Authentication required.'))).toBe(false)
  })

  it('fails start-up on a fatal database error while Redis is still being retried', async () => {
    const url = new URL(database.url)
    url.pathname = `/${database.name}_missing`
    const config = loadConfig({
      DATABASE_URL: url.toString(),
      ADMIN_TOKEN,
      ENCRYPTION_KEY: TEST_ENCRYPTION_KEY,
    })
    const logs = new CapturedLogs()
    const log = createLogger({ level: 'warn', destination: logs })
    const lifecycle = new Lifecycle()
    const platform = {
      config,
      log,
      database: await postgresAt(url),
      redis: redisAt(`redis://127.0.0.1:${port}`),
      lifecycle,
      secrets: testSecrets,
      invalidation: openInvalidation({ redis: undefined, keyPrefix: 'test:', log }),
      outbound: createOutbound({ redis: undefined, keyPrefix: 'test:', log, settings: config.outbound }),
    }
    await expect(completeStartup(platform)).rejects.toThrow(/does not exist/)
    expect(lifecycle.phase).toBe('starting')
  })
})
