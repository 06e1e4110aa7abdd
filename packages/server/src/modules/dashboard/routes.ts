// The admin API only the web console uses: signing in with the admin token for a session cookie, reading the
// session back (a reloaded page needs its CSRF token), signing out, and the live figures of the overview.
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { Session, SignInBody, Stats } from '@pos/contracts/dashboard'
import type { FastifyReply, FastifyRequest } from 'fastify'
import { SESSION_COOKIE } from '../../http/auth.js'
import { dependencyChecks, runChecks, shownResults } from '../../platform/health.js'
import { ProblemError } from '../../platform/problems.js'
import { sameSecret } from '../../platform/secret-compare.js'
import { NoContent, Unauthorized } from '../tenants/schemas.js'

const admin = { admin: true } as const
const tags = ['admin']

/** Set-Cookie for the session: never readable by scripts, never sent by another site, https-only behind https. */
function sessionCookie(request: FastifyRequest, value: string, maxAgeSeconds: number): string {
  const secure = request.protocol === 'https' ? '; Secure' : ''
  return `${SESSION_COOKIE}=${value}; Path=/; Max-Age=${maxAgeSeconds}; HttpOnly; SameSite=Strict${secure}`
}

function clearCookie(request: FastifyRequest, reply: FastifyReply): void {
  reply.header('set-cookie', sessionCookie(request, '', 0))
}

const dashboardRoutes: FastifyPluginAsyncTypebox = async (app) => {
  const { adminSessions, dashboardStats } = app
  const { config, database, redis } = app.platform
  const checks = dependencyChecks(database, redis)

  app.post(
    '/v1/admin/session',
    {
      schema: {
        tags,
        summary: 'Signs in with the admin token: answers a session cookie (HttpOnly, SameSite=Strict)',
        body: SignInBody,
        response: { 201: Session, 401: Unauthorized },
      },
    },
    async (request, reply) => {
      const adminToken = config.adminToken
      if (adminToken === undefined || !sameSecret(request.body.token, adminToken)) {
        clearCookie(request, reply)
        throw new ProblemError('unauthorized', 'The admin token is not valid')
      }
      const session = adminSessions.issue()
      reply.header(
        'set-cookie',
        sessionCookie(request, session.cookie, Math.floor(adminSessions.ttlMs / 1000)),
      )
      // The cookie stands for the admin token: no cache may keep the answer that sets it.
      reply.header('cache-control', 'no-store')
      return reply.code(201).send({ csrfToken: session.id, expiresAt: session.expiresAt.toISOString() })
    },
  )

  app.get(
    '/v1/admin/session',
    {
      config: admin,
      schema: {
        tags,
        summary: "The caller's session and its CSRF token (both null for a bearer token)",
        response: { 200: Session, 401: Unauthorized },
      },
    },
    async (request, reply) => {
      reply.header('cache-control', 'no-store')
      const session = request.adminSession
      return { csrfToken: session?.id ?? null, expiresAt: session?.expiresAt.toISOString() ?? null }
    },
  )

  app.delete(
    '/v1/admin/session',
    {
      config: admin,
      schema: {
        tags,
        summary: 'Signs out: the session is refused from now on, and its cookie cleared',
        response: { 204: NoContent, 401: Unauthorized },
      },
    },
    async (request, reply) => {
      if (request.adminSession !== null) await adminSessions.revoke(request.adminSession)
      clearCookie(request, reply)
      return reply.code(204).send(null)
    },
  )

  app.get(
    '/v1/admin/stats',
    {
      config: admin,
      schema: {
        tags,
        summary: "This replica's live figures: rates over the last seconds, latency, health",
        response: { 200: Stats, 401: Unauthorized },
      },
    },
    async () => {
      return dashboardStats.read(shownResults(await runChecks(checks, config.readinessTimeoutMs)))
    },
  )
}

export default dashboardRoutes
