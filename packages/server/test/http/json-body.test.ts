// Request bodies are JSON sent as it is: a body in any content coding but identity is refused with 415 before it
// is read, on every operation that takes a body (the signed ingest and provider webhook routes included), and
// nothing is stored; the same requests sent uncompressed are accepted.
import { randomUUID } from 'node:crypto'
import { brotliCompressSync, deflateSync, gzipSync } from 'node:zlib'
import { sql } from 'drizzle-orm'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { signPayload } from '../../src/modules/ingest/signature.js'
import { adminApi } from '../helpers/admin-api.js'
import { ADMIN_TOKEN, startTestApp, type TestApp } from '../helpers/app.js'
import { productUpserted } from '../helpers/ingest.js'
import type { OpenApiDocument } from '../helpers/openapi-document.js'
import {
  SHOPIFY_CONNECTOR,
  SQUARE_CONNECTOR,
  shopifySignature,
  squareSignature,
} from '../helpers/provider-webhooks.js'
import { openConnection } from '../helpers/raw-http.js'

const SIGNING_SECRET = 'json-body-signing-secret-0123456789'
/** Codings a client may apply, as it may spell them; each is refused. */
const CODINGS: readonly [string, (body: Buffer) => Buffer][] = [
  ['gzip', gzipSync],
  ['deflate', deflateSync],
  ['br', brotliCompressSync],
  ['GZIP', gzipSync],
  ['identity, gzip', gzipSync],
  ['zstd', (body) => body],
]

let t: TestApp
const api = adminApi(() => t)
let tenantId: string
let key: string
const sources = { signed: '', square: '', shopify: '' }

beforeAll(async () => {
  t = await startTestApp({
    env: {
      // Nothing changes the tables on its own schedule while a request is checked.
      WEBHOOK_DISPATCHER_ENABLED: 'false',
      RECONCILE_INTERVAL_MINUTES: '0',
      CONNECTOR_POLL_INTERVAL_MS: '60000',
    },
  })
  tenantId = await api.createTenant('json-body')
  key = (await api.createKey(tenantId)).key
  sources.signed = await api.createSource(tenantId, {
    name: 'signed',
    kind: 'custom',
    signingSecret: SIGNING_SECRET,
  })
  sources.square = await api.createSource(tenantId, {
    name: 'square',
    kind: 'square',
    connector: SQUARE_CONNECTOR,
  })
  sources.shopify = await api.createSource(tenantId, {
    name: 'shopify',
    kind: 'shopify',
    connector: SHOPIFY_CONNECTOR,
  })
})
afterAll(() => t.close())

/** Every table's rows, as one checksum per table. */
async function tableChecksums(): Promise<Record<string, string>> {
  const { rows: tables } = await t.platform.database.db.execute(
    sql`SELECT table_name FROM information_schema.tables
        WHERE table_schema = 'public' AND table_type = 'BASE TABLE' AND left(table_name, 2) <> '__'`,
  )
  const checksums: Record<string, string> = {}
  for (const { table_name } of tables as { table_name: string }[]) {
    const { rows } = await t.platform.database.db.execute(
      sql`SELECT count(*) || ':' || coalesce(md5(string_agg(r::text, ',' ORDER BY r::text)), '') AS v
          FROM ${sql.identifier(table_name)} r`,
    )
    checksums[table_name] = (rows[0] as { v: string }).v
  }
  expect(Object.keys(checksums).length).toBeGreaterThan(15)
  return checksums
}

/** Headers that authenticate a request to `path` and, for the signed routes, sign `body` as sent. */
function credentials(path: string, security: unknown[] | undefined, body: Buffer): Record<string, string> {
  if (path.startsWith('/v1/ingest/signed'))
    return {
      authorization: `Bearer ${key}`,
      'x-signature': signPayload(SIGNING_SECRET, Math.floor(Date.now() / 1000), body),
    }
  if (path.startsWith('/v1/webhooks/square/'))
    return { 'x-square-hmacsha256-signature': squareSignature(body) }
  if (path.startsWith('/v1/webhooks/shopify/')) {
    return {
      'x-shopify-hmac-sha256': shopifySignature(body),
      'x-shopify-shop-domain': SHOPIFY_CONNECTOR.shopDomain,
      'x-shopify-topic': 'products/update',
      'x-shopify-event-id': randomUUID(),
    }
  }
  const schemes = (security ?? []).flatMap((scheme) => Object.keys(scheme as object))
  if (schemes.includes('apiKey')) return { authorization: `Bearer ${key}` }
  if (schemes.includes('adminToken')) return { authorization: `Bearer ${ADMIN_TOKEN}` }
  return {}
}

/** A path of the document with its parameters filled: the fixtures where the route needs one, else fresh ids. */
function concretePath(template: string): string {
  if (template === '/v1/ingest/{source}') return '/v1/ingest/signed'
  const sourceId = template.startsWith('/v1/webhooks/square/')
    ? sources.square
    : template.startsWith('/v1/webhooks/shopify/')
      ? sources.shopify
      : sources.signed
  return template.replace(/\{([A-Za-z]+)\}/g, (_, name: string) =>
    name === 'tenantId' ? tenantId : name === 'sourceId' ? sourceId : randomUUID(),
  )
}

