// The device-config module's service: what GET /v1/config answers devices, and the admin operations that set it.
import type { FastifyInstance } from 'fastify'
import fp from 'fastify-plugin'
import { DeviceConfigService } from './service.js'

declare module 'fastify' {
  interface FastifyInstance {
    deviceConfig: DeviceConfigService
  }
}

async function deviceConfigModule(app: FastifyInstance): Promise<void> {
  const { database, invalidation } = app.platform
  app.decorate('deviceConfig', new DeviceConfigService(database.db, app.tenants, app.sources, invalidation))
}

export default fp(deviceConfigModule, { name: 'device-config', dependencies: ['tenants', 'sources'] })
