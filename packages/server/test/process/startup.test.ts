// Start-up of the real server process when PostgreSQL or Redis cannot be reached yet: it stays up and
// answers probes while it retries, becomes started as soon as the dependency appears, stops promptly on
// SIGTERM meanwhile, and still exits 1 on what retrying cannot fix.
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { ADMIN_TOKEN, REDIS_URL } from '../helpers/app.js'
import { createTestDatabase, type TestDatabase } from '../helpers/database.js'
import { freePort as closedPort } from '../helpers/private-redis.js'
import { type ServerProcess, startServerProcess } from '../helpers/server-process.js'
import { type StallProxy, startStallProxy } from '../helpers/stall-proxy.js'

// Spawning the server compiles it with tsx: slow on a loaded machine.
const SPAWN_MS = 90_000
const PASSWORD = 'never-logged-password'

/** The test database's URL on another port, with a password that must never show up anywhere. */
function urlOn(database: TestDatabase, port: number): string {
  const url = new URL(database.url)
  url.port = String(port)
  url.password = PASSWORD
  return url.toString()
}

/** Everything the process wrote, for checking that no secret is in it. */
function output(s: ServerProcess): string {
  return JSON.stringify(s.lines) + s.stderr()
}

describe('start-up while a dependency is unreachable', () => {
  let database: TestDatabase
  let server: ServerProcess | undefined
  let forwarder: StallProxy | undefined

  beforeEach(async () => {
    database = await createTestDatabase()
  })
  afterEach(async () => {
    server?.kill()
    await server?.exited
    await forwarder?.close()
    forwarder = undefined
    await database.drop()
  })

  function start(env: Record<string, string>): ServerProcess {
    server = startServerProcess({ ADMIN_TOKEN, SHUTDOWN_READINESS_DELAY_MS: '0', ...env })
    return server
  }

  /** Waits for the second failed attempt, so the process is known to be retrying, not about to give up. */
  function retrying(s: ServerProcess, dependency: string) {
    return s.waitForLine((l) => l.msg === `${dependency} unreachable; retrying` && l.attempt === 2, SPAWN_MS)
  }

  async function expectWaiting(url: string, dependency: string): Promise<void> {
    expect((await fetch(`${url}/livez`)).status).toBe(200)
    const health = await fetch(`${url}/healthz`)
    expect(health.status).toBe(200)
    expect(await health.json()).toMatchObject({ status: 'starting' })
    const startup = await fetch(`${url}/startupz`)
    expect(startup.status).toBe(503)
    expect(startup.headers.get('content-type')).toContain('application/problem+json')
    const problem = (await startup.json()) as { detail: string }
    expect(problem).toMatchObject({ type: '/problems/service-unavailable', status: 503 })
    expect(problem.detail).toContain(`${dependency} unreachable`)
    expect((await fetch(`${url}/readyz`)).status).toBe(503)
    // Not a probe: refused until start-up is complete.
    const refused = await fetch(`${url}/problems/not-found`)
    expect(refused.status).toBe(503)
    expect(refused.headers.get('retry-after')).toBe('1')
  }

  it('PostgreSQL: stays up, retries with backoff, and starts once it appears, without a restart', async () => {
    const port = await closedPort()
    const s = start({ DATABASE_URL: urlOn(database, port) })
    const url = await s.url(SPAWN_MS)
    const second = await retrying(s, 'database')
    const first = s.lines.find((l) => l.msg === 'database unreachable; retrying' && l.attempt === 1)
    expect(first).toMatchObject({ level: 40, dependency: 'database', nextAttemptInMs: 250 })
    expect(second).toMatchObject({ nextAttemptInMs: 500, reason: { code: 'ECONNREFUSED' } })
    await expectWaiting(url, 'database')

    // PostgreSQL appears where it was expected: a forwarder to the real one on that port.
    forwarder = await startStallProxy({ host: '127.0.0.1', port: 5432 }, port)
    await s.waitForLine((l) => l.msg === 'start-up complete', 30_000)
    expect((await fetch(`${url}/startupz`)).status).toBe(200)
    expect((await fetch(`${url}/readyz`)).status).toBe(200)
    expect(output(s)).not.toContain(PASSWORD)

    s.child.kill('SIGTERM')
    expect(await s.exited).toBe(0)
  }, 180_000)

  it('Redis: stays up, retries with backoff, and starts once it appears, without a restart', async () => {
    const port = await closedPort()
    const redisUrl = new URL(REDIS_URL)
    const s = start({
      DATABASE_URL: database.url,
      REDIS_URL: `redis://:${PASSWORD}@127.0.0.1:${port}`,
      REDIS_KEY_PREFIX: `test:${database.name}:`,
    })
    const url = await s.url(SPAWN_MS)
    expect(await retrying(s, 'redis')).toMatchObject({ dependency: 'redis', nextAttemptInMs: 500 })
    // PostgreSQL was reached meanwhile: only Redis is waited for.
    await s.waitForLine((l) => l.msg === 'migrations applied')
    await expectWaiting(url, 'redis')

    forwarder = await startStallProxy({ host: redisUrl.hostname, port: Number(redisUrl.port) }, port)
    await s.waitForLine((l) => l.msg === 'start-up complete', 30_000)
    expect((await fetch(`${url}/startupz`)).status).toBe(200)
    expect(output(s)).not.toContain(PASSWORD)

    s.child.kill('SIGTERM')
    expect(await s.exited).toBe(0)
  }, 180_000)

  it('stops at once on SIGTERM while retrying, without the readiness delay of a serving process', async () => {
    const port = await closedPort()
    // A delay this long would time the test out if a process that never served waited for it.
    const s = start({ DATABASE_URL: urlOn(database, port), SHUTDOWN_READINESS_DELAY_MS: '600000' })
    await s.url(SPAWN_MS)
    await retrying(s, 'database')
    s.child.kill('SIGTERM')
    expect(await s.exited).toBe(0)
    expect(s.lines.find((l) => l.msg === 'shutdown started; readiness is 503')).toMatchObject({
      readinessDelayMs: 0,
    })
    expect(s.lines.find((l) => l.msg === 'shutdown drained')).toBeDefined()
    expect(s.stderr()).toBe('')
  }, 180_000)

  it('exits 1 on what retrying cannot fix: a database that does not exist', async () => {
    const url = new URL(urlOn(database, 5432))
    url.pathname = `/${database.name}_missing`
    const s = start({ DATABASE_URL: url.toString() })
    expect(await s.exited).toBe(1)
    expect(s.stderr()).toContain('start-up failed')
    expect(s.stderr()).toContain('does not exist')
    expect(s.lines.some((l) => l.msg === 'database unreachable; retrying')).toBe(false)
    expect(output(s)).not.toContain(PASSWORD)
  }, 180_000)
})
