// http_requests_in_flight, and the count graceful shutdown reads, return to where they were however a request
// ends: answered, failed, abandoned by its client before, during or after its body, reset, or cut off by the
// server's request timeout. Each case talks raw HTTP over a socket, so the client can leave at any byte.
import { randomUUID } from 'node:crypto'
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest'
import { requestsInFlight } from '../../src/http/observability.js'
import { httpRequestsInFlight } from '../../src/platform/metrics.js'
import { startTestApp, type TestApp } from '../helpers/app.js'
import { productUpserted } from '../helpers/ingest.js'
import { openConnection as open, type RawConnection } from '../helpers/raw-http.js'
import { type StallProxy, startStallProxy } from '../helpers/stall-proxy.js'
import { createTenant } from '../helpers/tenants.js'
import { waitFor } from '../helpers/wait.js'

/** The gauge as the registry exports it, checked against the count shutdown reads. */
async function gauge(): Promise<number> {
  const value = (await httpRequestsInFlight.get()).values[0]?.value ?? 0
  expect(requestsInFlight()).toBe(value)
  return value
}

describe('requests in flight', () => {
  let t: TestApp
  let proxy: StallProxy
  let url: string
  let key: string
  let baseline: number
  const held: (() => void)[] = []
  // Every connection a test opens, so a failed test cannot leave one that holds up closing the app.
  const connections: RawConnection[] = []
  async function openConnection(target: string): Promise<RawConnection> {
    const connection = await open(target)
    connections.push(connection)
    return connection
  }

  beforeAll(async () => {
    proxy = await startStallProxy({ host: '127.0.0.1', port: 5432 })
    t = await startTestApp({
      databasePort: proxy.port,
      env: { REQUEST_TIMEOUT_MS: '1000' },
      routes: (app) => {
        app.post('/test/held', async () => {
          await new Promise<void>((resolve) => held.push(resolve))
          return { ok: true }
        })
        app.get('/test/fails', async () => {
          throw new Error('boom')
        })
        app.post('/test/echo', async (request) => request.body)
      },
    })
    key = (await createTenant(t.platform.database.db)).key
    url = await t.app.listen({ port: 0, host: '127.0.0.1' })
  })
  afterAll(async () => {
    for (const connection of connections) connection.socket.destroy()
    for (const release of held.splice(0)) release()
    proxy.release()
    await t.close()
    await proxy.close()
  })
  beforeEach(async () => {
    baseline = await gauge()
  })

  /** Waits until the gauge is `expected`. */
  async function gaugeReaches(expected: number): Promise<void> {
    await waitFor(async () => (await gauge()) === expected, {
      description: `http_requests_in_flight = ${expected}`,
    })
  }

  /** Opens a connection and sends the start of a request; resolves once the server counts it. */
  async function started(request: string): Promise<RawConnection> {
    const connection = await openConnection(url)
    connection.write(request)
    await gaugeReaches(baseline + 1)
    return connection
  }

  const bodyHeaders = (length: number, path = '/test/echo') =>
    `POST ${path} HTTP/1.1\r\nHost: test\r\nContent-Type: application/json\r\nContent-Length: ${length}\r\n\r\n`
  // A whole request to the route that holds its answer until released; its body is read before the handler.
  const heldRequest = `${bodyHeaders(2, '/test/held')}{}`

  it('an answered request', async () => {
    const connection = await openConnection(url)
    connection.write('GET /livez HTTP/1.1\r\nHost: test\r\n\r\n')
    expect((await connection.response()).status).toBe(200)
    await gaugeReaches(baseline)
    connection.socket.destroy()
  })

  it('a request whose handler fails', async () => {
    const connection = await openConnection(url)
    connection.write('GET /test/fails HTTP/1.1\r\nHost: test\r\n\r\n')
    const response = await connection.response()
    expect(response.status).toBe(500)
    expect(response.headers['content-type']).toContain('application/problem+json')
    await gaugeReaches(baseline)
    connection.socket.destroy()
  })

  it('a client gone before sending its body', async () => {
    const connection = await started(bodyHeaders(100))
    connection.socket.destroy()
    await gaugeReaches(baseline)
  })

  it('a client gone halfway through its body', async () => {
    const connection = await started(`${bodyHeaders(100)}{"half":`)
    connection.socket.destroy()
    await gaugeReaches(baseline)
  })

  it('a client gone right after sending a whole request, while the handler works', async () => {
    const connection = await started(heldRequest)
    connection.socket.end()
    await gaugeReaches(baseline)
    // The handler finishing later, and its reply going nowhere, does not move the gauge a second time.
    for (const release of held.splice(0)) release()
    const probe = await openConnection(url)
    probe.write('GET /livez HTTP/1.1\r\nHost: test\r\n\r\n')
    expect((await probe.response()).status).toBe(200)
    await gaugeReaches(baseline)
    probe.socket.destroy()
    expect(
      t.logs.lines.find((l) => l.msg === 'connection closed before the response' && l.route === '/test/held'),
    ).toMatchObject({ method: 'POST', path: '/test/held', durationMs: expect.any(Number) })
  })

  it('a client gone while its authenticated request waits on a stalled database', async () => {
    const ingestRequest = () => {
      const body = JSON.stringify({ events: [productUpserted('SKU-STALL')] })
      return (
        `POST /v1/ingest/pos HTTP/1.1\r\nHost: test\r\nAuthorization: Bearer ${key}\r\n` +
        `Idempotency-Key: ${randomUUID()}\r\nContent-Type: application/json\r\n` +
        `Content-Length: ${Buffer.byteLength(body)}\r\n\r\n${body}`
      )
    }
    // Once answered, so the API key and the source are cached and the next request gets past
    // authentication without the database, to wait on it in the write.
    const warm = await openConnection(url)
    warm.write(ingestRequest())
    expect((await warm.response()).status).toBe(201)
    warm.socket.destroy()
    await gaugeReaches(baseline)

    proxy.stall()
    try {
      const connection = await started(ingestRequest())
      connection.socket.end()
      await gaugeReaches(baseline)
    } finally {
      proxy.release()
    }
  })

  it('a connection reset by the client', async () => {
    const connection = await started(heldRequest)
    connection.socket.resetAndDestroy()
    await gaugeReaches(baseline)
    for (const release of held.splice(0)) release()
  })

  it('a request cut off by the server after REQUEST_TIMEOUT_MS', async () => {
    const connection = await started(`${bodyHeaders(100)}{"slow":`)
    // The client keeps the connection open and sends nothing more: the server answers 408 and closes it.
    const response = await connection.response(10_000)
    expect(response.status).toBe(408)
    expect(response.headers['content-type']).toContain('application/problem+json')
    expect(JSON.parse(response.body)).toMatchObject({ type: '/problems/request-timeout', status: 408 })
    await connection.closed
    await gaugeReaches(baseline)
  })
})
