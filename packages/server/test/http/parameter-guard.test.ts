// Every path and query parameter of every route in the OpenAPI document, sent with text PostgreSQL cannot
// store or compare, or too long, is refused with 400 invalid-parameters before anything reaches SQL. The
// routes are read from the document the app serves, so a route added later is covered without a change here.
import { connect } from 'node:net'
import { sql } from 'drizzle-orm'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { MAX_PARAMETER_LENGTH, parameterTextIssue } from '../../src/http/validation.js'
import { ADMIN_TOKEN, startTestApp, type TestApp } from '../helpers/app.js'
import { createTenant, type TenantFixture } from '../helpers/tenants.js'

interface OpenApiParameter {
  readonly in: string
  readonly name: string
}

interface OpenApiOperation {
  readonly parameters?: readonly OpenApiParameter[]
  readonly security?: readonly Record<string, unknown>[]
  readonly requestBody?: unknown
}

interface OpenApiDocument {
  readonly paths: Record<string, Record<string, OpenApiOperation>>
}

/** One request: a route of the document, one of its parameters, and the refused text in its place. */
interface Case {
  readonly method: string
  readonly path: string
  readonly parameter: { readonly in: 'path' | 'query'; readonly name: string }
  readonly value: { readonly label: string; readonly encoded: string; readonly decodes: boolean }
  readonly operation: OpenApiOperation
}

// As they appear in the URL. `decodes` says the router and the query parser turn them into text, so the
// refusal names the parameter; the others are not UTF-8 at all and are refused as a whole.
const REFUSED_VALUES = [
  { label: 'NUL', encoded: '%00', decodes: true },
  { label: 'NUL inside text', encoded: 'SKU%00-1', decodes: true },
  { label: 'an encoded high surrogate', encoded: '%ED%A0%80', decodes: false },
  { label: 'an encoded low surrogate', encoded: 'a%ED%B0%80', decodes: false },
  { label: 'a byte that is not UTF-8', encoded: '%FF', decodes: false },
  { label: 'a %u escape of a surrogate', encoded: '%uD800', decodes: false },
  { label: 'a 10 kB value', encoded: 'a'.repeat(10 * 1024), decodes: true },
] as const

// Any name will do for a parameter no route declares: the guard does not depend on a route's schema.
const UNDECLARED = 'unlisted'

