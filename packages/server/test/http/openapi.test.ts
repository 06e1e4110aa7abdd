// The OpenAPI document, walked as a client generator would: every operation documents the problems it can
// answer with, and the shared shapes of the API are components, each defined once.

import { EVENT_TYPES, type EventType, eventDataSchemas } from '@pos/contracts/events'
import { PROBLEM_CONTENT_TYPE } from '@pos/contracts/problem'
import { Validator } from '@seriousme/openapi-schema-validator'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { hoistTitled } from '../../src/http/openapi.js'
import { compileBodyValidator } from '../../src/http/validation.js'
import { type ProblemType, problemTypes } from '../../src/platform/problems.js'
import { ADMIN_TOKEN, startTestApp, type TestApp } from '../helpers/app.js'
import { ingest, productUpserted, type TestEvent } from '../helpers/ingest.js'
import {
  type OpenApiDocument as Document,
  DocumentSchemas,
  type Operation,
} from '../helpers/openapi-document.js'
import { createTenant, type TenantFixture } from '../helpers/tenants.js'

const PROBLEM_REF = { $ref: '#/components/schemas/Problem' }
const SHARED = [
  'Money',
  'Price',
  'Product',
  'Order',
  'OrderDetail',
  'LineItem',
  'StockLevel',
  'Event',
  'Problem',
]

/** Every node of a JSON document, with the path that leads to it. */
function* walk(node: unknown, path = ''): Generator<[string, Record<string, unknown>]> {
  if (node === null || typeof node !== 'object') return
  if (!Array.isArray(node)) yield [path, node as Record<string, unknown>]
  for (const [key, value] of Object.entries(node)) yield* walk(value, `${path}/${key}`)
}

let t: TestApp
let a: TenantFixture
beforeAll(async () => {
  t = await startTestApp()
  a = await createTenant(t.platform.database.db)
})
afterAll(() => t.close())

