// The ingest module's service: the group-committed write path every stored event goes through (POS ingest,
// product writes, and later the connectors), and the reaper of its idempotency keys.
import type { FastifyInstance } from 'fastify'
import fp from 'fastify-plugin'
import { scheduleKeyReaper } from './idempotency.js'
import { IngestService } from './service.js'

declare module 'fastify' {
  interface FastifyInstance {
    ingest: IngestService
  }
}

async function ingestModule(app: FastifyInstance): Promise<void> {
  const { database, config, log } = app.platform
  const ingest = new IngestService(database, log, {
    // PGlite has one connection; PostgreSQL overlaps group commits once enough events wait.
    concurrency: database.mode === 'embedded' ? 1 : config.ingestWriteConcurrency,
    overlapEvents: config.ingestWriteOverlapEvents,
  })
  app.decorate('ingest', ingest)
  scheduleKeyReaper(app, ingest.idempotency)
}

export default fp(ingestModule, { name: 'ingest' })
