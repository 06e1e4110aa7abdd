import type { ChildProcess } from 'node:child_process'
import { randomUUID } from 'node:crypto'
import pino from 'pino'
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest'
import { type DatabaseHandle, openDatabase } from '../../src/platform/database.js'
import { migrate } from '../../src/platform/migrations.js'
import { leaseCap } from '../../src/platform/rate-limits.js'
import { ADMIN_TOKEN, REDIS_URL } from '../helpers/app.js'
import { createTestDatabase, type TestDatabase } from '../helpers/database.js'
import { freePort, startRedis } from '../helpers/private-redis.js'
import { type ServerProcess, startServerProcess } from '../helpers/server-process.js'
import { type StallProxy, startStallProxy } from '../helpers/stall-proxy.js'
import { createTenant, type TenantFixture } from '../helpers/tenants.js'
import { waitFor } from '../helpers/wait.js'

async function started(server: ServerProcess): Promise<string> {
  const url = await server.url()
  await server.waitForLine((line) => line.msg === 'start-up complete', 30_000)
  return url
}

/** How many rate limit checks of the process fell back to its insurance limiter. */
async function backendErrors(url: string): Promise<number> {
  const text = await (await fetch(`${url}/metrics`)).text()
  return Number(/^rate_limit_backend_errors_total (\d+)/m.exec(text)?.[1] ?? 0)
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
    expect(await backendErrors(url)).toBeGreaterThanOrEqual(12)
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

  // Each replica reaches one private Redis through a proxy of its own, which can hold back the answers to that
  // replica alone: its refills are then answered late while the other replicas' are answered in time. The
  // bound under test: in one window the fleet accepts at most the limit plus, for each replica whose refills
  // were late, the room the window had at Redis's last answer to it, which is at most the lowest
  // X-RateLimit-Remaining it gave before (that header adds the tokens it held to the room).
  describe('with some replicas answered late by Redis', () => {
    const ANONYMOUS_MAX = 400
    const KEY_MAX = 100
    const WINDOW_MS = 60_000
    /** Concurrent requests to each replica in one round. */
    const PER_REPLICA = 8
    const replicas: ServerProcess[] = []
    const proxies: StallProxy[] = []
    let urls: string[] = []
    let redis: ChildProcess | undefined

    beforeAll(async () => {
      const port = await freePort()
      redis = startRedis(port)
      const env = {
        DATABASE_URL: database.url,
        ADMIN_TOKEN,
        RATE_LIMIT_ANONYMOUS_MAX: String(ANONYMOUS_MAX),
        RATE_LIMIT_MAX: String(KEY_MAX),
        RATE_LIMIT_WINDOW_MS: String(WINDOW_MS),
        // Long enough that a loaded machine answers the refills that are not held back in time.
        RATE_LIMIT_REDIS_TIMEOUT_MS: '1500',
        // Each scenario counts in the anonymous bucket of its own address.
        TRUST_PROXY: 'true',
        SHUTDOWN_READINESS_DELAY_MS: '0',
      }
      for (let i = 0; i < 3; i++) {
        const proxy = await startStallProxy({ host: '127.0.0.1', port })
        proxies.push(proxy)
        replicas.push(startServerProcess({ ...env, REDIS_URL: `redis://127.0.0.1:${proxy.port}` }))
      }
      urls = await Promise.all(replicas.map(started))
    })
    afterAll(async () => {
      for (const proxy of proxies) proxy.release()
      for (const server of replicas.splice(0)) {
        server.child.kill('SIGTERM')
        await server.exited
      }
      for (const proxy of proxies.splice(0)) await proxy.close()
      redis?.kill('SIGKILL')
    })

    /**
     * One bucket's window over the fleet, in rounds of PER_REPLICA concurrent requests to each replica: with
     * every answer in time up to `room` requests short of the limit; then with the answers to the `stalled`
     * replicas held back, until the others are refused and each stalled replica was sent more than twice the
     * room it saw (late tokens can pay for that room at most, so a fallback that never refused would take the
     * fleet past the bound); then, released, until two rounds accept nothing. Every round is bounded.
     */
    async function windowWithLateRefills(options: {
      readonly request: (url: string) => Promise<Response>
      readonly okStatus: number
      readonly max: number
      readonly room: number
      readonly stalled: readonly number[]
    }) {
      const { request, okStatus, max, room, stalled } = options
      const lease = leaseCap({ max, windowMs: WINDOW_MS })
      const accepted = [0, 0, 0]
      const refused = [0, 0, 0]
      /** The lowest X-RateLimit-Remaining each replica gave while every answer was in time. */
      const seen = [max, max, max]
      const sentStalled = [0, 0, 0]
      const errorsBefore = await Promise.all(urls.map(backendErrors))

      /** `n` concurrent requests, the j-th to replica j % 3; whether any was accepted. */
      async function round(n: number, phase: 'in time' | 'stalled' | 'released'): Promise<boolean> {
        const answers = await Promise.all(
          Array.from({ length: n }, async (_, j) => {
            const replica = j % 3
            const res = await request(urls[replica]!)
            await res.arrayBuffer()
            return {
              replica,
              status: res.status,
              remaining: Number(res.headers.get('x-ratelimit-remaining')),
            }
          }),
        )
        for (const { replica, status, remaining } of answers) {
          expect([okStatus, 429]).toContain(status)
          if (status === 429) refused[replica]!++
          else accepted[replica]!++
          if (phase === 'in time' && status !== 429) seen[replica] = Math.min(seen[replica]!, remaining)
          if (phase === 'stalled') sentStalled[replica]!++
        }
        return answers.some(({ status }) => status !== 429)
      }

      for (let sent = 0; sent < max - room; sent += 3 * PER_REPLICA)
        await round(Math.min(3 * PER_REPLICA, max - room - sent), 'in time')
      expect(refused).toEqual([0, 0, 0])

      for (const i of stalled) proxies[i]!.stall()
      const onTime = [0, 1, 2].filter((i) => !stalled.includes(i))
      const stallDone = () =>
        onTime.every((i) => refused[i]! > 0) &&
        stalled.every((i) => sentStalled[i]! > 2 * seen[i]! + 2 * lease)
      for (let rounds = 0; !stallDone() && rounds < 20; rounds++) await round(3 * PER_REPLICA, 'stalled')
      expect(stallDone()).toBe(true)
      for (const i of stalled) {
        expect(proxies[i]!.held).toBeGreaterThan(0)
        proxies[i]!.release()
      }

      let idle = 0
      for (let rounds = 0; idle < 2 && rounds < 20; rounds++)
        idle = (await round(3 * PER_REPLICA, 'released')) ? 0 : idle + 1
      expect(idle).toBe(2)

      // The premise: only the stalled replicas fell back, each of them at least once.
      const errorsAfter = await Promise.all(urls.map(backendErrors))
      const fellBack = errorsAfter.map((n, i) => n - errorsBefore[i]!)
      for (const i of onTime) expect(fellBack[i], `fallbacks of replica ${i}, in time`).toBe(0)
      for (const i of stalled) expect(fellBack[i], `fallbacks of replica ${i}, stalled`).toBeGreaterThan(0)

      const total = accepted.reduce((a, b) => a + b, 0)
      const bound = max + stalled.reduce((sum, i) => sum + seen[i]!, 0)
      return { total, bound, lease, accepted, seen, sentStalled, fellBack }
    }

    const anonymous = (address: string) => (url: string) =>
      fetch(`${url}/v1/no-such-route`, { headers: { 'x-forwarded-for': address } })

    it.each([
      { late: 'one replica late', stalled: [0], address: '198.51.100.1' },
      { late: 'two replicas late', stalled: [0, 1], address: '198.51.100.2' },
    ])(
      'accepts at most the limit plus the room each late replica last saw ($late)',
      async ({ stalled, address }) => {
        // Unknown routes count in the client address's bucket (leases of up to 4 tokens), without the database.
        const window = await windowWithLateRefills({
          request: anonymous(address),
          okStatus: 404,
          max: ANONYMOUS_MAX,
          room: 12,
          stalled,
        })
        expect(window.total, JSON.stringify(window)).toBeLessThanOrEqual(window.bound)
        // Every replica was driven until it refused: the documented early refusals at most.
        expect(window.total).toBeGreaterThanOrEqual(ANONYMOUS_MAX - 2 * (window.lease - 1))
      },
    )

    it('accepts at most the limit plus the room the late replica last saw, below a limit of 200 too', async () => {
      // An API key's bucket with a limit of 100: one token per refill, every request counted in Redis.
      const window = await windowWithLateRefills({
        request: (url) => fetch(`${url}/v1/products`, { headers: { authorization: `Bearer ${tenant.key}` } }),
        okStatus: 200,
        max: KEY_MAX,
        room: 12,
        stalled: [2],
      })
      expect(window.lease).toBe(1)
      expect(window.total, JSON.stringify(window)).toBeLessThanOrEqual(window.bound)
      expect(window.total).toBeGreaterThanOrEqual(KEY_MAX)
    })
  })
})
