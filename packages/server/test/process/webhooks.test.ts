// Webhook delivery across real server processes sharing PostgreSQL and Redis: a replica killed while it holds
// delivery leases loses nothing, because another replica takes every lease once it expired and delivers.
import { randomUUID } from 'node:crypto'
import { eq } from 'drizzle-orm'
import pino from 'pino'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { webhookDeliveries } from '../../src/db/schema.js'
import { type DatabaseHandle, openDatabase } from '../../src/platform/database.js'
import { migrate } from '../../src/platform/migrations.js'
import { ADMIN_TOKEN, REDIS_URL } from '../helpers/app.js'
import { createTestDatabase, type TestDatabase } from '../helpers/database.js'
import { productUpserted } from '../helpers/ingest.js'
import { type ServerProcess, startServerProcess } from '../helpers/server-process.js'
import { createTenant, type TenantFixture } from '../helpers/tenants.js'
import { waitFor } from '../helpers/wait.js'
import { Consumer } from '../modules/webhooks/consumer.js'

describe('webhook delivery across replicas', () => {
  let database: TestDatabase
  let handle: DatabaseHandle
  let tenant: TenantFixture
  let consumer: Consumer
  const servers: ServerProcess[] = []
  let env: Record<string, string>

  beforeAll(async () => {
    database = await createTestDatabase()
    handle = await openDatabase({ databaseUrl: database.url, dataDir: '', log: pino({ level: 'silent' }) })
    await migrate(handle.db)
    tenant = await createTenant(handle.db)
    consumer = await Consumer.start()
    env = {
      DATABASE_URL: database.url,
      ADMIN_TOKEN,
      REDIS_URL,
      REDIS_KEY_PREFIX: `test:${randomUUID()}:`,
      SHUTDOWN_READINESS_DELAY_MS: '0',
      WEBHOOK_ALLOW_HTTP: 'true',
      WEBHOOK_ALLOW_PRIVATE_TARGETS: 'true',
      WEBHOOK_POLL_INTERVAL_MS: '50',
      // A short lease, and attempts that outlive it: the killed replica's attempts are still in flight.
      WEBHOOK_LEASE_MS: '2000',
      WEBHOOK_TIMEOUT_MS: '60000',
      OUTBOUND_TIMEOUT_MS: '60000',
      OUTBOUND_RETRY_MAX_ATTEMPTS: '1',
    }
  })
  afterAll(async () => {
    for (const server of servers) {
      server.kill()
      await server.exited
    }
    await consumer?.close()
    await handle?.close()
    await database?.drop()
  })

  async function start(): Promise<string> {
    const server = startServerProcess(env)
    servers.push(server)
    const url = await server.url(90_000)
    await server.waitForLine((line) => line.msg === 'start-up complete', 30_000)
    return url
  }

  it('delivers everything a SIGKILLed replica held leases on, from the other replica', async () => {
    const a = await start()
    const headers = { authorization: `Bearer ${tenant.key}`, 'content-type': 'application/json' }
    const created = await fetch(`${a}/v1/webhook-endpoints`, {
      method: 'POST',
      headers,
      body: JSON.stringify({ url: consumer.url }),
    })
    expect(created.status).toBe(201)

    consumer.answer = () => 'hold'
    const events = Array.from({ length: 5 }, (_, i) => productUpserted(`SKU-K${i}`))
    const stored = await fetch(`${a}/v1/ingest/pos`, {
      method: 'POST',
      headers: { ...headers, 'idempotency-key': randomUUID() },
      body: JSON.stringify({ events }),
    })
    expect(stored.status).toBe(201)
    await waitFor(() => consumer.received.length >= 5, { description: 'five attempts held by replica A' })

    servers[0]!.kill()
    await servers[0]!.exited
    consumer.answer = () => ({ status: 204 })
    await start()

    const delivered = await waitFor(
      async () => {
        const rows = await handle.db
          .select({ status: webhookDeliveries.status })
          .from(webhookDeliveries)
          .where(eq(webhookDeliveries.tenantId, tenant.tenantId))
        return rows.length === 5 && rows.every((row) => row.status === 'succeeded')
      },
      { description: 'every delivery succeeded through replica B', timeoutMs: 30_000 },
    )
    expect(delivered).toBe(true)
    const answeredIds = consumer
      .events()
      .filter((_, i) => consumer.answered[i] === 204)
      .map((event) => event.data.id)
    expect(new Set(answeredIds)).toEqual(new Set(events.map((event) => event.id)))
  }, 180_000)

  it("shares one endpoint's open breaker: a replica that never called it makes no request", async () => {
    for (const server of servers.splice(0)) {
      server.kill()
      await server.exited
    }
    env = {
      ...env,
      REDIS_KEY_PREFIX: `test:${randomUUID()}:`,
      WEBHOOK_RETRY_SCHEDULE: '0,1,1,1',
      OUTBOUND_TIMEOUT_MS: '5000',
      WEBHOOK_TIMEOUT_MS: '5000',
      OUTBOUND_BREAKER_MINIMUM_CALLS: '4',
      OUTBOUND_BREAKER_OPEN_MS: '120000',
    }
    const failing = await Consumer.start()
    failing.answer = () => ({ status: 503 })
    try {
      const a = await start()
      const headers = { authorization: `Bearer ${tenant.key}`, 'content-type': 'application/json' }
      const created = await fetch(`${a}/v1/webhook-endpoints`, {
        method: 'POST',
        headers,
        body: JSON.stringify({ url: failing.url }),
      })
      expect(created.status).toBe(201)
      const ingestTo = async (url: string, count: number) => {
        const events = Array.from({ length: count }, (_, i) => productUpserted(`SKU-B${randomUUID()}-${i}`))
        const res = await fetch(`${url}/v1/ingest/pos`, {
          method: 'POST',
          headers: { ...headers, 'idempotency-key': randomUUID() },
          body: JSON.stringify({ events }),
        })
        expect(res.status).toBe(201)
      }
      const metric = async (url: string, pattern: RegExp) => {
        const text = await (await fetch(`${url}/metrics`)).text()
        return Number(pattern.exec(text)?.[1] ?? 0)
      }

      // A alone: its failures open the endpoint's breaker, for the fleet, in Redis.
      await ingestTo(a, 6)
      await waitFor(
        async () =>
          (await metric(a, /circuit_breaker_transitions_total\{[^}]*from="closed",to="open"[^}]*\} (\d+)/)) >=
          1,
        { description: 'replica A opened the breaker' },
      )
      servers[0]!.kill()
      await servers[0]!.exited
      const seen = failing.received.length

      // B starts after; it never called the endpoint, and must not call it now.
      const b = await start()
      await ingestTo(b, 3)
      await waitFor(
        async () => (await metric(b, /webhook_delivery_attempts_total\{outcome="postponed"\} (\d+)/)) >= 3,
        { description: 'replica B postponed the new deliveries on the open breaker' },
      )
      expect(failing.received.length).toBe(seen)
      expect(
        await metric(b, /outbound_requests_total\{[^}]*outcome="breaker-open"[^}]*\} (\d+)/),
      ).toBeGreaterThanOrEqual(3)
    } finally {
      await failing.close()
    }
  }, 180_000)
})
