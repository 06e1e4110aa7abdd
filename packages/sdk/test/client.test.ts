// The client against a real server: what record() and flush() store (signed, and unsigned for a source
// with no secret), what a crash between forming a batch and hearing the answer does, refused events, refused
// credentials, the typed reads and the change feed.
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest'
import { ApiError, AuthError, type CursorStore, type FeedEventRecord } from '../src/node/index.js'
import { openTestDevice, saleEvent, type TestDevice } from './helpers/device.js'
import { type DeviceServer, startDeviceServer } from './helpers/server.js'

describe('the device client against a real server', () => {
  let server: DeviceServer
  const devices: TestDevice[] = []

  beforeAll(async () => {
    server = await startDeviceServer()
  })
  afterEach(async () => {
    for (const device of devices.splice(0)) await device.close()
  })
  afterAll(async () => {
    await server?.close()
  })

  async function device(overrides: { apiKey?: string } = {}) {
    const d = await openTestDevice({
      baseUrl: server.url,
      source: server.source,
      apiKey: overrides.apiKey ?? server.apiKey,
      signingSecret: server.signingSecret,
    })
    devices.push(d)
    return d
  }

  const storedIds = async (ids: string[]) =>
    (
      await server.query<{ event_id: string }>(
        'SELECT event_id FROM events WHERE event_id = ANY($1) ORDER BY event_id',
        [ids],
      )
    ).map((r) => r.event_id)

  it('records events durably and a flush stores each exactly once, with a signed request', async () => {
    const { client } = await device()
    const flushed: unknown[] = []
    client.on('flushed', (f) => flushed.push(f))
    const own = `sale-${crypto.randomUUID()}`
    const ids = [
      await client.record(saleEvent({ id: own })),
      await client.record(saleEvent()),
      await client.record(saleEvent()),
    ]
    expect(ids[0]).toBe(own)
    expect(ids[1]).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/)
    expect(await client.status()).toMatchObject({ queued: 3, batched: 0, rejected: 0 })

    expect(await client.flush()).toEqual({ delivered: 3, rejected: 0 })
    expect(await client.flush()).toEqual({ delivered: 0, rejected: 0 })
    expect(await storedIds(ids)).toEqual([...ids].sort())
    expect(flushed).toEqual([{ events: 3, replayed: false, duplicateEventIds: [] }])
    expect(await client.status()).toMatchObject({ queued: 0, batched: 0, rejected: 0 })
  })

  it('sends unsigned to a source configured without a signing secret, and the server stores the events from it', async () => {
    const unsigned = 'till-unsigned'
    await server.createSource(unsigned)
    // A device provisioned with the API key only: no signing secret in its secure store.
    const d = await openTestDevice({ baseUrl: server.url, source: unsigned, apiKey: server.apiKey })
    devices.push(d)
    expect(await d.secrets.get('signingSecret')).toBeUndefined()
    const store = `store-${crypto.randomUUID().slice(0, 8)}`
    const ids = [
      await d.client.record(saleEvent({ data: { storeId: store, sku: 'U-1', delta: -1 } })),
      await d.client.record(saleEvent({ data: { storeId: store, sku: 'U-2', delta: -2 } })),
    ]
    expect(await d.client.flush()).toEqual({ delivered: 2, rejected: 0 })
    expect(await d.client.status()).toMatchObject({ queued: 0, batched: 0, rejected: 0 })

    // The change feed shows both, in order, as coming from that source.
    const seen: FeedEventRecord[] = []
    for await (const event of d.client.events.follow({
      storeId: store,
      name: 'unsigned',
      pollIntervalMs: 20,
      signal: AbortSignal.timeout(30_000),
    })) {
      seen.push(event)
      if (seen.length === ids.length) break
    }
    expect(seen.map((e) => [e.id, e.source])).toEqual(ids.map((id) => [id, unsigned]))

    // The same device without a secret, pointed at the signed source, is refused and stores nothing there.
    const toSigned = await openTestDevice({
      baseUrl: server.url,
      source: server.source,
      apiKey: server.apiKey,
    })
    devices.push(toSigned)
    const refusedId = await toSigned.client.record(saleEvent())
    const failure = await toSigned.client.flush().catch((e: unknown) => e)
    expect(failure).toBeInstanceOf(AuthError)
    expect((failure as AuthError).problem).toMatchObject({
      type: '/problems/signature-required',
      status: 401,
    })
    expect(await storedIds([refusedId])).toEqual([])
  })

  it('after a crash between forming a batch and hearing the answer, sends the same key and bytes and gets a replay', async () => {
    const d = await device()
    const sent: { key: string | null; body: string }[] = []
    // The first client's request reaches the server, which stores it; the answer is lost and the app dies.
    const lostAnswer = async (input: string, init: RequestInit) => {
      if (init.method !== 'POST') return fetch(input, init)
      sent.push({ key: new Headers(init.headers).get('idempotency-key'), body: String(init.body) })
      await fetch(input, init)
      throw new TypeError('fetch failed')
    }
    d.client = await d.restart({ fetch: lostAnswer })
    const ids = [await d.client.record(saleEvent()), await d.client.record(saleEvent())]
    expect(await d.client.flush()).toMatchObject({ delivered: 0, stoppedBy: 'backoff' })
    expect(await storedIds(ids)).toEqual([...ids].sort())

    const recording = async (input: string, init: RequestInit) => {
      if (init.method === 'POST')
        sent.push({ key: new Headers(init.headers).get('idempotency-key'), body: String(init.body) })
      return fetch(input, init)
    }
    const restarted = await d.restart({ fetch: recording })
    const flushed: { replayed: boolean }[] = []
    restarted.on('flushed', (f) => flushed.push(f))
    expect((await restarted.status()).batched).toBe(2)
    // networkRestored: the backoff after the lost answer is not waited for.
    expect(await restarted.networkRestored()).toEqual({ delivered: 2, rejected: 0 })
    expect(sent).toHaveLength(2)
    expect(sent[1]).toEqual(sent[0])
    expect(sent[0]!.key).toMatch(/^sdk-/)
    expect(flushed).toEqual([{ events: 2, replayed: true, duplicateEventIds: [] }])
    const rows = await server.query<{ n: number }>(
      'SELECT count(*)::int AS n FROM events WHERE event_id = ANY($1)',
      [ids],
    )
    expect(rows[0]!.n).toBe(2)
  })

  it('moves an event the server refuses (422) to the rejected list with the problem and stores the rest', async () => {
    const { client } = await device()
    const rejectedEvents: { eventIds: readonly string[]; problem: { type: string } }[] = []
    client.on('rejected', (r) => rejectedEvents.push(r))
    const good1 = await client.record(saleEvent())
    const bad = await client.record(saleEvent({ data: { storeId: 'berlin-1', delta: -1 } }))
    const good2 = await client.record(saleEvent())
    expect(await client.flush()).toEqual({ delivered: 2, rejected: 1 })
    expect(await storedIds([good1, bad, good2])).toEqual([good1, good2].sort())
    const [rejected] = await client.rejected()
    expect(rejected?.event.id).toBe(bad)
    expect(rejected?.problem).toMatchObject({ type: '/problems/validation-failed', status: 422 })
    expect(rejected?.problem.errors?.[0]?.pointer).toMatch(/^\/events\/1\/data/)
    expect(rejectedEvents).toEqual([{ eventIds: [bad], problem: rejected?.problem }])
    expect(await client.status()).toMatchObject({ queued: 0, batched: 0, rejected: 1 })
  })

  it('stops on 401 with an AuthError, keeps the queue, and goes on after new credentials', async () => {
    const wrongKey = `${server.apiKey.slice(0, -4)}XXXX`
    const { client } = await device({ apiKey: wrongKey })
    const authErrors: AuthError[] = []
    client.on('auth-error', (e) => authErrors.push(e))
    const id = await client.record(saleEvent())
    const failure = await client.flush().catch((e: unknown) => e)
    expect(failure).toBeInstanceOf(AuthError)
    expect((failure as AuthError).status).toBe(401)
    expect(JSON.stringify(failure) + (failure as Error).message).not.toContain(wrongKey)
    expect(authErrors).toHaveLength(1)
    expect(await client.status()).toMatchObject({ queued: 0, batched: 1, paused: 'auth' })
    // Until the app gives new credentials, flushing does not try again.
    await expect(client.flush()).rejects.toBeInstanceOf(AuthError)
    expect(await storedIds([id])).toEqual([])

    await client.setCredentials({ apiKey: server.apiKey })
    expect(await client.flush()).toEqual({ delivered: 1, rejected: 0 })
    expect(await storedIds([id])).toEqual([id])
  })

  it('reads products, inventory and orders through the typed API, and answers a missing order with ApiError', async () => {
    const { client } = await device()
    const sku = `SKU-READ-${crypto.randomUUID().slice(0, 8)}`
    await client.record(
      saleEvent({ data: { storeId: 'berlin-1', sku, onHand: 7 }, type: 'inventory.counted' }),
    )
    await client.flush()
    const stock = await client.inventory.list({ storeId: 'berlin-1', sku })
    expect(stock.data).toEqual([expect.objectContaining({ storeId: 'berlin-1', sku, onHand: 7 })])
    expect(stock.nextCursor).toBeNull()
    expect((await client.products.list({ limit: 5 })).data).toEqual([])
    expect((await client.orders.list()).data).toEqual([])
    const missing = await client.orders.get('no-such-order').catch((e: unknown) => e)
    expect(missing).toBeInstanceOf(ApiError)
    expect((missing as ApiError).status).toBe(404)
    expect((missing as ApiError).problem?.type).toBe('/problems/not-found')
  })

  it('follows the change feed and resumes from the cursor it persisted', async () => {
    const d = await device()
    const store = `store-${crypto.randomUUID().slice(0, 8)}`
    const ids: string[] = []
    for (let i = 0; i < 5; i++)
      ids.push(await d.client.record(saleEvent({ data: { storeId: store, sku: `F-${i}`, delta: 1 } })))
    await d.client.record(saleEvent())
    await d.client.flush()

    const take = async (n: number, cursors?: CursorStore) => {
      const seen: FeedEventRecord[] = []
      const stop = new AbortController()
      for await (const event of d.client.events.follow({
        ...(cursors === undefined ? {} : { store: cursors }),
        storeId: store,
        name: 'till',
        pageSize: 2,
        pollIntervalMs: 20,
        signal: stop.signal,
      })) {
        seen.push(event)
        if (seen.length === n) break
      }
      return seen.map((e) => e.id)
    }
    expect(await take(3)).toEqual(ids.slice(0, 3))
    // A restart of the app: a new client over the same queue store finds the cursor there.
    await d.restart()
    expect(await take(2)).toEqual(ids.slice(3))

    // A cursor store of the app's own: it starts from the beginning and keeps its own position there.
    const values = new Map<string, string>()
    const own: CursorStore = {
      getState: async (name) => values.get(name),
      setState: async (name, value) => {
        values.set(name, value)
      },
    }
    expect(await take(2, own)).toEqual(ids.slice(0, 2))
    expect([...values.keys()]).toEqual(['feed:till'])
    expect(await take(3, own)).toEqual(ids.slice(2))
  })

  it("obeys the configuration an admin set for the tenant and the device's source, polling it with its ETag", async () => {
    await server.setDeviceConfig('tenant', { minSdkVersion: '99.0.0' })
    await server.setDeviceConfig('source', { maxBatchSize: 2, minFlushIntervalSec: 0 })
    try {
      const d = await device()
      const polls: { ifNoneMatch: string | null; status: number }[] = []
      const batchSizes: number[] = []
      const watching = async (input: string, init: RequestInit) => {
        const response = await fetch(input, init)
        if (init.method === 'GET' && new URL(input).pathname === '/v1/config')
          polls.push({ ifNoneMatch: new Headers(init.headers).get('if-none-match'), status: response.status })
        if (init.method === 'POST')
          batchSizes.push((JSON.parse(String(init.body)) as { events: unknown[] }).events.length)
        return response
      }
      const client = await d.restart({ fetch: watching, configPollMs: 0 })
      const outdated: { minSdkVersion: string }[] = []
      client.on('outdated', (o) => outdated.push(o))
      for (let i = 0; i < 5; i++) await client.record(saleEvent())

      expect(await client.flush()).toEqual({ delivered: 5, rejected: 0 })
      expect(batchSizes).toEqual([2, 2, 1])
      expect(outdated).toEqual([{ sdkVersion: '0.1.0', minSdkVersion: '99.0.0' }])
      expect(client.remoteConfig).toMatchObject({ maxBatchSize: 2, minSdkVersion: '99.0.0' })

      await client.flush()
      expect(polls).toEqual([
        { ifNoneMatch: null, status: 200 },
        { ifNoneMatch: expect.stringMatching(/^"/), status: 304 },
      ])
    } finally {
      await server.setDeviceConfig('tenant', { minSdkVersion: null })
      await server.setDeviceConfig('source', { maxBatchSize: null, minFlushIntervalSec: null })
    }
  })
})
