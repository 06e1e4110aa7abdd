// The api-keys module's service: the admin operations on API keys, and the verifier app.ts hands to the auth
// plugin, which checks every request's key with it.
import type { FastifyInstance } from 'fastify'
import fp from 'fastify-plugin'
import { ApiKeysService } from './service.js'

declare module 'fastify' {
  interface FastifyInstance {
    apiKeys: ApiKeysService
  }
}

async function apiKeysModule(app: FastifyInstance): Promise<void> {
  const { database, invalidation } = app.platform
  app.decorate('apiKeys', new ApiKeysService(database.db, app.tenants, invalidation))
}

export default fp(apiKeysModule, { name: 'api-keys', dependencies: ['tenants'] })
