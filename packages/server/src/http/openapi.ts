// The OpenAPI document at /openapi.json, derived from what each route declares, so that it cannot drift from
// what the service does. The route's config says which credential it takes (the same config auth.ts
// enforces) and, with its schema, which problems it can answer with: the error responses are written here,
// once. A handler's own problems beyond those (a 409, a signature) are listed in its schema's `problems`; a
// problem response a route declares itself (the admin routes still do) is kept as it is. Every schema with a
// `title` (the shared shapes of contracts/) becomes one component, referenced wherever it is used. The
// response headers follow from the config too (rate limit state, Retry-After, Idempotent-Replayed), and a
// route's `examples` (contracts/examples.ts) become the named examples of its body and responses.
//
// All of this is documentation only: the problem responses are not added to the route's own schema, so
// Fastify compiles no serializer for them, and the problems plugin keeps sending its documents as they are.
import { isDeepStrictEqual } from 'node:util'
import swagger, { type SwaggerTransform, type SwaggerTransformObject } from '@fastify/swagger'
import { EVENT_TYPES, eventDataSchemaName, eventDataSchemas } from '@pos/contracts/events'
import type { NamedExample } from '@pos/contracts/examples'
import { PROBLEM_CONTENT_TYPE, Problem } from '@pos/contracts/problem'
import type { FastifyInstance, FastifySchema, RouteOptions } from 'fastify'
import fp from 'fastify-plugin'
import { buildInfo } from '../platform/build-info.js'
import { type ProblemType, problemTypes, problemTypeUri } from '../platform/problems.js'
import { SESSION_COOKIE } from './auth.js'

/** Named examples of a body, each checked against the schema it illustrates (test/http/openapi.test.ts). */
type Examples = Readonly<Record<string, NamedExample<unknown>>>

declare module 'fastify' {
  interface FastifySchema {
    /** Problems the handler itself may answer with, beyond those its config and schema imply. */
    problems?: readonly ProblemType[]
    /** Examples of the request body and of the responses by status, for the document only. */
    examples?: { readonly body?: Examples; readonly responses?: Readonly<Record<number, Examples>> }
  }
}

/** What a body may be refused with before validation: Fastify parses one on any method but GET and HEAD. */
const PARSED_BODY_PROBLEMS: readonly ProblemType[] = [
  'bad-request',
  'malformed-json',
  'payload-too-large',
  'unsupported-media-type',
]
const BODY_PROBLEMS: readonly ProblemType[] = [...PARSED_BODY_PROBLEMS, 'validation-failed']

function hasIdempotencyKey(headers: unknown): boolean {
  const properties = (headers as { properties?: Record<string, unknown> } | undefined)?.properties
  return properties !== undefined && Object.hasOwn(properties, 'idempotency-key')
}

/** Every problem type a route can answer with, from its config, its schema and its URL. */
function problemTypesOf(route: Pick<RouteOptions, 'config' | 'schema' | 'url' | 'method'>): ProblemType[] {
  const config = route.config ?? {}
  const schema: FastifySchema = route.schema ?? {}
  const types = new Set<ProblemType>()
  if (config.admin || config.scope) types.add('unauthorized')
  if (config.scope && config.scope !== 'any') types.add('forbidden')
  // A change made with the dashboard's session cookie needs its CSRF header (http/auth.ts).
  const methods = [route.method].flat()
  if (config.admin && methods.some((method) => !['GET', 'HEAD', 'OPTIONS'].includes(method)))
    types.add('csrf-token-invalid')
  // Probes are never limited; every other route is, by credential or, without one, by client address.
  if (!config.probe) types.add('rate-limited')
  // The parameter guard (http/validation.ts) refuses unstorable path and query text on every route.
  types.add('invalid-parameters')
  if (schema.body) for (const type of BODY_PROBLEMS) types.add(type)
  // A route that expects no body still gets one parsed when a client sends it (a POST or DELETE with a body).
  else if (methods.some((method) => !['GET', 'HEAD'].includes(method)))
    for (const type of PARSED_BODY_PROBLEMS) types.add(type)
  if (hasIdempotencyKey(schema.headers)) {
    types.add('idempotency-key-required')
    types.add('idempotency-key-reused')
  }
  // A path parameter names a resource, which may not exist (or belong to another tenant).
  if (route.url.includes('/:')) types.add('not-found')
  for (const type of schema.problems ?? []) types.add(type)
  types.add('internal-error')
  types.add('service-unavailable')
  return [...types]
}

