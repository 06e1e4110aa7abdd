// The design of the audited service we replace: per request, one INSERT ... ON CONFLICT DO NOTHING of the
// raw events through a pg Pool of 20, then 201. No authentication, no signature, no idempotency key, no
// projections: it shows what one durable write per request costs on this PostgreSQL. The bench creates
// naive_events in its own database; it is not part of the service's schema.
import Fastify from 'fastify'
import pg from 'pg'

interface Batch {
  readonly events: readonly { readonly id: string }[]
}

const tenantId = process.env.NAIVE_TENANT_ID
if (process.env.DATABASE_URL === undefined || tenantId === undefined) {
  throw new Error('DATABASE_URL and NAIVE_TENANT_ID are required')
}
const pool = new pg.Pool({ connectionString: process.env.DATABASE_URL, max: 20 })
const app = Fastify({ logger: false })

app.get('/startupz', async () => ({ status: 'started' }))
app.post<{ Body: Batch }>('/v1/ingest/:source', async (request, reply) => {
  const { events } = request.body
  const params: unknown[] = [tenantId]
  const rows = events.map((event) => {
    params.push(event.id, JSON.stringify(event))
    return `($1, $${params.length - 1}, $${params.length})`
  })
  const result = await pool.query<{ event_id: string }>(
    `INSERT INTO naive_events (tenant_id, event_id, payload) VALUES ${rows.join(', ')}
     ON CONFLICT DO NOTHING RETURNING event_id`,
    params,
  )
  const eventIds = result.rows.map((row) => row.event_id)
  return reply.code(201).send({
    accepted: eventIds.length,
    duplicates: events.length - eventIds.length,
    eventIds,
    duplicateEventIds: [],
  })
})

process.once('SIGTERM', () => {
  void app
    .close()
    .then(() => pool.end())
    .then(() => process.exit(0))
})
await app.listen({ host: process.env.HOST ?? '127.0.0.1', port: Number(process.env.PORT ?? 0) })
