// Authentication, authorisation and rate limiting, declared per route in its config: `admin: true` needs
// the ADMIN_TOKEN (or the dashboard's session cookie standing for it; a change made with the cookie also
// needs the session's X-CSRF-Token header), `scope: 'ingest' | 'read' | 'write'` needs an API key with that
// scope (`'any'`: any key); routes with neither are public, and probes (`probe: true`) are neither
// authenticated nor limited. Secrets are compared in constant time; a bad credential is 401, a missing scope
// or CSRF token 403, an exhausted limit 429.
// Provider webhooks (`providerWebhook: true`, authenticated by their signature in the route) count per
// connector source, not per client IP: Square and Shopify send bursts from few addresses. Each one whose
// signature fails (401) counts in the IP's anonymous bucket instead, and an IP that exhausted it is refused
// before its signature is even checked, so floods of unsigned garbage stay cheap.
//
// API keys are checked through the ApiKeyVerifier interface defined here, dashboard sessions through the
// AdminSessionVerifier; their modules provide them (app.ts hands them in), so this layer depends on no feature
// module.
import type { Scope } from '@pos/contracts/admin'
import type { FastifyInstance, FastifyRequest, onSendHookHandler } from 'fastify'
import fp from 'fastify-plugin'
import { ProblemError } from '../platform/problems.js'
import type { RateLimitBucket, RateLimitPolicy, RateLimitState, RateLimits } from '../platform/rate-limits.js'
import { sameSecret } from '../platform/secret-compare.js'
import { setRateLimitHeaders } from './rate-limit.js'

/** Who an API key stands for. */
export interface Principal {
  readonly tenantId: string
  readonly apiKeyId: string
  readonly scopes: readonly Scope[]
  /** The tenant's rate limit per API key, when it overrides the service's default. */
  readonly rateLimit: RateLimitPolicy | null
}

export interface ApiKeyVerifier {
  /** The principal an API key stands for, or undefined when the key is unknown, malformed or revoked. */
  authenticate(key: string): Promise<Principal | undefined>
}

/** A dashboard session: it stands for the admin token until it expires or is signed out. */
export interface AdminSession {
  /** Random; also the CSRF token the page sends back as X-CSRF-Token. */
  readonly id: string
  readonly expiresAt: Date
}

export interface AdminSessionVerifier {
  /** The session a cookie value carries, or undefined when it is forged, expired or signed out. */
  verify(cookie: string): Promise<AdminSession | undefined>
}

/** The name of the dashboard's session cookie. */
export const SESSION_COOKIE = 'pos_admin_session'
export const CSRF_HEADER = 'x-csrf-token'

export interface AuthOptions {
  readonly apiKeys: ApiKeyVerifier
  readonly adminSessions: AdminSessionVerifier
  readonly rateLimits: RateLimits
}

declare module 'fastify' {
  interface FastifyContextConfig {
    admin?: boolean
    /** `any`: an API key of the tenant with whatever scopes (GET /v1/config, which every device reads). */
    scope?: Scope | 'any'
    providerWebhook?: boolean
  }
  interface FastifyRequest {
    principal: Principal | null
    /** The dashboard session an admin request came with; null when it sent the token itself. */
    adminSession: AdminSession | null
  }
}

const CHALLENGE = { 'www-authenticate': 'Bearer' }

function bearerToken(request: FastifyRequest): string | undefined {
  const header = request.headers.authorization
  if (header === undefined) return undefined
  const match = /^Bearer\s+(\S+)\s*$/i.exec(header)
  return match?.[1]
}

/** The value of the session cookie, if the request carries one. */
export function sessionCookie(request: FastifyRequest): string | undefined {
  const header = request.headers.cookie
  if (header === undefined) return undefined
  for (const pair of header.split(';')) {
    const at = pair.indexOf('=')
    if (at > 0 && pair.slice(0, at).trim() === SESSION_COOKIE) return pair.slice(at + 1).trim()
  }
  return undefined
}

const SAFE_METHODS = new Set(['GET', 'HEAD', 'OPTIONS'])

/** The authenticated principal of a route that requires an API key. */
export function principalOf(request: FastifyRequest): Principal {
  if (request.principal === null) throw new Error('route has no API key scope configured')
  return request.principal
}

