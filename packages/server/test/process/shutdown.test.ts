import { existsSync, mkdtempSync, readFileSync } from 'node:fs'
import { connect } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { ADMIN_TOKEN } from '../helpers/app.js'
import { createTestDatabase, type TestDatabase } from '../helpers/database.js'
import { openConnection } from '../helpers/raw-http.js'
import { type ServerProcess, startServerProcess } from '../helpers/server-process.js'
import { type StallProxy, startStallProxy } from '../helpers/stall-proxy.js'
import { waitFor } from '../helpers/wait.js'

/** Waits until the server has `count` requests in flight besides the /metrics request asking. */
async function untilInFlight(url: string, count: number): Promise<void> {
  await waitFor(
    async () => {
      const text = await (await fetch(`${url}/metrics`)).text()
      const match = /^http_requests_in_flight (\d+)$/m.exec(text)
      return Number(match?.[1]) === count + 1
    },
    { description: `${count} requests in flight at ${url}`, intervalMs: 10 },
  )
}

/** Whether a new TCP connection to the server is accepted. */
function acceptsConnections(url: string): Promise<boolean> {
  const { hostname, port } = new URL(url)
  return new Promise((resolve) => {
    const socket = connect(Number(port), hostname)
    socket.once('connect', () => {
      socket.destroy()
      resolve(true)
    })
    socket.once('error', () => resolve(false))
  })
}

