import { randomUUID } from 'node:crypto'
import { count, eq, sql } from 'drizzle-orm'
import pino from 'pino'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { events, stockLevels } from '../../../src/db/schema.js'
import { signPayload } from '../../../src/modules/ingest/signature.js'
import { type DatabaseHandle, openDatabase } from '../../../src/platform/database.js'
import { ADMIN_TOKEN, startTestApp, type TestApp } from '../../helpers/app.js'
import { createTestDatabase, type TestDatabase } from '../../helpers/database.js'
import { ingest, productUpserted } from '../../helpers/ingest.js'
import { type ServerProcess, startServerProcess } from '../../helpers/server-process.js'
import { createTenant, type TenantFixture } from '../../helpers/tenants.js'
import { waitFor } from '../../helpers/wait.js'

describe('concurrent requests on one replica', () => {
  let t: TestApp
  let a: TenantFixture
  beforeAll(async () => {
    t = await startTestApp()
    a = await createTenant(t.platform.database.db)
  })
  afterAll(() => t.close())

  it('writes once for 50 simultaneous requests with one key: one original, 49 replays of it', async () => {
    const idempotencyKey = randomUUID()
    const batch = [productUpserted('SKU-RACE'), productUpserted('SKU-RACE-2')]
    const results = await Promise.all(
      Array.from({ length: 50 }, () => ingest(t.app, { key: a.key, events: batch, idempotencyKey })),
    )
    expect(results.map((r) => r.statusCode)).toEqual(Array(50).fill(201))
    const replayed = results.filter((r) => r.headers['idempotent-replayed'] === 'true')
    expect(replayed).toHaveLength(49)
    const expected = { accepted: 2, duplicates: 0, eventIds: batch.map((e) => e.id), duplicateEventIds: [] }
    for (const r of results) expect(r.json()).toEqual(expected)
    const [row] = await t.platform.database.db
      .select({ n: count() })
      .from(events)
      .where(sql`${events.eventId} IN (${batch[0]!.id}, ${batch[1]!.id})`)
    expect(row!.n).toBe(2)
  })

  it('stores every event once when concurrent batches overlap, and applies each stock move once', async () => {
    const moves = Array.from({ length: 40 }, (_, i) => ({
      id: `move-${i}-${randomUUID()}`,
      type: 'inventory.adjusted',
      occurredAt: new Date(Date.parse('2026-11-02T00:00:00Z') + i * 1000).toISOString(),
      data: { storeId: 'S-RACE', sku: 'STOCK-RACE', delta: 1 },
    }))
    // 20 requests, each a window of 10 moves, so every move is sent by several requests at once.
    const results = await Promise.all(
      Array.from({ length: 20 }, (_, i) =>
        ingest(t.app, { key: a.key, events: moves.slice(i, i + 10).concat(moves.slice(0, 2)) }),
      ),
    )
    expect(results.every((r) => r.statusCode === 201)).toBe(true)
    const accepted = results.reduce((sum, r) => sum + r.json().accepted, 0)
    expect(accepted).toBe(29)
    const [level] = await t.platform.database.db
      .select()
      .from(stockLevels)
      .where(eq(stockLevels.sku, 'STOCK-RACE'))
    expect(Number(level!.onHand)).toBe(29)
  })
})

describe('concurrent requests on three replicas', () => {
  let database: TestDatabase
  let handle: DatabaseHandle
  let replicas: ServerProcess[] = []
  let urls: string[] = []
  let a: TenantFixture
  const secret = 'whsec_replicas_0123456789abcdef'

  beforeAll(async () => {
    database = await createTestDatabase()
    replicas = [0, 1, 2].map(() =>
      startServerProcess({ DATABASE_URL: database.url, ADMIN_TOKEN, SHUTDOWN_READINESS_DELAY_MS: '0' }),
    )
    urls = await Promise.all(replicas.map((r) => r.url()))
    for (const url of urls) {
      await waitFor(async () => (await fetch(`${url}/startupz`)).status === 200, {
        description: `${url}/startupz to answer 200`,
        timeoutMs: 50_000,
      })
    }
    handle = await openDatabase({ databaseUrl: database.url, dataDir: '', log: pino({ level: 'silent' }) })
    a = await createTenant(handle.db, { signingSecrets: [secret] })
  }, 60_000)
  afterAll(async () => {
    for (const replica of replicas) replica.child.kill('SIGTERM')
    await Promise.all(replicas.map((r) => r.exited))
    await handle.close()
    await database.drop()
  })

  function post(url: string, body: string, idempotencyKey: string) {
    return fetch(`${url}/v1/ingest/pos`, {
      method: 'POST',
      headers: {
        authorization: `Bearer ${a.key}`,
        'content-type': 'application/json',
        'idempotency-key': idempotencyKey,
        'x-signature': signPayload(secret, Math.floor(Date.now() / 1000), body),
      },
      body,
    })
  }

  it('answers one key sent to every replica at once with one original, replays of it, and one write', async () => {
    for (let round = 0; round < 5; round++) {
      const idempotencyKey = randomUUID()
      const batch = [productUpserted(`SKU-R${round}`), productUpserted(`SKU-R${round}-b`)]
      const body = JSON.stringify({ events: batch })
      const responses = await Promise.all(
        Array.from({ length: 30 }, (_, i) => post(urls[i % 3]!, body, idempotencyKey)),
      )
      const statuses = responses.map((r) => r.status)
      expect(statuses, `round ${round}`).toEqual(Array(30).fill(201))
      const originals = responses.filter((r) => r.headers.get('idempotent-replayed') !== 'true')
      expect(originals, `round ${round}`).toHaveLength(1)
      const bodies = await Promise.all(responses.map((r) => r.json()))
      for (const body of bodies) expect(body).toMatchObject({ accepted: 2, duplicates: 0 })
      const [row] = await handle.db
        .select({ n: count() })
        .from(events)
        .where(sql`${events.eventId} IN (${batch[0]!.id}, ${batch[1]!.id})`)
      expect(row!.n).toBe(2)
    }
  })

  it('stores each event once when replicas receive overlapping batches under different keys', async () => {
    const shared = Array.from({ length: 30 }, (_, i) => productUpserted(`SKU-OVERLAP-${i}`))
    const responses = await Promise.all(
      Array.from({ length: 15 }, (_, i) =>
        post(urls[i % 3]!, JSON.stringify({ events: shared.slice(i, i + 10) }), randomUUID()),
      ),
    )
    expect(responses.map((r) => r.status)).toEqual(Array(15).fill(201))
    const bodies = await Promise.all(responses.map((r) => r.json() as Promise<{ accepted: number }>))
    expect(bodies.reduce((sum, b) => sum + b.accepted, 0)).toBe(24)
    const [row] = await handle.db
      .select({ n: count() })
      .from(events)
      .where(sql`${events.eventId} IN ${shared.slice(0, 24).map((e) => e.id)}`)
    expect(row!.n).toBe(24)
  })
})
