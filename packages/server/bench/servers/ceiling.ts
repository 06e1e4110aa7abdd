// The HTTP ceiling of the bench: a bare Fastify server whose ingest route parses the JSON body and answers 201
// at once, with the same answer shape as the real service. Nothing a real ingest path does can be faster.
import Fastify from 'fastify'

interface Batch {
  readonly events: readonly { readonly id: string }[]
}

const app = Fastify({ logger: false })

app.get('/startupz', async () => ({ status: 'started' }))
app.post<{ Body: Batch }>('/v1/ingest/:source', async (request, reply) => {
  const eventIds = request.body.events.map((event) => event.id)
  return reply.code(201).send({ accepted: eventIds.length, duplicates: 0, eventIds, duplicateEventIds: [] })
})

process.once('SIGTERM', () => {
  void app.close().then(() => process.exit(0))
})
await app.listen({ host: process.env.HOST ?? '127.0.0.1', port: Number(process.env.PORT ?? 0) })
