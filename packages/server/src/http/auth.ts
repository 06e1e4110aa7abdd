// Authentication, authorisation and rate limiting, declared per route in its config: `admin: true` needs
// the ADMIN_TOKEN, `scope: 'ingest' | 'read' | 'write'` needs an API key with that scope; routes with
// neither are public, and probes (`probe: true`) are neither authenticated nor limited. Secrets are
// compared in constant time; a bad credential is 401, a missing scope 403, an exhausted limit 429.
import type { FastifyInstance, FastifyRequest } from 'fastify'
import fp from 'fastify-plugin'
import type { Scope } from '../db/schema.js'
import type { IngestService } from '../modules/ingest/service.js'
import { sameSecret } from '../modules/tenants/api-keys.js'
import type { Principal, TenantsService } from '../modules/tenants/service.js'
import { ProblemError } from '../platform/problems.js'
import { type RateLimitBucket, type RateLimits, setRateLimitHeaders } from './rate-limit.js'

declare module 'fastify' {
  interface FastifyContextConfig {
    admin?: boolean
    scope?: Scope
  }
  interface FastifyRequest {
    principal: Principal | null
  }
  interface FastifyInstance {
    tenants: TenantsService
    ingest: IngestService
    rateLimits: RateLimits
  }
}

const CHALLENGE = { 'www-authenticate': 'Bearer' }

function bearerToken(request: FastifyRequest): string | undefined {
  const header = request.headers.authorization
  if (header === undefined) return undefined
  const match = /^Bearer\s+(\S+)\s*$/i.exec(header)
  return match?.[1]
}

/** The authenticated principal of a route that requires an API key. */
export function principalOf(request: FastifyRequest): Principal {
  if (request.principal === null) throw new Error('route has no API key scope configured')
  return request.principal
}

async function auth(app: FastifyInstance): Promise<void> {
  const { config } = app.platform
  const adminToken = config.adminToken
  const defaultPolicy = { max: config.rateLimitMax, windowMs: config.rateLimitWindowMs }
  const anonymousPolicy = { max: config.rateLimitAnonymousMax, windowMs: config.rateLimitWindowMs }
  app.decorateRequest('principal', null)

  // Who is calling decides which rate limit bucket counts the request: the API key, the admin, or, for
  // anything without valid credentials, the client's IP with its lower limit. The limit is applied before
  // a credential error is answered, so a flood of bad keys is throttled like any other traffic.
  app.addHook('onRequest', async (request, reply) => {
    const { admin, scope, probe } = request.routeOptions.config
    if (probe) return
    const token = bearerToken(request)
    let failure: ProblemError | undefined
    let bucket: RateLimitBucket | undefined
    if (admin) {
      if (token !== undefined && adminToken !== undefined && sameSecret(token, adminToken)) {
        bucket = { id: 'admin', policy: defaultPolicy }
      } else {
        failure =
          token === undefined
            ? missingCredentials()
            : new ProblemError('unauthorized', 'The admin token is not valid', {}, CHALLENGE)
      }
    } else if (scope) {
      const principal = token === undefined ? undefined : await app.tenants.authenticate(token)
      if (principal === undefined) {
        failure =
          token === undefined
            ? missingCredentials()
            : new ProblemError('unauthorized', 'The API key is not valid or was revoked', {}, CHALLENGE)
      } else {
        bucket = {
          id: `key:${principal.apiKeyId}`,
          policy: principal.rateLimit ?? defaultPolicy,
          tenantId: principal.tenantId,
        }
        if (principal.scopes.includes(scope)) request.principal = principal
        else failure = new ProblemError('forbidden', `The API key lacks the ${scope} scope`)
      }
    }
    const limit = await app.rateLimits.consume(bucket ?? { id: `ip:${request.ip}`, policy: anonymousPolicy })
    setRateLimitHeaders(reply, limit)
    if (limit.exceeded) {
      const retryAfter = String(Math.max(1, limit.resetSeconds))
      throw new ProblemError(
        'rate-limited',
        `Rate limit exceeded; retry in ${retryAfter} s`,
        {},
        { 'retry-after': retryAfter },
      )
    }
    if (failure) throw failure
  })
}

function missingCredentials(): ProblemError {
  return new ProblemError(
    'unauthorized',
    'Send the credentials as Authorization: Bearer <token>',
    {},
    CHALLENGE,
  )
}

export default fp(auth, { name: 'auth', dependencies: ['problems'] })
