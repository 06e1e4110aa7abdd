import type { ChildProcess } from 'node:child_process'
import { randomUUID } from 'node:crypto'
import pino from 'pino'
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest'
import { type DatabaseHandle, openDatabase } from '../../src/platform/database.js'
import { migrate } from '../../src/platform/migrations.js'
import { ADMIN_TOKEN, REDIS_URL } from '../helpers/app.js'
import { createTestDatabase, type TestDatabase } from '../helpers/database.js'
import { freePort, startRedis } from '../helpers/private-redis.js'
import { type ServerProcess, startServerProcess } from '../helpers/server-process.js'
import { createTenant, type TenantFixture } from '../helpers/tenants.js'
import { waitFor } from '../helpers/wait.js'

async function started(server: ServerProcess): Promise<string> {
  const url = await server.url()
  await server.waitForLine((line) => line.msg === 'start-up complete', 30_000)
  return url
}

/** The status /readyz reports for Redis. */
async function redisCheck(url: string): Promise<string | undefined> {
  const body = (await (await fetch(`${url}/readyz`)).json()) as { checks?: { redis?: { status: string } } }
  return body.checks?.redis?.status
}

describe('rate limits across real server processes', () => {
  let database: TestDatabase
  let handle: DatabaseHandle
  let tenant: TenantFixture
  const servers: ServerProcess[] = []
  const redises: ChildProcess[] = []

  beforeAll(async () => {
    database = await createTestDatabase()
    handle = await openDatabase({ databaseUrl: database.url, dataDir: '', log: pino({ level: 'silent' }) })
    await migrate(handle.db)
    tenant = await createTenant(handle.db)
  })
  afterEach(async () => {
    for (const server of servers.splice(0)) {
      server.child.kill('SIGTERM')
      await server.exited
    }
    for (const redis of redises.splice(0)) redis.kill('SIGKILL')
  })
  afterAll(async () => {
    await handle.close()
    await database.drop()
  })

  const read = (url: string) =>
    fetch(`${url}/v1/products`, { headers: { authorization: `Bearer ${tenant.key}` } })

  it('accepts exactly the limit across three replicas sharing one Redis, not three times it', async () => {
    const env = {
      DATABASE_URL: database.url,
      ADMIN_TOKEN,
      REDIS_URL,
      REDIS_KEY_PREFIX: `test:${randomUUID()}:`,
      RATE_LIMIT_MAX: '25',
      RATE_LIMIT_WINDOW_MS: '60000',
      // Generous, so a slow machine does not send a check to the per-process insurance limiter.
      RATE_LIMIT_REDIS_TIMEOUT_MS: '2000',
      SHUTDOWN_READINESS_DELAY_MS: '0',
    }
    servers.push(startServerProcess(env), startServerProcess(env), startServerProcess(env))
    const urls = await Promise.all(servers.map(started))
    const statuses: number[] = []
    // Ten rounds of six concurrent requests, spread over the three replicas.
    for (let round = 0; round < 10; round++) {
      const answers = await Promise.all(Array.from({ length: 6 }, (_, i) => read(urls[i % 3]!)))
      statuses.push(...answers.map((r) => r.status))
    }
    expect(statuses.filter((s) => s === 200)).toHaveLength(25)
    expect(statuses.filter((s) => s === 429)).toHaveLength(35)
  })

  it('never accepts more than a leased limit across three replicas, nor refuses more than the leases held', async () => {
    const env = {
      DATABASE_URL: database.url,
      ADMIN_TOKEN,
      REDIS_URL,
      REDIS_KEY_PREFIX: `test:${randomUUID()}:`,
      // Anonymous requests to an unknown route: counted per client IP, answered 404 without the database.
      RATE_LIMIT_ANONYMOUS_MAX: '1000',
      RATE_LIMIT_WINDOW_MS: '60000',
      // Generous, so a slow machine does not send a check to the per-process insurance limiter.
      RATE_LIMIT_REDIS_TIMEOUT_MS: '2000',
      SHUTDOWN_READINESS_DELAY_MS: '0',
    }
    servers.push(startServerProcess(env), startServerProcess(env), startServerProcess(env))
    const urls = await Promise.all(servers.map(started))
    const statuses: number[] = []
    // 1,200 requests in rounds of 30 concurrent ones, spread over the replicas unevenly.
    for (let round = 0; round < 40; round++) {
      const answers = await Promise.all(
        Array.from({ length: 30 }, (_, i) => fetch(`${urls[i % 5 === 0 ? 0 : i % 2]!}/v1/no-such-route`)),
      )
      statuses.push(...answers.map((r) => r.status))
    }
    const accepted = statuses.filter((s) => s === 404).length
    // A lease is at most 1% of the limit: ten tokens; two other replicas may hold nine unspent each.
    expect(accepted).toBeLessThanOrEqual(1000)
    expect(accepted).toBeGreaterThanOrEqual(1000 - 2 * 9)
    expect(statuses.filter((s) => s === 429)).toHaveLength(1200 - accepted)
  }, 120_000)

  it('goes on with the per-process limiter while Redis is down, and returns to the shared limit after', async () => {
    const port = await freePort()
    redises.push(startRedis(port))
    const redisUrl = `redis://127.0.0.1:${port}`
    const server = startServerProcess({
      DATABASE_URL: database.url,
      ADMIN_TOKEN,
      REDIS_URL: redisUrl,
      RATE_LIMIT_MAX: '10',
      RATE_LIMIT_WINDOW_MS: '60000',
      SHUTDOWN_READINESS_DELAY_MS: '0',
    })
    servers.push(server)
    const url = await started(server)
    const backendErrors = async () => {
      const text = await (await fetch(`${url}/metrics`)).text()
      return Number(/^rate_limit_backend_errors_total (\d+)/m.exec(text)?.[1] ?? 0)
    }

    // Shared limit: four requests, six left.
    for (let i = 0; i < 4; i++) expect((await read(url)).status).toBe(200)
    expect((await read(url)).headers.get('x-ratelimit-remaining')).toBe('5')

    redises.pop()!.kill('SIGKILL')
    await waitFor(async () => (await redisCheck(url)) === 'degraded', {
      description: '/readyz to report redis as degraded',
      intervalMs: 50,
    })
    expect((await fetch(`${url}/readyz`)).status).toBe(200)

    // Redis is away: the insurance limiter counts a fresh window of ten in this process. No 5xx.
    const during: number[] = []
    for (let i = 0; i < 12; i++) during.push((await read(url)).status)
    expect(during).toEqual([...Array(10).fill(200), 429, 429])
    expect(await backendErrors()).toBeGreaterThanOrEqual(12)
    await server.waitForLine(
      (l) => l.msg === 'rate limit store unavailable; limiting per process until redis answers',
    )

    // Redis is back (empty: it keeps nothing on disk). The shared limit applies again without a restart.
    redises.push(startRedis(port))
    await waitFor(async () => (await redisCheck(url)) === 'ok', {
      description: '/readyz to report redis as ok',
      intervalMs: 50,
    })
    const after = await read(url)
    expect(after.status).toBe(200)
    expect(after.headers.get('x-ratelimit-remaining')).toBe('9')
    await server.waitForLine((l) => l.msg === 'rate limit store answers again; the shared limit applies')
  })
})