/** The documented problem responses of a route, by status; each names the types it may carry. */
function problemResponses(types: readonly ProblemType[]): Record<string, object> {
  const byStatus = new Map<number, ProblemType[]>()
  for (const type of types) {
    const { status } = problemTypes[type]
    byStatus.set(status, [...(byStatus.get(status) ?? []), type])
  }
  const responses: Record<string, object> = {}
  for (const [status, ofStatus] of byStatus) {
    responses[status] = {
      description: ofStatus.map((type) => `${problemTypeUri(type)}: ${problemTypes[type].title}`).join('; '),
      content: { [PROBLEM_CONTENT_TYPE]: { schema: Problem } },
    }
  }
  return responses
}

/** A response header, as @fastify/swagger turns it into an OpenAPI header object. */
const header = (description: string, type: 'string' | 'integer' = 'string') => ({ type, description })

// What http/rate-limit.ts writes on every answer of a limited route, and what a refusal adds.
const RATE_LIMIT_HEADERS = {
  ratelimit: header('IETF draft: "default";r=<remaining>;t=<seconds until the window resets>'),
  'ratelimit-policy': header('IETF draft: "default";q=<limit>;w=<window in seconds>'),
  'x-ratelimit-limit': header('Requests allowed in the window', 'integer'),
  'x-ratelimit-remaining': header('Requests left in the window', 'integer'),
  'x-ratelimit-reset': header('Seconds until the window resets', 'integer'),
}
const REQUEST_ID_HEADER = { 'x-request-id': header('The id of this request, as the logs name it') }

/** The headers a route's answer with this status carries, from the route's config. */
function responseHeaders(config: RouteOptions['config'], status: number): Record<string, object> {
  const headers: Record<string, object> = { ...REQUEST_ID_HEADER }
  if (config?.probe) return headers
  Object.assign(headers, RATE_LIMIT_HEADERS)
  if (status === 429) headers['retry-after'] = header('Seconds to wait before the next request', 'integer')
  if (status === 401) headers['www-authenticate'] = header('Bearer')
  // A compressed body is refused (http/json-body.ts); that 415 says which codings would be accepted.
  if (status === 415)
    headers['accept-encoding'] = header('identity, when the body was refused for its Content-Encoding')
  if (config?.idempotency && status >= 200 && status < 300) {
    headers['idempotent-replayed'] = header(
      'true when this answers a retry of a request already answered (the same Idempotency-Key and body)',
    )
  }
  return headers
}

/**
 * A body or response with its examples. A schema carries them as `x-examples`, which @fastify/swagger moves to
 * its media type; a response given whole (a problem response) has its media already, so they go there.
 */
function withExamples(schema: unknown, examples: Examples | undefined): unknown {
  if (examples === undefined) return schema
  const { content } = schema as { content?: Record<string, object> }
  if (content === undefined) return { ...(schema as object), 'x-examples': examples }
  const media = Object.entries(content).map(([type, value]) => [type, { ...value, examples }])
  return { ...(schema as object), content: Object.fromEntries(media) }
}

// The admin token, or the dashboard's session cookie that stands for it.
const ADMIN_SECURITY: Record<string, string[]>[] = [{ adminToken: [] }, { dashboardSession: [] }]

