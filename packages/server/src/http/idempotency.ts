// Idempotency-Key, the same on every route that takes it, declared in the route's config:
// `idempotency: 'required' | 'optional'`. This plugin parses the key once, fingerprints the request once (the
// route, its decoded path parameters and the raw body bytes), documents the header in the OpenAPI document,
// and maps what the write path decided to HTTP in one place (`answerIdempotently`):
// - a new request is answered as the route answers it;
// - a replay (same key, same fingerprint) gets the original status and body again, with `Idempotent-Replayed:
//   true`; the route builds that body from what the original stored;
// - the same key with another request is 422 idempotency-key-reused;
// - a request whose key is held by one still in flight waits for it (the group committer on one replica, the
//   key's unique index across replicas) and is then answered as a replay: never 409.
// The key is checked after the route's own preValidation (auth, source, signature) and before the body's
// schema: an unsigned replay never gets a 2xx, and a retry without a key learns that first.
import { createHash } from 'node:crypto'
import { Type } from '@fastify/type-provider-typebox'
import type { FastifyInstance, FastifyReply, FastifyRequest, preValidationHookHandler } from 'fastify'
import fp from 'fastify-plugin'
import { ProblemError } from '../platform/problems.js'

export type IdempotencyMode = 'required' | 'optional'

/** The key of a request and the fingerprint a replay must match. */
export interface IdempotencyClaim {
  readonly key: string
  readonly fingerprint: string
}

/** What the write path decided about a request's key. */
export type IdempotencyVerdict = 'new' | 'replayed' | 'key-reused'

declare module 'fastify' {
  interface FastifyContextConfig {
    idempotency?: IdempotencyMode
  }
  interface FastifyRequest {
    /** Set on routes with `idempotency` when the request sent a key. */
    idempotency: IdempotencyClaim | null
  }
}

export const IDEMPOTENCY_HEADER = 'idempotency-key'
export const REPLAYED_HEADER = 'idempotent-replayed'
const KEY_PATTERN = /^[\x20-\x7e]{1,255}$/

const HEADER_DOC = {
  required: 'Required. 1 to 255 printable ASCII characters; the same key on a retry makes it safe',
  optional:
    'Optional. 1 to 255 printable ASCII characters; when sent, a retry with it is answered as a replay',
} as const

/** The fingerprint a replay must match: the route, its decoded path parameters and the exact body bytes. */
function fingerprintOf(request: FastifyRequest, route: string): string {
  return createHash('sha256')
    .update(`${request.method} ${route}\n`)
    .update(JSON.stringify(request.params ?? {}))
    .update('\n')
    .update(request.rawBody ?? Buffer.alloc(0))
    .digest('hex')
}

function parseKey(header: unknown, mode: IdempotencyMode): string | undefined {
  if (header === undefined && mode === 'optional') return undefined
  if (typeof header === 'string' && KEY_PATTERN.test(header)) return header
  throw new ProblemError(
    'idempotency-key-required',
    header === undefined
      ? 'Send an Idempotency-Key header: the same key on a retry makes it safe'
      : 'The Idempotency-Key must be 1 to 255 printable ASCII characters',
  )
}

/**
 * The route's key check, made for the route when it is registered: the mode and the route's pattern are known
 * then, so no request needs to read request.routeOptions (which builds a new object on every read).
 */
function claimKeyFor(mode: IdempotencyMode, route: string): preValidationHookHandler {
  return (request, _reply, done) => {
    const key = parseKey(request.headers[IDEMPOTENCY_HEADER], mode)
    if (key !== undefined) request.idempotency = { key, fingerprint: fingerprintOf(request, route) }
    done()
  }
}

/**
 * Applies the write path's verdict to the reply: marks a replay, refuses a reused key. The route then answers
 * a replay exactly as it answered the original.
 */
export function answerIdempotently(reply: FastifyReply, verdict: IdempotencyVerdict): void {
  if (verdict === 'key-reused') {
    throw new ProblemError(
      'idempotency-key-reused',
      'This Idempotency-Key came with a different request before',
    )
  }
  if (verdict === 'replayed') reply.header(REPLAYED_HEADER, 'true')
}

/**
 * The route's header schema with Idempotency-Key added, for the OpenAPI document. It is optional in the schema
 * even where the route requires it: the key check answers a missing key with its own problem type.
 */
function withKeyHeader(headers: unknown, mode: IdempotencyMode): unknown {
  const property = Type.Optional(Type.String({ description: HEADER_DOC[mode] }))
  const existing = headers as { type?: string; properties?: Record<string, unknown> } | undefined
  if (existing !== undefined && (existing.type !== 'object' || existing.properties === undefined))
    return headers
  return Type.Object({ ...(existing?.properties ?? {}), [IDEMPOTENCY_HEADER]: property } as never)
}

async function idempotency(app: FastifyInstance): Promise<void> {
  app.decorateRequest('idempotency', null)

  app.addHook('onRoute', (route) => {
    const mode = route.config?.idempotency
    if (mode === undefined) return
    // The key is checked after the route's own preValidation hooks (auth-dependent lookups, signatures).
    const own = route.preValidation
    route.preValidation = [
      ...(own === undefined ? [] : Array.isArray(own) ? own : [own]),
      claimKeyFor(mode, route.url),
    ]
    if (route.schema) route.schema = { ...route.schema, headers: withKeyHeader(route.schema.headers, mode) }
  })
}

export default fp(idempotency, { name: 'idempotency', dependencies: ['problems', 'json-body'] })
