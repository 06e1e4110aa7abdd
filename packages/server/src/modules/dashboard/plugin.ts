// The dashboard module's services: the sessions the web console signs in with (app.ts hands them to the auth
// plugin as its AdminSessionVerifier) and the sampler of the live figures its overview shows.
import type { FastifyInstance } from 'fastify'
import fp from 'fastify-plugin'
import { AdminSessions, LocalRevocations, RedisRevocations } from './sessions.js'
import { StatsSampler } from './stats.js'

declare module 'fastify' {
  interface FastifyInstance {
    adminSessions: AdminSessions
    dashboardStats: StatsSampler
  }
}

async function dashboardModule(app: FastifyInstance): Promise<void> {
  const { config, redis, secrets } = app.platform
  const revocations = redis
    ? new RedisRevocations(redis.client, config.redisKeyPrefix)
    : new LocalRevocations()
  app.decorate(
    'adminSessions',
    new AdminSessions(secrets, config.adminToken, config.dashboardSessionTtlMs, revocations),
  )
  app.decorate('dashboardStats', new StatsSampler())
}

export default fp(dashboardModule, { name: 'dashboard' })
