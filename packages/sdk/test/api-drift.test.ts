// The SDK's request and response types are the contracts' schemas (Static<typeof X>); this holds the server
// to the same schemas: for every route the SDK calls, the OpenAPI document a running server serves describes
// exactly the contract the SDK's type comes from. A route that changed its schema without the contract, or the
// other way round, fails here.
import {
  DeviceConfig,
  FeedPage,
  IngestAccepted,
  IngestBody,
  Order,
  OrderDetail,
  OrderListQuery,
  Page,
  PageQuery,
  Product,
  ProductListQuery,
  StockLevel,
  StockLevelQuery,
} from '@pos/contracts'
import type { TSchema } from 'typebox'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { type DeviceServer, startDeviceServer } from './helpers/server.js'

interface Parameter {
  in: string
  name: string
  required: boolean
  description?: string
  schema: Record<string, unknown>
}
interface Operation {
  parameters?: Parameter[]
  requestBody?: { content: Record<string, { schema: unknown }> }
  responses: Record<string, { content?: Record<string, { schema: unknown }> }>
}
interface Document {
  paths: Record<string, Record<string, Operation>>
  components: { schemas: Record<string, unknown> }
}

/** The schema as plain JSON (TypeBox's symbols dropped), $refs resolved, titles left out. */
function plain(schema: unknown, components: Record<string, unknown> = {}): unknown {
  if (Array.isArray(schema)) return schema.map((s) => plain(s, components))
  if (schema === null || typeof schema !== 'object') return schema
  const ref = (schema as { $ref?: string }).$ref
  if (ref !== undefined) return plain(components[ref.replace('#/components/schemas/', '')], components)
  return Object.fromEntries(
    Object.entries(schema)
      .filter(([key]) => key !== 'title')
      .map(([key, value]) => [key, plain(value, components)]),
  )
}

/** The query parameters of an operation, as the object schema they were made from. */
function queryOf(operation: Operation): unknown {
  const params = (operation.parameters ?? []).filter((p) => p.in === 'query')
  return {
    type: 'object',
    properties: Object.fromEntries(
      params.map((p) => [p.name, { ...p.schema, ...(p.description ? { description: p.description } : {}) }]),
    ),
    required: params.filter((p) => p.required).map((p) => p.name),
  }
}

const SDK_OPERATIONS: {
  path: string
  method: string
  status: string
  response: TSchema
  query?: TSchema
  body?: TSchema
}[] = [
  { path: '/v1/ingest/{source}', method: 'post', status: '201', response: IngestAccepted, body: IngestBody },
  { path: '/v1/products', method: 'get', status: '200', response: Page(Product), query: ProductListQuery },
  { path: '/v1/products/{sku}', method: 'get', status: '200', response: Product },
  { path: '/v1/inventory', method: 'get', status: '200', response: Page(StockLevel), query: StockLevelQuery },
  { path: '/v1/orders', method: 'get', status: '200', response: Page(Order), query: OrderListQuery },
  { path: '/v1/orders/{orderId}', method: 'get', status: '200', response: OrderDetail },
  { path: '/v1/events', method: 'get', status: '200', response: FeedPage, query: PageQuery },
  // The remote configuration the client polls and obeys (RemoteConfig is this contract).
  { path: '/v1/config', method: 'get', status: '200', response: DeviceConfig },
]

describe("the server's OpenAPI document and the SDK's types", () => {
  let server: DeviceServer
  let document: Document
  beforeAll(async () => {
    server = await startDeviceServer()
    document = (await (await fetch(`${server.url}/openapi.json`)).json()) as Document
  })
  afterAll(async () => {
    await server?.close()
  })

  for (const op of SDK_OPERATIONS) {
    it(`${op.method.toUpperCase()} ${op.path} is described by the contracts the SDK is typed with`, () => {
      const operation = document.paths[op.path]?.[op.method]
      expect(operation, `${op.method} ${op.path} in the document`).toBeDefined()
      const components = document.components.schemas
      const response = operation!.responses[op.status]?.content?.['application/json']?.schema
      expect(plain(response, components)).toEqual(plain(op.response))
      if (op.body !== undefined) {
        const body = operation!.requestBody?.content['application/json']?.schema
        expect(plain(body, components)).toEqual(plain(op.body))
      }
      if (op.query !== undefined) {
        const expected = plain(op.query) as { properties: object; required?: string[] }
        const actual = queryOf(operation!) as { properties: object; required: string[] }
        expect(actual.properties).toEqual(expected.properties)
        expect([...actual.required].sort()).toEqual([...(expected.required ?? [])].sort())
      }
    })
  }
})