async function auth(app: FastifyInstance, options: AuthOptions): Promise<void> {
  const { apiKeys, adminSessions, rateLimits } = options
  const { config } = app.platform
  const adminToken = config.adminToken
  const defaultPolicy = { max: config.rateLimitMax, windowMs: config.rateLimitWindowMs }
  const anonymousPolicy = { max: config.rateLimitAnonymousMax, windowMs: config.rateLimitWindowMs }
  const webhookPolicy = { max: config.connectors.webhookRateLimitMax, windowMs: 60_000 }
  const ipBucket = (request: FastifyRequest): RateLimitBucket => ({
    id: `ip:${request.ip}`,
    policy: anonymousPolicy,
  })
  app.decorateRequest('principal', null)
  app.decorateRequest('adminSession', null)

  /** An admin request without a bearer token: its session cookie, and for a change its CSRF header. */
  async function sessionFailure(request: FastifyRequest): Promise<ProblemError | undefined> {
    const cookie = sessionCookie(request)
    if (cookie === undefined) return missingCredentials()
    const session = await adminSessions.verify(cookie)
    if (session === undefined)
      return new ProblemError('unauthorized', 'The session expired or was signed out; sign in again')
    const csrf = request.headers[CSRF_HEADER]
    if (!SAFE_METHODS.has(request.method) && (typeof csrf !== 'string' || !sameSecret(csrf, session.id)))
      return new ProblemError('csrf-token-invalid', `Send the session's CSRF token as ${CSRF_HEADER}`)
    request.adminSession = session
    return undefined
  }

  /** The bucket of a provider webhook: its source's, or the IP's for a source id that cannot be one. */
  async function webhookBucket(request: FastifyRequest): Promise<RateLimitBucket> {
    const refused = await rateLimits.peek(ipBucket(request))
    if (refused?.exceeded) throw rateLimited(refused)
    const { sourceId } = request.params as { sourceId?: string }
    return sourceId !== undefined && UUID.test(sourceId)
      ? { id: `webhook-source:${sourceId.toLowerCase()}`, policy: webhookPolicy }
      : ipBucket(request)
  }

  // A provider webhook whose signature failed counts in its IP's bucket, before the answer leaves, so the
  // address's next request already sees it. The hook is added to those routes only: every other request
  // would pay for an async hook that does nothing.
  const countFailedSignature: onSendHookHandler = async (request, reply, payload) => {
    if (reply.statusCode === 401) await rateLimits.consume(ipBucket(request))
    return payload
  }
  app.addHook('onRoute', (route) => {
    if (!route.config?.providerWebhook) return
    const own = route.onSend
    route.onSend = [...(own === undefined ? [] : Array.isArray(own) ? own : [own]), countFailedSignature]
  })

  // Who is calling decides which rate limit bucket counts the request: the API key, the admin, or, for
  // anything without valid credentials, the client's IP with its lower limit. The limit is applied before
  // a credential error is answered, so a flood of bad keys is throttled like any other traffic.
  app.addHook('onRequest', async (request, reply) => {
    const { admin, scope, probe, providerWebhook } = request.routeOptions.config
    if (probe) return
    const token = bearerToken(request)
    let failure: ProblemError | undefined
    let bucket: RateLimitBucket | undefined
    if (providerWebhook) {
      bucket = await webhookBucket(request)
    } else if (admin) {
      if (token !== undefined && adminToken !== undefined && sameSecret(token, adminToken)) {
        bucket = { id: 'admin', policy: defaultPolicy }
      } else if (token === undefined) {
        failure = await sessionFailure(request)
        if (failure === undefined) bucket = { id: 'admin', policy: defaultPolicy }
      } else {
        failure = new ProblemError('unauthorized', 'The admin token is not valid', {}, CHALLENGE)
      }
    } else if (scope) {
      const principal = token === undefined ? undefined : await apiKeys.authenticate(token)
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
        if (scope === 'any' || principal.scopes.includes(scope)) request.principal = principal
        else failure = new ProblemError('forbidden', `The API key lacks the ${scope} scope`)
      }
    }
    const limit = await rateLimits.consume(bucket ?? ipBucket(request))
    setRateLimitHeaders(reply, limit)
    if (limit.exceeded) throw rateLimited(limit)
    if (failure) throw failure
  })
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i

function rateLimited(limit: RateLimitState): ProblemError {
  const retryAfter = String(Math.max(1, limit.resetSeconds))
  return new ProblemError(
    'rate-limited',
    `Rate limit exceeded; retry in ${retryAfter} s`,
    {},
    { 'retry-after': retryAfter },
  )
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