const documentRoute: SwaggerTransform = ({ schema, url, route }) => {
  const { problems: _problems, examples, ...documented } = schema ?? {}
  const security = route.config?.admin ? ADMIN_SECURITY : route.config?.scope ? [{ apiKey: [] }] : undefined
  // A response the route declares itself is kept as it is; numeric keys list in ascending order.
  const declared: Record<string, unknown> = {
    ...problemResponses(problemTypesOf(route)),
    ...(documented.response as Record<string, unknown> | undefined),
  }
  const response = Object.fromEntries(
    Object.entries(declared).map(([status, value]) => [
      status,
      {
        ...(withExamples(value, examples?.responses?.[Number(status)]) as object),
        headers: responseHeaders(route.config, Number(status)),
      },
    ]),
  )
  const body = documented.body === undefined ? {} : { body: withExamples(documented.body, examples?.body) }
  return { schema: { ...documented, ...body, ...(security ? { security } : {}), response }, url }
}

const COMPONENT_NAME = /^[A-Za-z0-9._-]+$/

/**
 * Replaces every schema with a title by a reference to a component of that name. Two different schemas
 * under one title are a bug (a shape defined twice that drifted apart), so the document is refused.
 */
export function hoistTitled(node: unknown, components: Record<string, unknown>): unknown {
  if (Array.isArray(node)) return node.map((item) => hoistTitled(item, components))
  if (node === null || typeof node !== 'object') return node
  const copy: Record<string, unknown> = {}
  for (const [key, value] of Object.entries(node)) copy[key] = hoistTitled(value, components)
  const name = copy.title
  if (typeof name !== 'string' || !COMPONENT_NAME.test(name)) return copy
  const known = components[name]
  if (known === undefined) components[name] = copy
  else if (!isDeepStrictEqual(known, copy)) throw new Error(`Two different schemas are titled ${name}`)
  return { $ref: `#/components/schemas/${name}` }
}

const referenceComponents: SwaggerTransformObject = (document) => {
  if (!('openapiObject' in document)) return document.swaggerObject
  const openapi = document.openapiObject
  const schemas: Record<string, unknown> = {}
  // The components given up front (the event data schemas) are kept, with their own parts referenced.
  for (const [name, schema] of Object.entries(openapi.components?.schemas ?? {})) {
    schemas[name] = Object.fromEntries(
      Object.entries(schema).map(([key, value]) => [key, hoistTitled(value, schemas)]),
    )
  }
  const paths = hoistTitled(openapi.paths, schemas) as typeof openapi.paths
  return { ...openapi, paths, components: { ...openapi.components, schemas } } as typeof openapi
}

/** The data schema of each event type, which the ingest route checks after the envelope, by its title. */
const eventDataComponents = Object.fromEntries(
  EVENT_TYPES.map((type) => [eventDataSchemaName(type), eventDataSchemas[type]]),
)

async function openapi(app: FastifyInstance): Promise<void> {
  await app.register(swagger, {
    openapi: {
      openapi: '3.1.0',
      components: {
        schemas: eventDataComponents,
        securitySchemes: {
          apiKey: {
            type: 'http',
            scheme: 'bearer',
            description: "A tenant's API key (pos_…), with the route's scope",
          },
          adminToken: { type: 'http', scheme: 'bearer', description: 'The ADMIN_TOKEN of the deployment' },
          dashboardSession: {
            type: 'apiKey',
            in: 'cookie',
            name: SESSION_COOKIE,
            description:
              'The session POST /v1/admin/session answers for the ADMIN_TOKEN; a change also needs its X-CSRF-Token header',
          },
        },
      },
      info: {
        title: 'POS Integration Service',
        version: buildInfo.version,
        description: 'Ingests POS sales, refunds, stock and catalog changes exactly once per tenant.',
      },
    },
    transform: documentRoute,
    transformObject: referenceComponents,
  })
}

export default fp(openapi, { name: 'openapi' })
