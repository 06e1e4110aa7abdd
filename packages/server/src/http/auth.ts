// Authentication and authorisation, declared per route in its config: `admin: true` needs the ADMIN_TOKEN,
// `scope: 'ingest' | 'read' | 'write'` needs an API key with that scope. Routes with neither are public.
// Secrets are compared in constant time; a bad credential is 401, a missing scope 403.
import type { FastifyInstance, FastifyRequest } from 'fastify'
import fp from 'fastify-plugin'
import type { Scope } from '../db/schema.js'
import type { IngestService } from '../modules/ingest/service.js'
import { sameSecret } from '../modules/tenants/api-keys.js'
import type { Principal, TenantsService } from '../modules/tenants/service.js'
import { ProblemError } from '../platform/problems.js'

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
  const adminToken = app.platform.config.adminToken
  app.decorateRequest('principal', null)

  app.addHook('onRequest', async (request) => {
    const { admin, scope } = request.routeOptions.config
    if (!admin && !scope) return
    const token = bearerToken(request)
    if (token === undefined) {
      throw new ProblemError(
        'unauthorized',
        'Send the credentials as Authorization: Bearer <token>',
        {},
        CHALLENGE,
      )
    }
    if (admin) {
      if (adminToken === undefined || !sameSecret(token, adminToken)) {
        throw new ProblemError('unauthorized', 'The admin token is not valid', {}, CHALLENGE)
      }
      return
    }
    const principal = await app.tenants.authenticate(token)
    if (principal === undefined) {
      throw new ProblemError('unauthorized', 'The API key is not valid or was revoked', {}, CHALLENGE)
    }
    if (scope && !principal.scopes.includes(scope)) {
      throw new ProblemError('forbidden', `The API key lacks the ${scope} scope`)
    }
    request.principal = principal
  })
}

export default fp(auth, { name: 'auth', dependencies: ['problems'] })