describe('graceful shutdown of the real server process', () => {
  let database: TestDatabase
  let proxy: StallProxy
  let server: ServerProcess | undefined
  const snapshotPath = join(mkdtempSync(join(tmpdir(), 'pos-shutdown-')), 'metrics.prom')

  beforeEach(async () => {
    database = await createTestDatabase()
    // The server reaches PostgreSQL through a proxy the test can stall: a database that has become slow.
    proxy = await startStallProxy({ host: '127.0.0.1', port: 5432 })
  })
  afterEach(async () => {
    server?.kill()
    await proxy.close()
    await database.drop()
  })

  function start(env: Record<string, string>): ServerProcess {
    const url = new URL(database.url)
    url.port = String(proxy.port)
    server = startServerProcess({
      DATABASE_URL: url.toString(),
      ADMIN_TOKEN,
      SHUTDOWN_READINESS_DELAY_MS: '300',
      METRICS_SNAPSHOT_PATH: snapshotPath,
      ...env,
    })
    return server
  }

  async function startedAt(s: ServerProcess): Promise<string> {
    const url = await s.url()
    await s.waitForLine((l) => l.msg === 'start-up complete')
    return url
  }

  it('drains in-flight requests to 2xx, refuses new connections, writes the snapshot and exits 0', async () => {
    const s = start({ SHUTDOWN_GRACE_MS: '10000', READINESS_TIMEOUT_MS: '20000' })
    const url = await startedAt(s)
    expect((await fetch(`${url}/readyz`)).status).toBe(200)

    proxy.stall()
    const inFlight = [fetch(`${url}/readyz`), fetch(`${url}/health/ready`)]
    await untilInFlight(url, 2)
    s.child.kill('SIGTERM')
    await s.waitForLine((l) => l.msg === 'shutdown started; readiness is 503')
    // A second signal does not start a second shutdown.
    s.child.kill('SIGTERM')
    await s.waitForLine((l) => l.msg === 'shutdown already in progress; signal ignored')

    // After the readiness delay the listener closes (the log line comes as closing begins): new connections
    // are refused while the stalled requests still hold the drain open.
    await s.waitForLine((l) => l.msg === 'no longer accepting connections; draining')
    await waitFor(async () => !(await acceptsConnections(url)), {
      description: 'the listener to refuse new connections',
    })

    proxy.release()
    const statuses = await Promise.all(inFlight.map(async (r) => (await r).status))
    expect(statuses).toEqual([200, 200])
    expect(await s.exited).toBe(0)
    expect(s.lines.filter((l) => l.msg === 'shutdown started; readiness is 503')).toHaveLength(1)
    expect(s.lines.find((l) => l.msg === 'shutdown drained')).toMatchObject({ outcome: 'drained' })
    expect(s.lines.find((l) => l.msg === 'final metrics snapshot')).toBeDefined()
    const snapshot = readFileSync(snapshotPath, 'utf8')
    expect(snapshot).toMatch(/http_requests_total\{method="GET",route="\/readyz",status_code="200"\} [1-9]/)
  })

  it('exits at once with 130 on a second Ctrl-C, saying that work in flight may be cut', async () => {
    const s = start({ SHUTDOWN_READINESS_DELAY_MS: '60000' })
    await startedAt(s)
    const began = Date.now()
    s.child.kill('SIGINT')
    await s.waitForLine((l) => l.msg === 'shutdown started; readiness is 503')
    // A SIGINT right after the first is taken for the same keypress (relayed by npm or tsx); pressing again
    // a moment later is a second one. The test presses until the server says it heard a second one.
    const secondHeard = (l: Record<string, unknown>) => String(l.msg).startsWith('second SIGINT: exiting now')
    await waitFor(
      () => {
        if (s.child.exitCode === null) s.child.kill('SIGINT')
        return s.lines.some(secondHeard)
      },
      { description: 'the server to take a SIGINT for a second Ctrl-C', intervalMs: 100 },
    )
    expect(await s.exited).toBe(130)
    // Long before the 60 s readiness delay would have ended.
    expect(Date.now() - began).toBeLessThan(20_000)
    expect(s.lines.find(secondHeard)).toMatchObject({
      level: expect.anything(),
      inFlight: expect.any(Number),
    })
    expect(s.lines.find((l) => l.msg === 'shutdown drained')).toBeUndefined()
  })

  it('stops without a readiness delay when run as `npm run dev` runs it', async () => {
    const url = new URL(database.url)
    url.port = String(proxy.port)
    server = startServerProcess({ DATABASE_URL: url.toString(), ADMIN_TOKEN }, 'src/dev.ts')
    await startedAt(server)
    server.child.kill('SIGINT')
    await server.waitForLine((l) => l.msg === 'shutdown started; readiness is 503')
    expect(await server.exited).toBe(0)
    expect(server.lines.find((l) => l.msg === 'shutdown started; readiness is 503')).toMatchObject({
      readinessDelayMs: 0,
    })
  })

  it('answers readiness 503 during the readiness delay while still serving', async () => {
    const s = start({ SHUTDOWN_READINESS_DELAY_MS: '5000' })
    const url = await startedAt(s)
    s.child.kill('SIGTERM')
    await s.waitForLine((l) => l.msg === 'shutdown started; readiness is 503')
    expect((await fetch(`${url}/readyz`)).status).toBe(503)
    expect((await fetch(`${url}/livez`)).status).toBe(200)
    // Load balancers are still moving traffic away: the service serves it, and closes each connection.
    const served = await fetch(`${url}/problems/not-found`)
    expect(served.status).toBe(200)
    expect(served.headers.get('connection')).toBe('close')
    expect(await s.exited).toBe(0)
  })

  it('answers requests that reach the closing listener with a 503 problem and Retry-After', async () => {
    const s = start({ SHUTDOWN_GRACE_MS: '10000', READINESS_TIMEOUT_MS: '20000' })
    const url = await startedAt(s)
    // Keep-alive connections whose next request has begun (its headers are half sent) when the listener
    // closes: the server cannot close them as idle, and the request arrives while it drains.
    const paths = ['/problems/not-found', '/v1/products']
    const connections = await Promise.all(paths.map(() => openConnection(url)))
    try {
      for (const [i, connection] of connections.entries()) {
        connection.write(`GET ${paths[i]} HTTP/1.1\r\nHost: test\r\n\r\n`)
        const before = await connection.response()
        expect(before.status).toBe(i === 0 ? 200 : 401)
        // Both routes are rate limited while the service serves.
        expect(before.headers['ratelimit-policy']).toBeDefined()
        connection.write(`GET ${paths[i]} HTTP/1.1\r\nHost: test\r\n`)
      }

      proxy.stall()
      const held = fetch(`${url}/readyz`)
      await untilInFlight(url, 1)
      s.child.kill('SIGTERM')
      await s.waitForLine((l) => l.msg === 'no longer accepting connections; draining')
      await waitFor(async () => !(await acceptsConnections(url)), {
        description: 'the listener refuses new connections',
      })

      for (const connection of connections) {
        connection.write('\r\n')
        const refused = await connection.response()
        expect(refused.status).toBe(503)
        expect(refused.headers['content-type']).toContain('application/problem+json')
        expect(refused.headers['retry-after']).toBe('1')
        expect(refused.headers.connection).toBe('close')
        expect(refused.headers['x-request-id']).toBeDefined()
        // Refused before authentication: no rate limit was consumed, so none is reported.
        expect(refused.headers['ratelimit-policy']).toBeUndefined()
        expect(JSON.parse(refused.body)).toEqual({
          type: '/problems/service-unavailable',
          title: 'The service is not available right now',
          status: 503,
          detail: 'The service is shutting down',
        })
        await connection.closed
      }

      proxy.release()
      expect((await held).status).toBe(200)
      expect(await s.exited).toBe(0)
      expect(s.lines.find((l) => l.msg === 'shutdown drained')).toBeDefined()
    } finally {
      for (const connection of connections) connection.socket.destroy()
    }
  }, 90_000)

  it('gives up after SHUTDOWN_GRACE_MS, reports the stuck requests and exits 1', async () => {
    const s = start({ SHUTDOWN_GRACE_MS: '500', READINESS_TIMEOUT_MS: '60000' })
    const url = await startedAt(s)
    proxy.stall()
    const stuck = fetch(`${url}/readyz`).then(
      (r) => r.status,
      () => 'connection closed',
    )
    await untilInFlight(url, 1)
    s.child.kill('SIGTERM')
    expect(await s.exited).toBe(1)
    expect(await stuck).toBe('connection closed')
    expect(s.lines.find((l) => l.msg === 'shutdown timed out')).toMatchObject({
      outcome: 'timeout',
      inFlight: 1,
    })
    expect(existsSync(snapshotPath)).toBe(true)
  })
})

