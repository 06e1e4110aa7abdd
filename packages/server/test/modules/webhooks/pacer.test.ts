// The dispatcher's pacing: the window of attempts in flight narrows while API requests wait for a saturated
// event loop, never below the floor, and widens back once the loop has room or the requests are gone.
// 1. The pacer as a unit, driven by made-up samples.
// 2. A dispatcher with a fake load signal, against real PostgreSQL and a consumer that holds every request:
//    while the signal says ingest presses, no more than the floor's attempts are ever in flight at once, and
//    every delivery still arrives; once the signal relaxes, the held-back deliveries go out together.
// 3. The real app under concurrent ingest: every event is delivered.
import pino from 'pino'
import { afterEach, describe, expect, it } from 'vitest'
import { WebhookDispatcher } from '../../../src/modules/webhooks/dispatcher.js'
import {
  DeliveryPacer,
  type LoadSample,
  LoadSampler,
  type LoadSignal,
  ROOM,
  SATURATED,
} from '../../../src/modules/webhooks/pacer.js'
import { WebhooksRepository } from '../../../src/modules/webhooks/repository.js'
import type { TestApp } from '../../helpers/app.js'
import { ingest, productUpserted } from '../../helpers/ingest.js'
import { createTenant } from '../../helpers/tenants.js'
import { waitFor } from '../../helpers/wait.js'
import { appWithConsumer, type Consumer, verify } from './consumer.js'

/** The consumer listens on this machine, over plain HTTP. */
const LOCAL_TARGETS = {
  WEBHOOK_ALLOW_HTTP: 'true',
  WEBHOOK_ALLOW_PRIVATE_TARGETS: 'true',
  WEBHOOK_POLL_INTERVAL_MS: '50',
}

const pressed: LoadSample = { loopBusy: 1, requestsWaiting: true }
const busyAlone: LoadSample = { loopBusy: 1, requestsWaiting: false }
const inBand: LoadSample = { loopBusy: (ROOM + SATURATED) / 2, requestsWaiting: true }
const roomy: LoadSample = { loopBusy: ROOM / 2, requestsWaiting: true }

describe('the delivery pacer', () => {
  it('halves the window each tick that requests wait for a saturated loop, down to the floor and no further', () => {
    const pacer = new DeliveryPacer(256, 8)
    expect(pacer.window).toBe(256)
    expect(pacer.yielding).toBe(false)
    const windows = Array.from({ length: 8 }, () => pacer.observe(pressed))
    expect(windows).toEqual([128, 64, 32, 16, 8, 8, 8, 8])
    expect(pacer.yielding).toBe(true)
  })

  it('holds the window while the loop is neither saturated nor roomy, and doubles it back once it has room', () => {
    const pacer = new DeliveryPacer(256, 8)
    for (let i = 0; i < 3; i++) pacer.observe(pressed)
    expect(pacer.window).toBe(32)
    expect([pacer.observe(inBand), pacer.observe(inBand)]).toEqual([32, 32])
    expect(Array.from({ length: 4 }, () => pacer.observe(roomy))).toEqual([64, 128, 256, 256])
  })

  it('does not yield to itself: a saturated loop without requests waiting widens the window', () => {
    const pacer = new DeliveryPacer(100, 4)
    for (let i = 0; i < 10; i++) pacer.observe(pressed)
    expect(pacer.window).toBe(4)
    expect(Array.from({ length: 6 }, () => pacer.observe(busyAlone))).toEqual([8, 16, 32, 64, 100, 100])
  })

  it('never yields when the floor is the ceiling, and keeps the floor within 1 and the ceiling', () => {
    const fixed = new DeliveryPacer(16, 16)
    for (let i = 0; i < 5; i++) expect(fixed.observe(pressed)).toBe(16)
    expect(new DeliveryPacer(16, 64).floor).toBe(16)
    expect(new DeliveryPacer(16, 0).floor).toBe(1)
  })
})

describe('the load sampler', () => {
  it('counts a request seen at any glance of the tick, and starts each tick afresh', () => {
    let inFlight = 0
    const sampler = new LoadSampler(() => inFlight)
    inFlight = 3
    sampler.glance()
    inFlight = 0
    const first = sampler.sample()
    expect(first.requestsWaiting).toBe(true)
    expect(first.loopBusy).toBeGreaterThanOrEqual(0)
    expect(first.loopBusy).toBeLessThanOrEqual(1)
    expect(sampler.sample().requestsWaiting).toBe(false)
  })
})

/** A new tenant with an endpoint subscribed to every event type, delivering to the consumer. */
async function subscribe(t: TestApp, consumer: Consumer) {
  const tenant = await createTenant(t.platform.database.db)
  const created = await t.app.inject({
    method: 'POST',
    url: '/v1/webhook-endpoints',
    headers: { authorization: `Bearer ${tenant.key}` },
    payload: { url: consumer.url },
  })
  expect(created.statusCode).toBe(201)
  return { tenant, endpoint: created.json() as { id: string; secret: string } }
}

