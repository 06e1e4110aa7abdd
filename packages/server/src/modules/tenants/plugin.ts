// The tenants module's service: tenants, their API keys and sources, for the admin API, the CLI and the
// authentication of every request.
import type { FastifyInstance } from 'fastify'
import fp from 'fastify-plugin'
import { TenantsService } from './service.js'

declare module 'fastify' {
  interface FastifyInstance {
    tenants: TenantsService
  }
}

async function tenantsModule(app: FastifyInstance): Promise<void> {
  app.decorate(
    'tenants',
    new TenantsService(app.platform.database.db, app.platform.secrets, app.platform.invalidation),
  )
}

export default fp(tenantsModule, { name: 'tenants' })