describe('start-up of the real server process', () => {
  it('stops with one clear message and exit code 1 on a bad setting, without a stack trace', async () => {
    const s = startServerProcess({ PORT: 'eighty', LOG_LEVEL: 'loud' })
    expect(await s.exited).toBe(1)
    expect(s.stderr()).toBe(
      'Invalid configuration:\n' +
        '  - PORT must be an integer from 0 to 65535 (got "eighty")\n' +
        '  - LOG_LEVEL must be one of fatal, error, warn, info, debug, trace, silent (got "loud")\n',
    )
  })

  it('starts on the embedded database with no other set-up', async () => {
    const dataDir = mkdtempSync(join(tmpdir(), 'pos-embedded-'))
    const s = startServerProcess({ DATA_DIR: dataDir, SHUTDOWN_READINESS_DELAY_MS: '0' })
    try {
      const url = await s.url()
      await s.waitForLine((l) => l.msg === 'start-up complete', 60_000)
      expect((await fetch(`${url}/startupz`)).status).toBe(200)
      expect(await (await fetch(`${url}/healthz`)).json()).toMatchObject({
        mode: { database: 'embedded', redis: 'in-process' },
      })
      s.child.kill('SIGTERM')
      expect(await s.exited).toBe(0)
    } finally {
      s.kill()
    }
  }, 90_000)
})
