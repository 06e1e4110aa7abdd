// The tenants module's service, for the admin API, the CLI, and the api-keys and sources modules, which check
// through it that a tenant exists.
import type { FastifyInstance } from 'fastify'
import fp from 'fastify-plugin'
import { TenantsService } from './service.js'

declare module 'fastify' {
  interface FastifyInstance {
    tenants: TenantsService
  }
}

async function tenantsModule(app: FastifyInstance): Promise<void> {
  app.decorate('tenants', new TenantsService(app.platform.database.db, app.platform.invalidation))
}

export default fp(tenantsModule, { name: 'tenants' })