/** A body the operation would accept: its first example, or an empty object. */
function exampleBody(operation: OpenApiDocument['paths'][string][string]): Buffer {
  const media = operation.requestBody?.content['application/json']
  const example = Object.values(media?.examples ?? {})[0]?.value ?? {}
  return Buffer.from(JSON.stringify(example))
}

describe('a compressed request body', () => {
  it('is refused with 415 on every operation that takes a body, signed or not, and nothing is stored', async () => {
    const document = (await t.app.inject('/openapi.json')).json() as OpenApiDocument
    const before = await tableChecksums()
    const refused: string[] = []
    for (const [template, methods] of Object.entries(document.paths)) {
      for (const [method, operation] of Object.entries(methods)) {
        if (operation.requestBody === undefined) continue
        const [coding, encode] = CODINGS[refused.length % CODINGS.length]!
        const path = concretePath(template)
        const body = encode(exampleBody(operation))
        const res = await t.app.inject({
          method: method.toUpperCase() as 'POST',
          url: path,
          headers: {
            ...credentials(path, operation.security, body),
            'content-type': 'application/json',
            'content-encoding': coding,
            'idempotency-key': randomUUID(),
          },
          payload: body,
        })
        const at = `${method.toUpperCase()} ${template} with Content-Encoding: ${coding}`
        expect(res.statusCode, `${at}: ${res.body}`).toBe(415)
        expect(res.headers['content-type'], at).toBe('application/problem+json; charset=utf-8')
        expect(res.headers['accept-encoding'], at).toBe('identity')
        expect(res.json(), at).toMatchObject({ type: '/problems/unsupported-media-type', status: 415 })
        refused.push(`${method.toUpperCase()} ${template}`)
      }
    }
    // The signed routes, with a signature over the bytes as sent, and every admin and API-key route with a body.
    expect(refused).toEqual(
      expect.arrayContaining([
        'POST /v1/ingest/{source}',
        'POST /v1/webhooks/square/{sourceId}',
        'POST /v1/webhooks/shopify/{sourceId}',
        'POST /v1/admin/tenants',
      ]),
    )
    expect(refused.length).toBeGreaterThan(15)
    expect(await tableChecksums()).toEqual(before)
  })

  it('is refused before it is read: the 415 comes while the announced body has not been sent', async () => {
    const url = await t.app.listen({ port: 0, host: '127.0.0.1' })
    const connection = await openConnection(url)
    try {
      connection.write(
        `POST /v1/ingest/pos HTTP/1.1\r\nHost: test\r\nAuthorization: Bearer ${key}\r\n` +
          `Content-Type: application/json\r\nContent-Encoding: gzip\r\nIdempotency-Key: ${randomUUID()}\r\n` +
          'Content-Length: 500000\r\n\r\n',
      )
      const response = await connection.response()
      expect(response.status).toBe(415)
      expect(JSON.parse(response.body)).toMatchObject({ type: '/problems/unsupported-media-type' })
    } finally {
      connection.socket.destroy()
    }
  })
})

describe('an uncompressed request body', () => {
  /** Counts what the signed routes store: the source's events and the providers' inbox rows. */
  async function stored(): Promise<{ events: number; inbox: number }> {
    const { rows } = await t.platform.database.db.execute(
      sql`SELECT (SELECT count(*)::int FROM events WHERE source_id = ${sources.signed}) AS events,
                 (SELECT count(*)::int FROM connector_inbox) AS inbox`,
    )
    return rows[0] as { events: number; inbox: number }
  }

  /** A signed ingest batch and a signed webhook of each provider, with `coding` or no Content-Encoding. */
  async function signedRequests(coding: string | undefined): Promise<number[]> {
    const withCoding = coding === undefined ? {} : { 'content-encoding': coding }
    const requests: [string, Buffer][] = [
      ['/v1/ingest/signed', Buffer.from(JSON.stringify({ events: [productUpserted(randomUUID())] }))],
      [`/v1/webhooks/shopify/${sources.shopify}`, Buffer.from(JSON.stringify({ id: 1 }))],
      [
        `/v1/webhooks/square/${sources.square}`,
        Buffer.from(JSON.stringify({ event_id: randomUUID(), type: 'catalog.version.updated' })),
      ],
    ]
    const statuses: number[] = []
    for (const [url, body] of requests) {
      const res = await t.app.inject({
        method: 'POST',
        url,
        headers: {
          ...credentials(url, undefined, body),
          ...withCoding,
          'content-type': 'application/json',
          'idempotency-key': randomUUID(),
        },
        payload: body,
      })
      statuses.push(res.statusCode)
    }
    return statuses
  }

  it('is accepted on the signed routes, without a Content-Encoding or with identity', async () => {
    const before = await stored()
    expect(await signedRequests(undefined)).toEqual([201, 200, 200])
    expect(await signedRequests('identity')).toEqual([201, 200, 200])
    expect(await stored()).toEqual({ events: before.events + 2, inbox: before.inbox + 4 })
  })
})
