// How delivery waits and retries, against a scripted local server: Retry-After and the RateLimit headers are
// honoured (asserted from when the requests arrived), failures back off with the same key and bytes, a flush
// never overlaps another, and the remote configuration is obeyed.
import { afterEach, describe, expect, it } from 'vitest'
import { AuthError, type ClientOptions, DEFAULT_REMOTE_CONFIG, type RemoteConfig } from '../src/node/index.js'
import { openTestDevice, saleEvent, type TestDevice } from './helpers/device.js'
import {
  type Answer,
  notFound,
  type ScriptedServer,
  type SeenRequest,
  startScriptedServer,
  stored,
} from './helpers/scripted-server.js'
import { waitFor } from './helpers/server.js'

const API_KEY = 'pos_test_key_for_the_scripted_server'

describe('delivery against a scripted server', () => {
  const open: { server: ScriptedServer; device: TestDevice }[] = []
  afterEach(async () => {
    for (const { server, device } of open.splice(0)) {
      await device.close()
      await server.close()
    }
  })

  async function setUp(
    answer: (request: SeenRequest, ingestIndex: number) => Answer,
    options: Partial<ClientOptions> = {},
  ) {
    let ingestIndex = 0
    const server = await startScriptedServer((request) =>
      request.method === 'POST' ? answer(request, ingestIndex++) : answer(request, -1),
    )
    const device = await openTestDevice({
      baseUrl: server.url,
      source: 'till',
      apiKey: API_KEY,
      retryBaseMs: 50,
      retryCapMs: 400,
      ...options,
    })
    open.push({ server, device })
    return { server, device, client: device.client }
  }

  const configOr = (request: { method: string }, then: Answer) => (request.method === 'GET' ? notFound : then)

  it('waits as long as Retry-After says after a 429, then sends the same key and bytes', async () => {
    const { server, client } = await setUp(
      (r, i) =>
        configOr(
          r,
          i === 0
            ? {
                status: 429,
                headers: { 'retry-after': '1' },
                body: { type: '/problems/rate-limited', title: 'Too many requests', status: 429 },
              }
            : stored(1),
        ),
      { flushIntervalMs: 20 },
    )
    await client.record(saleEvent())
    client.start()
    await waitFor(() => server.ingests().length === 2, {
      description: 'the retry after Retry-After',
      timeoutMs: 10_000,
    })
    const [first, second] = server.ingests()
    expect(second!.at - first!.at).toBeGreaterThanOrEqual(1_000)
    expect(second!.headers['idempotency-key']).toBe(first!.headers['idempotency-key'])
    expect(second!.body).toBe(first!.body)
    await waitFor(async () => (await client.status()).batched === 0, { description: 'the batch to settle' })
  })

  it('waits for the rate limit reset of a 503 without Retry-After but with RateLimit', async () => {
    const { server, client } = await setUp(
      (r, i) =>
        configOr(r, i === 0 ? { status: 503, headers: { ratelimit: '"default";r=0;t=1' } } : stored(1)),
      { flushIntervalMs: 20 },
    )
    await client.record(saleEvent())
    client.start()
    await waitFor(() => server.ingests().length === 2, {
      description: 'the retry after the reset',
      timeoutMs: 10_000,
    })
    const [first, second] = server.ingests()
    expect(second!.at - first!.at).toBeGreaterThanOrEqual(1_000)
  })

  it('pauses after a success that used up the rate limit window', async () => {
    const { server, client } = await setUp(
      (r) =>
        configOr(r, {
          ...(stored(1) as object),
          status: 201,
          headers: { ratelimit: '"default";r=0;t=1' },
        } as Answer),
      { flushIntervalMs: 20, maxBatchSize: 1 },
    )
    await client.record(saleEvent())
    await client.record(saleEvent())
    client.start()
    await waitFor(() => server.ingests().length === 2, { description: 'the second batch', timeoutMs: 10_000 })
    const [first, second] = server.ingests()
    expect(second!.at - first!.at).toBeGreaterThanOrEqual(1_000)
  })

  it('backs off after 5xx, dropped connections and timeouts with the same key and bytes, up to the cap', async () => {
    const script: Answer[] = [
      { status: 500 },
      'drop',
      'hang',
      { status: 502 },
      { status: 500 },
      { status: 500 },
      stored(1),
    ]
    const { server, client } = await setUp((r, i) => configOr(r, script[i] ?? stored(1)), {
      flushIntervalMs: 10,
      requestTimeoutMs: 300,
      random: () => 0.999,
    })
    const errors: string[] = []
    client.on('status', (s) => s.lastError && errors.push(s.lastError.kind))
    await client.record(saleEvent())
    client.start()
    await waitFor(() => server.ingests().length === script.length, {
      description: 'every attempt',
      timeoutMs: 15_000,
    })
    const attempts = server.ingests()
    expect(new Set(attempts.map((a) => a.headers['idempotency-key'])).size).toBe(1)
    expect(new Set(attempts.map((a) => a.body)).size).toBe(1)
    const gaps = attempts.slice(1).map((a, i) => a.at - attempts[i]!.at)
    // Full jitter with random() just under 1: about 50, 100, 200 (+ the 300 ms timeout), then the 400 ms cap.
    expect(gaps[0]).toBeGreaterThanOrEqual(45)
    expect(gaps[1]).toBeGreaterThanOrEqual(95)
    expect(gaps[3]).toBeGreaterThanOrEqual(395)
    expect(Math.max(...gaps)).toBeLessThan(400 + 300 + 250)
    expect(errors).toEqual(expect.arrayContaining(['server', 'network', 'timeout']))
    await waitFor(async () => (await client.status()).batched === 0, { description: 'the batch to settle' })
  })

  it('never has two flushes in flight at once, and a flush during one runs after it', async () => {
    const { server, client } = await setUp(
      (r) => configOr(r, { ...(stored(1) as object), delayMs: 30 } as Answer),
      {
        maxBatchSize: 1,
      },
    )
    for (let i = 0; i < 4; i++) await client.record(saleEvent())
    const first = client.flush()
    await client.record(saleEvent())
    const results = await Promise.all([first, client.flush(), client.flush()])
    expect(server.mostAtOnce()).toBe(1)
    expect(server.ingests()).toHaveLength(5)
    expect(results.reduce((sum, r) => sum + r.delivered, 0)).toBe(5)
    expect(new Set(server.ingests().map((r) => r.headers['idempotency-key'])).size).toBe(5)
  })

  it('isolates an event refused by a 422 that names none, by halving the batches, and stores the rest', async () => {
    const unstorable: Answer = {
      status: 422,
      body: {
        type: '/problems/unstorable-data',
        title: 'The request holds a value that cannot be stored',
        status: 422,
      },
    }
    const { server, client } = await setUp(
      (r) => {
        if (r.method === 'GET') return notFound
        const { events } = JSON.parse(r.body) as { events: { id: string }[] }
        return events.some((e) => e.id === 'bad') ? unstorable : stored(events.length)
      },
      { maxBatchSize: 8 },
    )
    for (let i = 0; i < 8; i++) await client.record(saleEvent(i === 5 ? { id: 'bad' } : {}))
    expect(await client.flush()).toEqual({ delivered: 7, rejected: 1 })
    expect((await client.rejected()).map((r) => [r.event.id, r.problem.type])).toEqual([
      ['bad', '/problems/unstorable-data'],
    ])
    // 8 refused; 4 stored; 4 refused; 2 refused; 1 stored; the bad one alone, set aside; the last 2 stored.
    expect(server.ingests().map((r) => (JSON.parse(r.body) as { events: unknown[] }).events.length)).toEqual([
      8, 4, 4, 2, 1, 1, 2,
    ])
  })

  it('reports a reused key as a protocol error and delivers the events again under a new key', async () => {
    const { server, client } = await setUp(
      (r, i) =>
        configOr(
          r,
          i === 0
            ? {
                status: 422,
                body: {
                  type: '/problems/idempotency-key-reused',
                  title: 'The Idempotency-Key was already used',
                  status: 422,
                },
              }
            : stored(2),
        ),
      { retryCapMs: 50 },
    )
    const errors: { kind: string }[] = []
    client.on('error', (e) => errors.push(e))
    await client.record(saleEvent())
    await client.record(saleEvent())
    expect(await client.flush()).toMatchObject({ delivered: 0, stoppedBy: 'backoff' })
    expect(errors).toEqual([
      expect.objectContaining({ kind: 'protocol', problemType: '/problems/idempotency-key-reused' }),
    ])
    expect(await client.status()).toMatchObject({ queued: 2, batched: 0, rejected: 0 })
    await waitFor(async () => (await client.flush()).delivered === 2, {
      description: 'the events under a new key',
    })
    const [first, second] = server.ingests()
    expect(second!.headers['idempotency-key']).not.toBe(first!.headers['idempotency-key'])
    expect(second!.body).toBe(first!.body)
  })

  it('obeys the remote configuration: no delivery while sync is off or in maintenance, smaller batches, outdated SDK', async () => {
    let config = {
      syncEnabled: false,
      minFlushIntervalSec: 0,
      maxBatchSize: 2,
      retryCap: 60,
      maintenanceMode: false,
      minSdkVersion: '99.0.0',
    }
    let etag = '"v1"'
    const { server, client, device } = await setUp(
      (r) => {
        if (r.method === 'GET') {
          if (r.headers['if-none-match'] === etag) return { status: 304, headers: { etag } }
          return { status: 200, headers: { etag }, body: config }
        }
        return stored(2)
      },
      { configPollMs: 0 },
    )
    const outdated: unknown[] = []
    client.on('outdated', (o) => outdated.push(o))
    for (let i = 0; i < 5; i++) await client.record(saleEvent())
    expect(await client.flush()).toEqual({ delivered: 0, rejected: 0, stoppedBy: 'sync-disabled' })
    expect(await client.status()).toMatchObject({ queued: 5, paused: 'sync-disabled' })
    expect(outdated).toEqual([{ sdkVersion: expect.any(String), minSdkVersion: '99.0.0' }])
    const configRequest = server.requests.find((r) => r.method === 'GET')!
    expect(configRequest.path).toBe('/v1/config?source=till')
    expect(configRequest.headers.authorization).toBe(`Bearer ${API_KEY}`)

    config = { ...config, syncEnabled: true, maintenanceMode: true }
    etag = '"v2"'
    expect(await client.flush()).toMatchObject({ delivered: 0, stoppedBy: 'maintenance' })

    config = { ...config, maintenanceMode: false, minSdkVersion: '0.0.1' }
    etag = '"v3"'
    expect(await client.flush()).toEqual({ delivered: 5, rejected: 0 })
    expect(server.ingests().map((r) => (JSON.parse(r.body) as { events: unknown[] }).events.length)).toEqual([
      2, 2, 1,
    ])
    // The next poll sends the ETag and gets 304; the configuration stays, also across a restart.
    await client.flush()
    expect(server.requests.filter((r) => r.method === 'GET').at(-1)?.headers['if-none-match']).toBe('"v3"')
    const restarted = await device.restart({ configPollMs: 60_000 })
    const polls = server.requests.length
    await restarted.flush()
    expect(server.requests).toHaveLength(polls)
    expect(restarted.remoteConfig).toEqual(config)
    expect(outdated).toHaveLength(1)
  })

  const configAnswer = (config: Partial<RemoteConfig>): Answer => ({
    status: 200,
    headers: { etag: '"c1"' },
    body: { ...DEFAULT_REMOTE_CONFIG, ...config },
  })

  it("backs off at most the remote configuration's retryCap, below the app's own cap", async () => {
    const { client } = await setUp(
      (r) => (r.method === 'GET' ? configAnswer({ retryCap: 1 }) : { status: 500 }),
      { retryBaseMs: 10_000, retryCapMs: 60_000, random: () => 0.999 },
    )
    await client.record(saleEvent())
    const before = Date.now()
    expect(await client.flush()).toMatchObject({ delivered: 0, stoppedBy: 'backoff' })
    const after = Date.now()
    // Full jitter just under the ceiling: 999 ms under the 1 s retryCap, 9,990 ms were it ignored.
    const { nextAttemptAt } = await client.status()
    expect(nextAttemptAt).toBeGreaterThanOrEqual(before + 999)
    expect(nextAttemptAt).toBeLessThanOrEqual(after + 999)
  })

  it("flushes in the background no more often than the remote configuration's minFlushIntervalSec", async () => {
    const { server, client } = await setUp(
      (r) => (r.method === 'GET' ? configAnswer({ minFlushIntervalSec: 1 }) : stored(1)),
      { flushIntervalMs: 20 },
    )
    await client.record(saleEvent())
    client.start()
    await waitFor(() => server.ingests().length === 1, { description: 'the first background flush' })
    // Runs after the background flush in progress, so the next event is left to the next background flush.
    await client.flush()
    await client.record(saleEvent())
    await waitFor(() => server.ingests().length === 2, {
      description: 'the next background flush',
      timeoutMs: 10_000,
    })
    const [first, second] = server.ingests()
    expect(second!.at - first!.at).toBeGreaterThanOrEqual(1_000)
  })

  it('stops on 403 with an AuthError and keeps the batch for when the credentials change', async () => {
    const { server, client } = await setUp((r, i) =>
      configOr(
        r,
        i === 0
          ? {
              status: 403,
              body: { type: '/problems/forbidden', title: 'The credentials do not allow this', status: 403 },
            }
          : stored(1),
      ),
    )
    const authErrors: { status: number }[] = []
    client.on('auth-error', (e) => authErrors.push(e))
    await client.record(saleEvent())
    const failure = await client.flush().catch((e: unknown) => e)
    expect(failure).toBeInstanceOf(AuthError)
    expect(failure).toMatchObject({ status: 403, problem: { type: '/problems/forbidden' } })
    expect(authErrors).toEqual([failure])
    expect(await client.status()).toMatchObject({ queued: 0, batched: 1, paused: 'auth' })
    await expect(client.flush()).rejects.toBeInstanceOf(AuthError)
    expect(server.ingests()).toHaveLength(1)

    await client.setCredentials({ apiKey: `${API_KEY}-with-scope` })
    expect(await client.flush()).toEqual({ delivered: 1, rejected: 0 })
    const [first, second] = server.ingests()
    expect(second!.headers['idempotency-key']).toBe(first!.headers['idempotency-key'])
  })

  it("tells the app how many sales wait to sync in its 'status' events", async () => {
    const { client } = await setUp((r) => configOr(r, stored(3)))
    const statuses: { queued: number; batched: number }[] = []
    client.on('status', (s) => statuses.push(s))
    for (let i = 0; i < 3; i++) await client.record(saleEvent())
    await waitFor(() => statuses.at(-1)?.queued === 3, { description: 'a status of 3 sales waiting' })
    await client.flush()
    await waitFor(() => statuses.at(-1)?.queued === 0 && statuses.at(-1)?.batched === 0, {
      description: 'a status of none waiting',
    })
    expect(statuses.map((s) => s.queued + s.batched)).toEqual(expect.arrayContaining([1, 2, 3, 0]))
  })

  it('takes the defaults when the server has no /v1/config (404)', async () => {
    const { client } = await setUp((r) => configOr(r, stored(1)))
    await client.record(saleEvent())
    expect(await client.flush()).toEqual({ delivered: 1, rejected: 0 })
    expect(client.remoteConfig).toMatchObject({
      syncEnabled: true,
      maintenanceMode: false,
      minSdkVersion: null,
    })
  })
})