/** A load signal the test sets: every tick samples what it says now. */
class FakeLoad implements LoadSignal {
  now: LoadSample = pressed
  glance(): void {}
  sample(): LoadSample {
    return this.now
  }
}

describe('a dispatcher that yields to ingest', () => {
  const FLOOR = 2
  // The app's own dispatcher is off: the test's dispatcher is the only one delivering.
  const started = appWithConsumer({
    ...LOCAL_TARGETS,
    WEBHOOK_DISPATCHER_ENABLED: 'false',
    // Held requests must not time out while the test holds them.
    WEBHOOK_TIMEOUT_MS: '60000',
    OUTBOUND_TIMEOUT_MS: '60000',
    WEBHOOK_CONCURRENCY: '32',
    WEBHOOK_MIN_CONCURRENCY: String(FLOOR),
  })
  let dispatcher: WebhookDispatcher | undefined
  afterEach(async () => {
    await dispatcher?.stop()
  })

  it('keeps no more than the floor in flight while ingest presses, delivers everything, and catches up after', async () => {
    const { t, consumer } = started
    const { database, secrets, outbound, lifecycle, config } = t.platform
    const load = new FakeLoad()
    dispatcher = new WebhookDispatcher({
      database,
      secrets,
      outbound,
      repository: new WebhooksRepository(database.db, secrets),
      settings: config.webhooks,
      lifecycle,
      log: pino({ level: 'silent' }),
      userAgent: 'pacing-test',
      load,
    })
    dispatcher.start()
    await waitFor(() => dispatcher!.deliveryWindow === FLOOR, { description: 'the window at its floor' })

    // The consumer holds every request until the test answers it, and notes the most it held at once.
    const held = () => consumer.held().length
    let mostHeld = 0
    consumer.answer = () => {
      mostHeld = Math.max(mostHeld, held() + 1)
      return 'hold'
    }
    const { tenant, endpoint } = await subscribe(t, consumer)
    const events = Array.from({ length: 12 }, (_, i) => productUpserted(`SKU-P${i}`))
    expect((await ingest(t.app, { key: tenant.key, events })).statusCode).toBe(201)

    // Pressed: the test answers what is held, the floor's worth at a time, until half the events arrived; the
    // consumer never holds more than the floor at once, though every delivery is due.
    let answered = 0
    while (answered < events.length / 2) {
      await waitFor(() => held() === FLOOR, { description: `${FLOOR} requests held` })
      for (const index of consumer.held()) consumer.respond(index, { status: 204 })
      answered += FLOOR
    }
    expect(mostHeld).toBe(FLOOR)

    // Relaxed: the window widens and the rest go out together, all held at once.
    load.now = roomy
    await waitFor(() => held() === events.length - answered, {
      description: 'the held-back deliveries going out together',
    })
    expect(mostHeld).toBe(events.length - answered)
    for (const index of consumer.held()) consumer.respond(index, { status: 204 })
    await waitFor(() => consumer.answered.filter((status) => status === 204).length === events.length, {
      description: 'every delivery answered',
    })
    const delivered = consumer.received.map((r) => JSON.parse(r.body).data.id as string)
    expect(delivered.sort()).toEqual(events.map((e) => e.id).sort())
    for (const delivery of consumer.received) expect(() => verify(endpoint.secret, delivery)).not.toThrow()
  })
})

describe('webhook delivery under concurrent ingest', () => {
  const started = appWithConsumer({ ...LOCAL_TARGETS, WEBHOOK_MIN_CONCURRENCY: '1' })

  it('delivers every event stored by many requests at once, each once, signed', async () => {
    const { t, consumer } = started
    const { tenant, endpoint } = await subscribe(t, consumer)
    // Eight clients, each storing 25 requests of 4 events one after another, all at once.
    const stored = await Promise.all(
      Array.from({ length: 8 }, async (_, client) => {
        const mine = []
        for (let r = 0; r < 25; r++) {
          const events = Array.from({ length: 4 }, (_, i) => productUpserted(`SKU-C${client}-${r}-${i}`))
          expect((await ingest(t.app, { key: tenant.key, events })).statusCode).toBe(201)
          mine.push(...events)
        }
        return mine
      }),
    )
    const ids = stored.flat().map((event) => event.id)
    await waitFor(() => consumer.received.length >= ids.length, {
      description: `${ids.length} deliveries`,
      timeoutMs: 60_000,
    })
    const delivered = consumer.received.map((r) => JSON.parse(r.body).data.id as string)
    expect(delivered.sort()).toEqual(ids.sort())
    for (const delivery of consumer.received.filter((_, i) => i % 50 === 0))
      expect(() => verify(endpoint.secret, delivery)).not.toThrow()
    // 200 requests, then 800 deliveries: its wait has a 60 s deadline, more than vitest's default 30 s.
  }, 90_000)
})