describe('the OpenAPI document', () => {
  let document: Document
  let operations: [string, Operation][]
  beforeAll(async () => {
    const res = await t.app.inject('/openapi.json')
    expect(res.statusCode).toBe(200)
    document = res.json() as Document
    operations = Object.entries(document.paths).flatMap(([path, methods]) =>
      Object.entries(methods).map(([method, operation]): [string, Operation] => [
        `${method.toUpperCase()} ${path}`,
        operation,
      ]),
    )
  })

  const problemStatuses = (operation: Operation) =>
    Object.keys(operation.responses).filter((status) => Number(status) >= 400)

  it('documents every problem response as application/problem+json, naming the types it may carry', () => {
    for (const [name, operation] of operations) {
      for (const status of problemStatuses(operation)) {
        const response = operation.responses[status]!
        // Only the problem media type, with the Problem schema (and, on some, examples of it).
        expect(Object.keys(response.content ?? {}), `${name} ${status}`).toEqual([PROBLEM_CONTENT_TYPE])
        expect(response.content?.[PROBLEM_CONTENT_TYPE]?.schema, `${name} ${status}`).toEqual(PROBLEM_REF)
        // The admin routes word their own descriptions; the derived ones list each type's URI.
        const named = Object.entries(problemTypes).filter(
          ([type, known]) => known.status === Number(status) && response.description.includes(type),
        )
        expect(named.length, `${name} ${status}: ${response.description}`).toBeGreaterThan(0)
      }
    }
  })

  it('documents what every operation answers when it succeeds', () => {
    for (const [name, operation] of operations) {
      const success = Object.keys(operation.responses).filter((status) => /^[23]/.test(status))
      expect(success, name).not.toEqual([])
    }
  })

  it('gives every operation a 500, a 503 and a 4xx', () => {
    for (const [name, operation] of operations) {
      expect(operation.responses['500'], name).toBeDefined()
      expect(operation.responses['503'], name).toBeDefined()
      // Even a probe refuses a query string the parameter guard finds unstorable.
      expect(
        problemStatuses(operation).filter((status) => status.startsWith('4')),
        name,
      ).not.toEqual([])
    }
  })

  it('gives 401 to every authenticated operation, 422 to every one with a body, 404 to every one with a path id', () => {
    const authenticated = operations.filter(([, operation]) => operation.security !== undefined)
    expect(authenticated.length).toBeGreaterThan(20)
    for (const [name, operation] of authenticated) expect(operation.responses['401'], name).toBeDefined()
    for (const [name, operation] of operations.filter(([, operation]) => operation.requestBody)) {
      expect(operation.responses['422'], name).toBeDefined()
      expect(operation.responses['413'], name).toBeDefined()
      expect(operation.responses['415'], name).toBeDefined()
    }
    for (const [name, operation] of operations.filter(([name]) => name.includes('{'))) {
      expect(operation.responses['404'], name).toBeDefined()
    }
  })

  it('documents 413 and 415 on an operation that expects no body but parses one a client sends (any method but GET)', async () => {
    const bodiless = operations.filter(
      ([name, operation]) => !name.startsWith('GET ') && !operation.requestBody,
    )
    expect(bodiless.map(([name]) => name)).toContain('DELETE /v1/admin/tenants/{tenantId}')
    for (const [name, operation] of bodiless) {
      expect(operation.responses['413'], name).toBeDefined()
      expect(operation.responses['415'], name).toBeDefined()
    }
    const res = await t.app.inject({
      method: 'DELETE',
      url: `/v1/admin/tenants/${a.tenantId}`,
      headers: { authorization: `Bearer ${ADMIN_TOKEN}`, 'content-type': 'text/plain' },
      payload: 'delete it',
    })
    expect(res.statusCode).toBe(415)
    expect(res.json()).toMatchObject({ type: '/problems/unsupported-media-type' })
  })

  it('documents the cursor pagination of every list: ?limit= and ?after=, answered with nextCursor', () => {
    const lists = operations.filter(([, operation]) =>
      JSON.stringify(operation.responses['200']?.content ?? {}).includes('"nextCursor"'),
    )
    expect(lists.map(([name]) => name)).toEqual(
      expect.arrayContaining([
        'GET /v1/products',
        'GET /v1/webhook-endpoints',
        'GET /v1/webhook-endpoints/{endpointId}/deliveries',
      ]),
    )
    for (const [name, operation] of lists) {
      const query = (operation.parameters ?? []).filter((p) => p.in === 'query').map((p) => p.name)
      expect(query, name).toEqual(expect.arrayContaining(['limit', 'after']))
      expect(operation.responses['400'], name).toBeDefined()
    }
  })

  it("derives each route's problems from its config and schema, plus those its handler names", () => {
    const types = (name: string, status: string) => {
      const operation = operations.find(([candidate]) => candidate === name)?.[1]
      const description = operation?.responses[status]?.description ?? ''
      // In the order of the registry, as the document lists them.
      return Object.keys(problemTypes).filter((type) => description.includes(`/problems/${type}:`))
    }
    expect(types('POST /v1/ingest/{source}', '400')).toEqual(
      expect.arrayContaining(['invalid-parameters', 'malformed-json', 'idempotency-key-required']),
    )
    expect(types('POST /v1/ingest/{source}', '401')).toEqual(['unauthorized', 'signature-required'])
    expect(types('POST /v1/ingest/{source}', '403')).toEqual(['signature-invalid', 'forbidden'])
    expect(types('POST /v1/ingest/{source}', '422')).toEqual([
      'validation-failed',
      'idempotency-key-reused',
      'unstorable-data',
    ] satisfies ProblemType[])
    expect(types('POST /v1/products', '409')).toEqual(['conflict'])
    expect(types('GET /v1/products', '400')).toEqual(['invalid-parameters'])
    expect(types('GET /v1/products', '429')).toEqual(['rate-limited'])
    expect(types('GET /problems/{type}', '404')).toEqual(['not-found'])
    // Only probes are neither authenticated nor limited.
    expect(types('GET /livez', '429')).toEqual([])
  })

  it('is a valid OpenAPI 3.1 document, with both security schemes', async () => {
    const result = await new Validator().validate(
      structuredClone(document) as unknown as Record<string, unknown>,
    )
    expect(result.errors ?? [], JSON.stringify(result.errors, null, 1)).toEqual([])
    expect(result.valid).toBe(true)
    expect(document.openapi).toBe('3.1.0')
    expect(document.components.securitySchemes).toMatchObject({
      apiKey: { type: 'http', scheme: 'bearer' },
      adminToken: { type: 'http', scheme: 'bearer' },
    })
  })

  it('shows request and response examples on every route that takes or answers a body of the API', () => {
    const media = (name: string, status: string) => {
      const [method, path] = name.split(' ') as [string, string]
      const operation = document.paths[path]?.[method.toLowerCase()]
      expect(operation, name).toBeDefined()
      const content =
        status === 'request' ? operation?.requestBody?.content : operation?.responses[status]?.content
      return Object.values(content ?? {})[0]
    }
    const shown = {
      'POST /v1/products': ['request', '201', '422'],
      'PUT /v1/products/{sku}': ['request', '200'],
      'GET /v1/products': ['200'],
      'GET /v1/products/{sku}': ['200'],
      'GET /v1/inventory': ['200'],
      'GET /v1/orders': ['200'],
      'GET /v1/orders/{orderId}': ['200'],
      'GET /v1/events': ['200'],
      'POST /v1/webhook-endpoints': ['request', '201'],
      'GET /v1/webhook-endpoints': ['200'],
      'GET /v1/webhook-endpoints/{endpointId}': ['200'],
      'POST /v1/webhook-endpoints/{endpointId}/rotate-secret': ['200'],
      'GET /v1/webhook-endpoints/{endpointId}/deliveries': ['200'],
      'GET /v1/config': ['200'],
      'GET /v1/admin/tenants/{tenantId}/device-config': ['200'],
      'PATCH /v1/admin/tenants/{tenantId}/device-config': ['request', '200'],
      'POST /v1/admin/tenants': ['request', '201'],
      'GET /v1/admin/tenants': ['200'],
      'POST /v1/admin/tenants/{tenantId}/api-keys': ['request', '201'],
      'GET /v1/admin/tenants/{tenantId}/api-keys': ['200'],
      'POST /v1/admin/tenants/{tenantId}/sources': ['request', '201'],
      'GET /v1/admin/tenants/{tenantId}/sources': ['200'],
      'GET /v1/admin/tenants/{tenantId}/events': ['200'],
      'GET /v1/admin/tenants/{tenantId}/orders': ['200'],
      'GET /v1/admin/tenants/{tenantId}/orders/{orderId}': ['200'],
      'GET /v1/admin/tenants/{tenantId}/inventory': ['200'],
      'GET /v1/admin/tenants/{tenantId}/products': ['200'],
      'GET /v1/admin/tenants/{tenantId}/webhook-endpoints': ['200'],
      'GET /v1/admin/tenants/{tenantId}/webhook-endpoints/{endpointId}/deliveries': ['200'],
    }
    for (const [name, statuses] of Object.entries(shown)) {
      for (const status of statuses) {
        expect(Object.keys(media(name, status)?.examples ?? {}), `${name} ${status}`).not.toEqual([])
      }
    }
    // A problem example reads as the service writes it: the registry's title for its type and status.
    const problem = Object.values(media('POST /v1/products', '422')?.examples ?? {})[0]?.value
    expect(problem).toMatchObject({
      type: '/problems/validation-failed',
      title: problemTypes['validation-failed'].title,
      status: problemTypes['validation-failed'].status,
    })
    // The deliveries are shown with their attempts.
    const deliveries = Object.values(
      media('GET /v1/webhook-endpoints/{endpointId}/deliveries', '200')?.examples ?? {},
    )
    const attempts = deliveries.flatMap(({ value }) =>
      (value as { data: { attempts: unknown[] }[] }).data.flatMap((delivery) => delivery.attempts),
    )
    expect(attempts.length).toBeGreaterThan(0)
    // A secret or key in an example is a placeholder, never one that could have been issued.
    for (const [name, status, field, placeholder] of [
      ['POST /v1/webhook-endpoints', '201', 'secret', /^whsec_x+$/],
      ['POST /v1/webhook-endpoints/{endpointId}/rotate-secret', '200', 'secret', /^whsec_x+$/],
      ['POST /v1/admin/tenants/{tenantId}/api-keys', '201', 'key', /^pos_x+$/],
    ] as const) {
      for (const { value } of Object.values(media(name, status)?.examples ?? {})) {
        expect((value as Record<string, string>)[field], name).toMatch(placeholder)
      }
    }
  })

  it('gives the ingest route a batch of each event type, and every example fits its schema', () => {
    const schemas = new DocumentSchemas(document)
    let checked = 0
    for (const [name, operation] of operations) {
      const media = [
        ...Object.entries(operation.requestBody?.content ?? {}).map(
          ([type, m]) => [`request ${type}`, m] as const,
        ),
        ...Object.entries(operation.responses).flatMap(([status, response]) =>
          Object.entries(response.content ?? {}).map(([type, m]) => [`${status} ${type}`, m] as const),
        ),
      ]
      for (const [where, { schema, example, examples }] of media) {
        const values = [
          ...(example === undefined ? [] : [['example', example] as const]),
          ...Object.entries(examples ?? {}).map(([key, named]) => [key, named.value] as const),
        ]
        for (const [key, value] of values) {
          expect(schemas.check(schema, value), `${name} ${where} ${key}`).toBeUndefined()
          checked++
        }
      }
    }
    const ingestBody = document.paths['/v1/ingest/{source}']?.post?.requestBody?.content['application/json']
    const batches = Object.values(ingestBody?.examples ?? {}).map(
      (named) => named.value as { events: { type: EventType; data: unknown }[] },
    )
    const types = batches.flatMap((batch) => batch.events.map((event) => event.type))
    expect(new Set(types)).toEqual(new Set(EVENT_TYPES))
    // The envelope's data is any object; each event's data must also fit its own type's schema.
    for (const event of batches.flatMap((batch) => batch.events)) {
      const validate = compileBodyValidator(eventDataSchemas[event.type])
      expect(validate(event.data), `${event.type}: ${JSON.stringify(validate.errors)}`).toBe(true)
    }
    // The ingest batches and answers, and at least one example of each route the previous test lists.
    expect(checked).toBeGreaterThan(EVENT_TYPES.length + 2 + 29)
  })

  it('shows batches the service stores: each example is answered 201', async () => {
    const examples = document.paths['/v1/ingest/{source}']!.post!.requestBody!.content['application/json']!
    for (const [name, { value }] of Object.entries(examples.examples ?? {})) {
      const { events } = value as { events: TestEvent[] }
      const res = await ingest(t.app, { key: a.key, events })
      expect(res.statusCode, `${name}: ${res.body}`).toBe(201)
      expect(res.json(), name).toMatchObject({ accepted: events.length })
    }
  })

  it('documents the rate limit headers, Retry-After, Idempotency-Key and Idempotent-Replayed where they are sent', () => {
    for (const [name, operation] of operations) {
      // Probes (health, the home page, this document) are never limited; every other route is.
      const probe = operation.tags?.includes('health') || name === 'GET /' || name === 'GET /openapi.json'
      expect(operation.responses['429'] === undefined, name).toBe(probe)
      for (const [status, response] of Object.entries(operation.responses)) {
        const headers = Object.keys(response.headers ?? {})
        expect(headers, `${name} ${status}`).toContain('x-request-id')
        if (probe) {
          expect(headers, `${name} ${status}`).not.toContain('ratelimit')
          continue
        }
        expect(headers, `${name} ${status}`).toEqual(
          expect.arrayContaining([
            'ratelimit',
            'ratelimit-policy',
            'x-ratelimit-limit',
            'x-ratelimit-remaining',
          ]),
        )
        if (status === '429') expect(headers, name).toContain('retry-after')
      }
    }
    const ingestRoute = document.paths['/v1/ingest/{source}']!.post!
    expect(Object.keys(ingestRoute.responses['201']!.headers ?? {})).toContain('idempotent-replayed')
    expect(ingestRoute.parameters).toEqual(
      expect.arrayContaining([expect.objectContaining({ in: 'header', name: 'idempotency-key' })]),
    )
    const productsList = document.paths['/v1/products']!.get!
    expect(Object.keys(productsList.responses['200']!.headers ?? {})).not.toContain('idempotent-replayed')
  })

  it('defines Money, Product, Order and the other shared shapes once, as components everyone references', () => {
    const { schemas } = document.components
    for (const name of SHARED) expect(schemas[name], name).toMatchObject({ title: name })
    const references = new Map<string, number>()
    for (const [path, node] of walk(document)) {
      if (typeof node.title === 'string' && SHARED.includes(node.title)) {
        // A shared shape appears in full only as its own component.
        expect(path).toBe(`/components/schemas/${node.title}`)
      }
      if (typeof node.$ref === 'string') {
        const name = node.$ref.replace('#/components/schemas/', '')
        references.set(name, (references.get(name) ?? 0) + 1)
      }
    }
    for (const name of SHARED) expect(references.get(name) ?? 0, name).toBeGreaterThan(0)
    for (const name of references.keys()) expect(schemas[name], name).toBeDefined()
    expect(schemas.Product).toMatchObject({ properties: { price: { $ref: '#/components/schemas/Price' } } })
    expect(schemas.NewProduct).toMatchObject({
      properties: { price: { $ref: '#/components/schemas/Price' } },
    })
    expect(schemas.OrderDetail).toMatchObject({
      properties: {
        total: { $ref: '#/components/schemas/Money' },
        lineItems: { items: { $ref: '#/components/schemas/LineItem' } },
      },
    })
    expect(schemas.Price).toMatchObject({ properties: { amount: { minimum: 0 } } })
  })
})

