// The batch writer fails a shared batch as a whole when the database is unreachable: N queued requests make
// one attempt, not N more. PostgreSQL is reached through a proxy the test can stall and cut.
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { startTestApp, type TestApp } from '../../helpers/app.js'
import { ingest, productUpserted } from '../../helpers/ingest.js'
import { type StallProxy, startStallProxy } from '../../helpers/stall-proxy.js'
import { createTenant, type TenantFixture } from '../../helpers/tenants.js'
import { waitFor } from '../../helpers/wait.js'

describe('ingest batch writer', () => {
  let proxy: StallProxy
  let t: TestApp
  let a: TenantFixture
  beforeAll(async () => {
    proxy = await startStallProxy({ host: '127.0.0.1', port: 5432 })
    t = await startTestApp({ databasePort: proxy.port, env: { INGEST_WRITE_CONCURRENCY: '1' } })
    a = await createTenant(t.platform.database.db, { name: 'A' })
  })
  afterAll(async () => {
    await t.close().catch(() => undefined)
    await proxy.close()
  })

  const inFlight = async () => {
    const text = (await t.app.inject('/metrics')).body
    const line = text.split('\n').find((l) => l.startsWith('http_requests_in_flight '))
    return Number(line?.split(' ')[1])
  }

  it('answers every request of a batch that lost its connection at once, without retrying each alone', async () => {
    // Warm the key and source caches, so the queued requests need the database only for their write.
    expect((await ingest(t.app, { key: a.key, events: [productUpserted('WARM')] })).statusCode).toBe(201)

    proxy.stall()
    const first = ingest(t.app, { key: a.key, events: [productUpserted('HELD')] })
    await waitFor(() => proxy.held > 0, { description: 'the first write waiting on the stalled database' })
    const queued = Array.from({ length: 20 }, (_, i) =>
      ingest(t.app, { key: a.key, events: [productUpserted(`QUEUED-${i}`)] }),
    )
    // Inject counts /metrics itself as in flight: 1 + the first + 20 queued.
    await waitFor(async () => (await inFlight()) === 22, { description: 'the 20 requests queued behind it' })

    const before = proxy.connections
    proxy.cut()
    const answers = await Promise.all([first, ...queued])
    for (const answer of answers) {
      expect(answer.statusCode).toBe(503)
      expect(answer.headers['retry-after']).toBe('1')
      expect(answer.headers['content-type']).toContain('application/problem+json')
    }
    // The first batch lost its connection; the 20 queued requests were one batch and one attempt to connect.
    expect(proxy.connections - before).toBe(1)
  })
})
