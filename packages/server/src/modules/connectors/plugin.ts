// The connectors module: the service for the routes (inbound provider webhooks, dead letters,
// reconciliation), and the worker that processes the inbox and runs reconciliations, started when the app
// is ready and stopped when it closes (on every replica; they share the work through PostgreSQL).
import type { FastifyInstance } from 'fastify'
import fp from 'fastify-plugin'
import { CursorSeal } from '../../platform/pagination.js'
import { PROVIDERS } from './providers.js'
import { ConnectorsRepository } from './repository.js'
import { ConnectorsService } from './service.js'
import { ConnectorWorker } from './worker.js'

declare module 'fastify' {
  interface FastifyInstance {
    connectors: ConnectorsService
  }
}

async function connectorsModule(app: FastifyInstance): Promise<void> {
  const { config, database, outbound, lifecycle, log } = app.platform
  const repository = new ConnectorsRepository(database.db)
  const service = new ConnectorsService(
    repository,
    app.sources,
    app.ingest,
    PROVIDERS,
    CursorSeal.of(app.platform.secrets),
  )
  app.decorate('connectors', service)
  const worker = new ConnectorWorker({
    database,
    outbound,
    service,
    repository,
    settings: config.connectors,
    lifecycle,
    log: log.child({ component: 'connectors' }),
  })
  app.addHook('onReady', async () => worker.start())
  app.addHook('onClose', async () => worker.stop())
}

export default fp(connectorsModule, { name: 'connectors', dependencies: ['sources', 'ingest'] })