describe('the parameter guard', () => {
  let t: TestApp
  let tenant: TenantFixture

  beforeAll(async () => {
    t = await startTestApp()
    tenant = await createTenant(t.platform.database.db)
  })
  afterAll(() => t.close())

  /** Every row of every table, as text: equal before and after means nothing was written. */
  async function databaseContents(): Promise<string> {
    const { db } = t.platform.database
    const tables = await db.execute<{ name: string }>(
      sql`SELECT table_name AS name FROM information_schema.tables
          WHERE table_schema = 'public' AND table_type = 'BASE TABLE' ORDER BY table_name`,
    )
    const contents: string[] = []
    for (const { name } of tables.rows) {
      const rows = await db.execute<{ row: string }>(
        sql`SELECT t::text AS row FROM ${sql.identifier(name)} t ORDER BY 1`,
      )
      contents.push(name, ...rows.rows.map((r) => r.row))
    }
    return contents.join('\n')
  }

  function casesOf(document: OpenApiDocument): Case[] {
    const cases: Case[] = []
    for (const [path, operations] of Object.entries(document.paths)) {
      for (const [method, operation] of Object.entries(operations)) {
        const parameters = (operation.parameters ?? []).filter(
          (p): p is OpenApiParameter & { in: 'path' | 'query' } => p.in === 'path' || p.in === 'query',
        )
        for (const parameter of [...parameters, { in: 'query' as const, name: UNDECLARED }]) {
          for (const value of REFUSED_VALUES) cases.push({ method, path, parameter, value, operation })
        }
      }
    }
    return cases
  }

  function credentialOf(operation: OpenApiOperation): Record<string, string> {
    const schemes = (operation.security ?? []).flatMap((requirement) => Object.keys(requirement))
    if (schemes.includes('adminToken')) return { authorization: `Bearer ${ADMIN_TOKEN}` }
    if (schemes.includes('apiKey')) return { authorization: `Bearer ${tenant.key}` }
    return {}
  }

  // The other path parameters get a real id, so the request differs from one that would reach a row only in
  // the parameter under test.
  function urlOf({ path, parameter, value }: Case): string {
    const filled = path.replace(/\{([^}]+)\}/g, (_, name: string) =>
      parameter.in === 'path' && name === parameter.name ? value.encoded : tenant.tenantId,
    )
    return parameter.in === 'query' ? `${filled}?${parameter.name}=${value.encoded}` : filled
  }

  it('refuses NUL, surrogates, non-UTF-8 and 10 kB values in every parameter of every route', async () => {
    const document = (await t.app.inject('/openapi.json')).json<OpenApiDocument>()
    const cases = casesOf(document)
    // The document must yield the routes it is known to have, or this test would pass on nothing.
    const covered = new Set(cases.map((c) => `${c.method} ${c.path} ${c.parameter.in}:${c.parameter.name}`))
    for (const known of [
      'get /v1/orders/{orderId} path:orderId',
      'get /v1/products/{sku} path:sku',
      'get /v1/orders query:storeId',
      'get /v1/products query:barcode',
      'get /v1/admin/tenants/{tenantId} path:tenantId',
      'post /v1/ingest/{source} path:source',
      'get /livez query:unlisted',
    ]) {
      expect(covered).toContain(known)
    }
    const before = await databaseContents()
    const logged = t.logs.lines.length

    const failures: string[] = []
    for (const c of cases) {
      const res = await t.app.inject({
        method: c.method.toUpperCase() as 'GET',
        url: urlOf(c),
        headers: {
          ...credentialOf(c.operation),
          'idempotency-key': 'parameter-guard',
          ...(c.operation.requestBody ? { 'content-type': 'application/json' } : {}),
        },
        ...(c.operation.requestBody ? { payload: '{}' } : {}),
      })
      const body = res.headers['content-type']?.toString().startsWith('application/problem+json')
        ? res.json<{ type?: string; errors?: { location: string; pointer: string }[] }>()
        : undefined
      const location = c.parameter.in === 'path' ? 'params' : 'querystring'
      const named = !c.value.decodes || body?.errors?.[0]?.pointer === `/${c.parameter.name}`
      if (
        res.statusCode !== 400 ||
        body?.type !== '/problems/invalid-parameters' ||
        body.errors?.[0]?.location !== location ||
        !named
      ) {
        const summary = `${res.statusCode} ${res.headers['content-type']} ${res.body.slice(0, 200)}`
        failures.push(
          `${c.method} ${c.path} ${c.parameter.in}:${c.parameter.name} ${c.value.label}: ${summary}`,
        )
      }
    }
    expect(failures).toEqual([])

    expect(await databaseContents()).toBe(before)
    const errors = t.logs.lines.slice(logged).filter((line) => Number(line.level) >= 50)
    expect(errors).toEqual([])
  })

  it('lets a parameter of the longest length and any well-formed text through to the route', async () => {
    const auth = { authorization: `Bearer ${tenant.key}` }
    for (const sku of ['b'.repeat(MAX_PARAMETER_LENGTH), '%F0%9F%98%80', 'caf%C3%A9']) {
      const res = await t.app.inject({ url: `/v1/products/${sku}`, headers: auth })
      expect(res.json()).toMatchObject({ type: '/problems/not-found' })
      const listed = await t.app.inject({ url: `/v1/products?sku=${sku}`, headers: auth })
      expect(listed.statusCode).toBe(200)
    }
    const long = await t.app.inject({
      url: `/v1/products/${'b'.repeat(MAX_PARAMETER_LENGTH + 1)}`,
      headers: auth,
    })
    expect(long.json()).toMatchObject({
      type: '/problems/invalid-parameters',
      errors: [{ location: 'params', pointer: '/sku' }],
    })
  })

  it('answers a router refusal as a problem with the request id', async () => {
    const res = await t.app.inject({
      url: '/v1/orders/%FF',
      headers: { authorization: `Bearer ${tenant.key}` },
    })
    expect(res.statusCode).toBe(400)
    expect(res.headers['content-type']).toBe('application/problem+json; charset=utf-8')
    expect(res.headers['x-request-id']).toEqual(expect.any(String))
    // The path is not quoted back in the detail.
    expect(res.json()).toMatchObject({
      type: '/problems/invalid-parameters',
      detail: 'params is not valid percent-encoded UTF-8',
      instance: '/v1/orders/%FF',
    })
  })

  /** What the server answers to raw bytes on a fresh connection: the status line and the body. */
  async function exchange(port: number, request: Buffer): Promise<{ statusLine: string; body: string }> {
    const socket = connect(port, '127.0.0.1')
    socket.end(request)
    const chunks: Buffer[] = []
    for await (const chunk of socket) chunks.push(chunk as Buffer)
    const [head = '', body = ''] = Buffer.concat(chunks).toString('latin1').split('\r\n\r\n')
    expect(head).toMatch(/\r\ncontent-type: application\/problem\+json/i)
    return { statusLine: head.split('\r\n')[0]!, body }
  }

  it('answers over HTTP: a 10 kB parameter with 400, a head over the parser limit and raw bad bytes as problems', async () => {
    await t.app.listen({ port: 0, host: '127.0.0.1' })
    const { port } = t.app.server.address() as { port: number }
    const auth = `Authorization: Bearer ${tenant.key}\r\n`
    const get = (target: string) =>
      Buffer.from(`GET ${target} HTTP/1.1\r\nHost: x\r\n${auth}Connection: close\r\n\r\n`, 'latin1')

    const tenKb = await exchange(port, get(`/v1/orders?storeId=${'a'.repeat(10 * 1024)}`))
    expect(tenKb.statusLine).toBe('HTTP/1.1 400 Bad Request')
    expect(JSON.parse(tenKb.body)).toMatchObject({ type: '/problems/invalid-parameters' })

    const overHead = await exchange(port, get(`/v1/orders/${'a'.repeat(20 * 1024)}`))
    expect(overHead.statusLine).toMatch(/^HTTP\/1.1 431 /)
    expect(JSON.parse(overHead.body)).toMatchObject({ type: '/problems/headers-too-large', status: 431 })

    for (const target of [
      '/v1/orders/a\u0000b',
      '/v1/orders/\u00ff',
      '/v1/orders?storeId=\u00ed\u00a0\u0080',
    ]) {
      const raw = await exchange(port, get(target))
      expect(raw.statusLine).toBe('HTTP/1.1 400 Bad Request')
      expect(JSON.parse(raw.body)).toMatchObject({ type: '/problems/bad-request', status: 400 })
    }
  })

  // No URL can carry an unpaired surrogate: encoders turn one into U+FFFD and its UTF-8 bytes (%ED%A0%80)
  // are refused above. The rule still holds for text that arrives some other way.
  it('refuses an unpaired surrogate and accepts a surrogate pair', () => {
    for (const text of ['\uD800', 'a\uDC00', '\uDC00\uD800', 'x\uD83D']) {
      expect(parameterTextIssue(text)).toMatch(/unpaired UTF-16 surrogate/)
    }
    expect(parameterTextIssue('\uD83D\uDE00')).toBeUndefined()
    expect(parameterTextIssue('a\u0000')).toMatch(/U\+0000/)
  })
})
