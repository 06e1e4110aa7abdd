// npm run bench:webhooks: what webhook delivery sustains on one replica. The real app (in process, on a fresh
// PostgreSQL database) with --endpoints endpoints of one tenant, each a local consumer that answers 204 at once;
// --events events are stored through the ingest route in batches of 500, and the bench waits until every
// endpoint received every event. Prints the ingest rate while the dispatcher runs, the delivery rate, the
// latency from an event's batch being stored to its delivery (p50, p99, max) and duplicates; exits 1 if an
// event was not delivered to an endpoint within --timeout-s. Prints figures only; it asserts nothing about timing.
import { createServer } from 'node:http'
import type { AddressInfo } from 'node:net'
import { parseArgs } from 'node:util'
import { startTestApp } from '../test/helpers/app.js'
import { ingest } from '../test/helpers/ingest.js'
import { createTenant } from '../test/helpers/tenants.js'
import { type PosEvent, productUpserted } from './support/events.js'
import { positiveInteger } from './support/options.js'

const BATCH = 500

const { values } = parseArgs({
  options: {
    events: { type: 'string', default: '10000' },
    endpoints: { type: 'string', default: '2' },
    'timeout-s': { type: 'string', default: '300' },
  },
})
const eventCount = positiveInteger('events', values.events)
const endpointCount = positiveInteger('endpoints', values.endpoints)
const timeoutMs = positiveInteger('timeout-s', values['timeout-s']) * 1000

/** When each (endpoint, event) arrived first, and how many arrived again. */
const arrivals = new Map<string, number>()
let duplicates = 0
const consumer = createServer((request, response) => {
  const chunks: Buffer[] = []
  request.on('data', (chunk: Buffer) => chunks.push(chunk))
  request.on('end', () => {
    const { data } = JSON.parse(Buffer.concat(chunks).toString('utf8')) as { data: { id: string } }
    const key = `${request.url}|${data.id}`
    if (arrivals.has(key)) duplicates++
    else arrivals.set(key, performance.now())
    response.writeHead(204).end()
  })
})
await new Promise<void>((resolve) => consumer.listen(0, '127.0.0.1', resolve))
const base = `http://127.0.0.1:${(consumer.address() as AddressInfo).port}`

const t = await startTestApp({
  env: {
    LOG_LEVEL: 'warn',
    WEBHOOK_ALLOW_HTTP: 'true',
    WEBHOOK_ALLOW_PRIVATE_TARGETS: 'true',
    WEBHOOK_POLL_INTERVAL_MS: '50',
    OUTBOUND_RETRY_MAX_ATTEMPTS: '1',
  },
})
let failed = false
try {
  const tenant = await createTenant(t.platform.database.db)
  for (let i = 0; i < endpointCount; i++) {
    const res = await t.app.inject({
      method: 'POST',
      url: '/v1/webhook-endpoints',
      headers: { authorization: `Bearer ${tenant.key}` },
      payload: { url: `${base}/endpoint-${i}` },
    })
    if (res.statusCode !== 201) throw new Error(`endpoint creation answered ${res.statusCode}: ${res.body}`)
  }

  const events: PosEvent[] = Array.from({ length: eventCount }, () => productUpserted())
  const storedAt = new Map<string, number>()
  const started = performance.now()
  for (let i = 0; i < events.length; i += BATCH) {
    const batch = events.slice(i, i + BATCH)
    const res = await ingest(t.app, { key: tenant.key, events: batch })
    if (res.statusCode !== 201) throw new Error(`ingest answered ${res.statusCode}: ${res.body}`)
    const now = performance.now()
    for (const event of batch) storedAt.set(event.id, now)
  }
  const ingestMs = performance.now() - started

  const expected = eventCount * endpointCount
  const deadline = Date.now() + timeoutMs
  while (arrivals.size < expected && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50))
  const deliveredMs = performance.now() - started

  const latencies: number[] = []
  for (const [key, at] of arrivals) latencies.push(at - (storedAt.get(key.split('|')[1] ?? '') ?? at))
  latencies.sort((a, b) => a - b)
  const percentile = (p: number) =>
    Math.round(latencies[Math.min(latencies.length - 1, Math.floor(p * latencies.length))] ?? 0)
  failed = arrivals.size < expected
  process.stdout.write(
    `${JSON.stringify(
      {
        events: eventCount,
        endpoints: endpointCount,
        delivered: arrivals.size,
        expected,
        duplicates,
        ingestEventsPerSecond: Math.round((eventCount / ingestMs) * 1000),
        deliveriesPerSecond: Math.round((arrivals.size / deliveredMs) * 1000),
        latencyMs: { p50: percentile(0.5), p99: percentile(0.99), max: percentile(1) },
      },
      null,
      2,
    )}\n`,
  )
} finally {
  await t.close()
  consumer.closeAllConnections()
  consumer.close()
}
process.exit(failed ? 1 : 0)