describe('components by title', () => {
  const money = { type: 'object', title: 'Money', properties: { amount: { type: 'integer' } } }

  it('references one schema wherever its title appears', () => {
    const components: Record<string, unknown> = {}
    const paths = hoistTitled({ a: { schema: money }, b: { items: [money] } }, components)
    const ref = { $ref: '#/components/schemas/Money' }
    expect(paths).toEqual({ a: { schema: ref }, b: { items: [ref] } })
    expect(components).toEqual({ Money: money })
  })

  it('refuses two different schemas under one title: a shape defined twice that drifted', () => {
    const drifted = { ...money, properties: { amount: { type: 'number' } } }
    expect(() => hoistTitled({ a: money, b: drifted }, {})).toThrow('Two different schemas are titled Money')
  })
})

describe('problem documents, whatever their route documents', () => {
  const expectProblemJson = (res: { headers: Record<string, unknown> }) =>
    expect(res.headers['content-type']).toBe(`${PROBLEM_CONTENT_TYPE}; charset=utf-8`)

  it('keeps detail and the errors extension of a validation failure', async () => {
    const res = await t.app.inject({
      method: 'POST',
      url: '/v1/products',
      headers: { authorization: `Bearer ${a.key}` },
      payload: { sku: 'X', name: 'X', price: { amount: '1', currency: 'EUR' } },
    })
    expectProblemJson(res)
    expect(res.json()).toEqual({
      type: '/problems/validation-failed',
      title: problemTypes['validation-failed'].title,
      status: 422,
      detail: 'price.amount must be a whole number',
      instance: '/v1/products',
      errors: [{ location: 'body', pointer: '/price/amount', message: 'must be a whole number' }],
    })
  })

  it('keeps them on a route whose schema declares its 422 itself', async () => {
    const res = await t.app.inject({
      method: 'POST',
      url: '/v1/admin/tenants',
      headers: { authorization: `Bearer ${ADMIN_TOKEN}` },
      payload: { name: 'X', colour: 'red' },
    })
    expectProblemJson(res)
    expect(res.json()).toEqual({
      type: '/problems/validation-failed',
      title: problemTypes['validation-failed'].title,
      status: 422,
      detail: 'colour is not a field of this object',
      instance: '/v1/admin/tenants',
      errors: [{ location: 'body', pointer: '/colour', message: 'is not a field of this object' }],
    })
  })

  it('keeps the extension of a problem a handler raises', async () => {
    const bad = {
      ...productUpserted('S'),
      data: { sku: 'S', name: 'x', price: { amount: -5, currency: 'EUR' } },
    }
    const res = await ingest(t.app, { key: a.key, events: [bad] })
    expectProblemJson(res)
    expect(res.json()).toEqual({
      type: '/problems/validation-failed',
      title: problemTypes['validation-failed'].title,
      status: 422,
      detail: 'events[0].data.price.amount must be 0 or more',
      instance: '/v1/ingest/pos',
      errors: [{ location: 'body', pointer: '/events/0/data/price/amount', message: 'must be 0 or more' }],
    })
  })
})
