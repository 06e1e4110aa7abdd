// Bad input at scale: every route of the OpenAPI document (and the docs and dashboard pages beside it) driven
// over real HTTP, on PostgreSQL and Redis, with inputs generated from the document's schemas and examples and
// then mutated, from a seed. Credentials are valid most of the time, so the fuzz gets past authentication to
// the validation and the handlers. Every answer must be a 2xx (or a documented 3xx) or a 4xx problem document:
// never a 5xx, a dropped or a hung connection, and the server lets go of each connection once the client has.
// A body in a content coding (gzip bombs among them) is never inflated: it is refused with 415, unread.
// A refused request stores nothing: every table's rows, per tenant, are checksummed around it; and an accepted
// one made with a tenant's API key changes no other tenant's rows.
//
// Cases are the same for the same seed; the ids in them (fixtures, idempotency keys, event ids) are fresh on
// every run.
// FUZZ_SEED=<n> replays a run (the seed is printed); FUZZ_CASES=<n> runs more (npm test runs 3000).
import { createHash, randomUUID } from 'node:crypto'
import type { AddressInfo } from 'node:net'
import pg from 'pg'
import { afterAll, beforeAll, expect, it } from 'vitest'
import { signPayload } from '../../src/modules/ingest/signature.js'
import { problemTypes } from '../../src/platform/problems.js'
import { ADMIN_TOKEN, startTestApp, type TestApp } from '../helpers/app.js'
import type { OpenApiDocument, Operation } from '../helpers/openapi-document.js'
import {
  SHOPIFY_CONNECTOR,
  SQUARE_CONNECTOR,
  shopifySignature,
  squareSignature,
} from '../helpers/provider-webhooks.js'
import { waitFor } from '../helpers/wait.js'
import { exchange, type Outcome } from './exchange.js'
import {
  fromSchema,
  gzipBomb,
  mutate,
  oddBody,
  oddPathValue,
  oddQuery,
  Random,
  toJson,
  type WireRequest,
  wireBytes,
} from './generator.js'

const SEED = process.env.FUZZ_SEED === undefined ? 12 : Number(process.env.FUZZ_SEED)
const CASES = Number(process.env.FUZZ_CASES ?? 3000)
const BODY_LIMIT = 256 * 1024
const SIGNING_SECRET = 'fuzz-signing-secret-0123456789'
/**
 * Tables the background workers change on their own schedule (an accepted reconcile or provider webhook is
 * worked on later): only their row counts are compared.
 */
const WORKER_TABLES = new Set([
  'reconciliation_runs',
  'connector_inbox',
  'connector_state',
  'webhook_deliveries',
  'webhook_attempts',
  'webhook_cursors',
])

interface Tenant {
  id: string
  key: string
  readKey: string
  sources: { pos: string; signed: string; square: string; shopify: string }
  endpoints: string[]
}

let t: TestApp
let port: number
let database: pg.Client
let document: OpenApiDocument
let a: Tenant
let b: Tenant
/** The tenant whose configuration the destructive cases may change: deleting it, rotating its secrets. */
let victim: Tenant
let session: { cookie: string; csrf: string }

/**
 * A request the fixtures need, which must succeed. Over a connection of its own that is closed after it, like
 * every case's: a connection fetch kept alive would hide one a case leaves open.
 */
async function call(method: string, path: string, body?: unknown, auth = `Bearer ${ADMIN_TOKEN}`) {
  const headers: [string, string][] = [['Authorization', auth]]
  if (body !== undefined)
    headers.push(['Content-Type', 'application/json'], ['Idempotency-Key', randomUUID()])
  const request: WireRequest = {
    method,
    path,
    headers,
    framing: 'normal',
    ...(body === undefined ? {} : { body: Buffer.from(JSON.stringify(body)) }),
  }
  const outcome = await exchange(port, wireBytes(request), { timeoutMs: 30_000 })
  if (outcome.kind !== 'answer' || outcome.status >= 300) {
    throw new Error(`${method} ${path}: ${JSON.stringify(outcome)}`)
  }
  const json = (outcome.body === '' ? {} : JSON.parse(outcome.body)) as Record<string, unknown>
  return { json, headers: outcome.headers }
}

async function createFixtureTenant(name: string): Promise<Tenant> {
  const id = (await call('POST', '/v1/admin/tenants', { name })).json.id as string
  const key = (await call('POST', `/v1/admin/tenants/${id}/api-keys`, { name: 'all' })).json.key as string
  const readKey = (await call('POST', `/v1/admin/tenants/${id}/api-keys`, { name: 'read', scopes: ['read'] }))
    .json.key as string
  const source = async (body: object) =>
    (await call('POST', `/v1/admin/tenants/${id}/sources`, body)).json.id as string
  const sources = {
    pos: await source({ name: 'pos', kind: 'sdk' }),
    signed: await source({ name: 'signed', kind: 'custom', signingSecret: SIGNING_SECRET }),
    square: await source({ name: 'square', kind: 'square', connector: SQUARE_CONNECTOR }),
    shopify: await source({ name: 'shopify', kind: 'shopify', connector: SHOPIFY_CONNECTOR }),
  }
  const endpoints: string[] = []
  for (const n of [1, 2, 3]) {
    endpoints.push(
      (await call('POST', '/v1/webhook-endpoints', { url: `http://127.0.0.1:9/hook-${n}` }, `Bearer ${key}`))
        .json.id as string,
    )
  }
  // An order and a product the reads and lookups can find.
  await call(
    'POST',
    '/v1/ingest/pos',
    { events: [orderCreated('order-1'), productUpserted('SKU-1')] },
    `Bearer ${key}`,
  )
  return { id, key, readKey, sources, endpoints }
}

function orderCreated(orderId: string) {
  const money = { amount: 300, currency: 'EUR' }
  return {
    id: randomUUID(),
    type: 'order.created',
    occurredAt: '2026-11-01T10:00:00.000Z',
    data: {
      orderId,
      storeId: 'store-1',
      currency: 'EUR',
      lineItems: [{ sku: 'SKU-1', quantity: 1, unitPrice: money }],
      total: money,
    },
  }
}
function productUpserted(sku: string) {
  return {
    id: randomUUID(),
    type: 'product.upserted',
    occurredAt: '2026-11-01T10:00:00.000Z',
    data: { sku, name: sku, price: { amount: 350, currency: 'EUR' } },
  }
}

beforeAll(async () => {
  t = await startTestApp({
    redis: true,
    env: {
      BODY_LIMIT_BYTES: String(BODY_LIMIT),
      // A body declared longer than sent is answered 408 after this long.
      REQUEST_TIMEOUT_MS: '3000',
      RATE_LIMIT_MAX: '10000000',
      RATE_LIMIT_ANONYMOUS_MAX: '10000000',
      CONNECTOR_WEBHOOK_RATE_LIMIT_MAX: '10000000',
      // No background work changes the tables while a case is checked: no deliveries, no reconciliation.
      WEBHOOK_DISPATCHER_ENABLED: 'false',
      // Endpoints on this machine, which nothing delivers to (the dispatcher is off).
      WEBHOOK_ALLOW_HTTP: 'true',
      WEBHOOK_ALLOW_PRIVATE_TARGETS: 'true',
      RECONCILE_INTERVAL_MINUTES: '0',
      CONNECTOR_POLL_INTERVAL_MS: '60000',
      LOG_LEVEL: 'warn',
    },
  })
  await t.app.listen({ port: 0, host: '127.0.0.1' })
  port = (t.app.server.address() as AddressInfo).port
  database = new pg.Client({ connectionString: t.database.url })
  await database.connect()
  document = (await call('GET', '/openapi.json')).json as unknown as OpenApiDocument
  a = await createFixtureTenant('fuzz-a')
  b = await createFixtureTenant('fuzz-b')
  victim = await createFixtureTenant('fuzz-victim')
  session = await signIn()
}, 120_000)

afterAll(async () => {
  await database?.end()
  await t?.close()
})

async function signIn() {
  const res = await call('POST', '/v1/admin/session', { token: ADMIN_TOKEN }, '')
  const cookie = (res.headers['set-cookie'] ?? '').split(';')[0]!
  return { cookie, csrf: res.json.csrfToken as string }
}

let snapshotSql: string | undefined

/** One statement that answers, per table and tenant, the row count and a checksum of the rows. */
async function snapshotStatement(): Promise<string> {
  const { rows: columns } = await database.query<{ table_name: string; column_name: string }>(
    `SELECT table_name, column_name FROM information_schema.columns
     WHERE table_schema = 'public' ORDER BY table_name, ordinal_position`,
  )
  const tables = new Map<string, string[]>()
  for (const { table_name, column_name } of columns) {
    if (table_name.startsWith('__')) continue
    tables.set(table_name, [...(tables.get(table_name) ?? []), column_name])
  }
  expect(tables.size).toBeGreaterThan(15)
  return [...tables]
    .map(([table, names]) => {
      const row = WORKER_TABLES.has(table) ? `''` : `row(${names.map((n) => `"${n}"`).join(',')})::text`
      const tenant = names.includes('tenant_id') ? 'tenant_id::text' : `''`
      return `SELECT '${table}' || ':' || coalesce(${tenant}, '-') AS k, count(*) || ':' || md5(string_agg(${row}, ',' ORDER BY ${row})) AS v FROM "${table}" GROUP BY 1`
    })
    .join(' UNION ALL ')
}

/** Per table and tenant: the row count and a checksum of the rows. */
async function snapshot(): Promise<Map<string, string>> {
  snapshotSql ??= await snapshotStatement()
  const { rows } = await database.query<{ k: string; v: string }>(snapshotSql)
  return new Map(rows.map((r) => [r.k, r.v]))
}

function differences(before: Map<string, string>, after: Map<string, string>): string[] {
  const keys = new Set([...before.keys(), ...after.keys()])
  return [...keys]
    .filter((k) => before.get(k) !== after.get(k))
    .map((k) => `${k} ${before.get(k) ?? 'none'} -> ${after.get(k) ?? 'none'}`)
}

interface FuzzCase {
  index: number
  operation: string
  request: WireRequest
  /** The body as JSON text or a description, for the report. */
  note: string
  /** Whether the route authenticates by API key, so an accepted request acts for the key's tenant. */
  byApiKey?: boolean
}

const EXTRA_PAGES = [
  '/docs',
  '/docs/',
  '/docs/json',
  '/docs/yaml',
  '/docs/static/index.html',
  '/docs/static/%2e%2e/%2e%2e/package.json',
  '/dashboard',
  '/dashboard/',
  '/dashboard/index.html',
  '/dashboard/assets/../../../package.json',
  '/dashboard/%00',
  '/dashboard/x'.padEnd(5000, 'y'),
]
const ODD_HEADERS: [string, string][][] = [
  [
    ['Connection', 'Upgrade'],
    ['Upgrade', 'websocket'],
  ],
  [
    ['Connection', 'Upgrade, HTTP2-Settings'],
    ['Upgrade', 'h2c'],
    ['HTTP2-Settings', 'AAMAAABkAARAAAAAAAIAAAAA'],
  ],
  [['Expect', '100-continue']],
  [['Expect', 'something-else']],
  [['Transfer-Encoding', 'gzip']],
  [['Host', 'evil.example.com']],
  [
    ['Authorization', `Bearer ${ADMIN_TOKEN}`],
    ['Authorization', 'Bearer second'],
  ],
  Array.from({ length: 3000 }, (_, i): [string, string] => [`X-Many-${i}`, 'y']),
]
const METHODS = ['GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE', 'OPTIONS', 'TRACE', 'PROPFIND', 'CONNECT']
const CONTENT_TYPES = [
  'text/plain',
  'application/x-www-form-urlencoded',
  'multipart/form-data; boundary=x',
  'application/json; charset=latin1',
  'application/json; charset=utf-16',
  'application/jsonx',
  'application/merge-patch+json',
  '*/*',
  '',
  'application/json, text/plain',
  'APPLICATION/JSON',
  'application/json;;',
  'application/json; boundary',
]

/** The value of a path parameter: mostly a real id, sometimes another tenant's, sometimes an odd one. */
function pathValue(name: string, tenant: Tenant, random: Random): string {
  if (random.chance(0.15)) return oddPathValue(random)
  switch (name) {
    case 'tenantId':
      return tenant.id
    case 'sourceId':
      return random.pick(Object.values(tenant.sources))
    case 'endpointId':
      return random.pick(tenant.endpoints)
    case 'keyId':
      return randomUUID()
    case 'orderId':
      return random.pick(['order-1', 'order-2', randomUUID()])
    case 'sku':
      return random.pick(['SKU-1', 'SKU-2', 'sku with spaces', 'SKU%2F1'])
    case 'source':
      return random.pick(['pos', 'signed', 'square', 'api', 'nope'])
    case 'type':
      return random.pick([...Object.keys(problemTypes), 'nope'])
    default:
      return randomUUID()
  }
}

/** Admin cases that would take the fixtures away (delete, revoke, rotate, limit) act on the victim tenant. */
function destructive(method: string, path: string): boolean {
  if (!path.startsWith('/v1/admin/')) return false
  return (
    method === 'DELETE' ||
    method === 'PUT' ||
    /rotate-secret|retire-previous-secret|revoke|connector$/.test(path)
  )
}

function credentials(operation: Operation, tenant: Tenant, random: Random): [string, string][] {
  const schemes = (operation.security ?? []).flatMap((s) => Object.keys(s as object))
  const roll = random.next()
  if (schemes.length === 0 || roll > 0.9) {
    return random.pick<[string, string][]>([
      [],
      [['Authorization', 'Bearer ']],
      [['Authorization', `Bearer ${'p'.repeat(5000)}`]],
      [['Authorization', 'Basic YWRtaW46YWRtaW4=']],
      [['Authorization', `Bearer ${a.key.slice(0, -1)}x`]],
      [['Authorization', `Bearer ${ADMIN_TOKEN}\u00e9`]],
      [
        ['Cookie', 'pos_admin_session=garbage'],
        ['X-CSRF-Token', 'x'],
      ],
      [['Authorization', `Bearer ${b.key}`]],
      [['Authorization', `Bearer ${tenant.readKey}`]],
    ])
  }
  if (schemes.includes('apiKey'))
    return [['Authorization', `Bearer ${roll < 0.8 ? tenant.key : tenant.readKey}`]]
  if (schemes.includes('dashboardSession') && roll < 0.2) {
    return [
      ['Cookie', session.cookie],
      ['X-CSRF-Token', roll < 0.15 ? session.csrf : 'wrong'],
    ]
  }
  return [['Authorization', `Bearer ${ADMIN_TOKEN}`]]
}

function exampleOrGenerated(operation: Operation, random: Random): unknown {
  const media = operation.requestBody?.content['application/json']
  const examples = Object.values(media?.examples ?? {}).map((e) => e.value)
  if (examples.length > 0 && random.chance(0.6)) return structuredClone(random.pick(examples))
  return fromSchema(media?.schema ?? {}, document.components.schemas, random)
}

/** Fresh event ids, so a valid ingest example is stored rather than answered as a duplicate. */
function freshIds(value: unknown): unknown {
  if (value === null || typeof value !== 'object') return value
  const events = (value as { events?: unknown }).events
  if (Array.isArray(events))
    for (const event of events)
      if (event && typeof event === 'object') (event as { id?: string }).id = randomUUID()
  return value
}

let lastKey: string = randomUUID()

function buildCase(index: number, random: Random, operations: [string, Operation][]): FuzzCase {
  const tenant = random.chance(0.9) ? a : b
  if (random.chance(0.04)) {
    const path = random.pick(EXTRA_PAGES)
    const method = random.pick(['GET', 'HEAD', 'GET', 'POST'])
    return {
      index,
      operation: `${method} ${path}`,
      request: { method, path, headers: [], framing: 'normal' },
      note: '',
    }
  }
  const [name, operation] = random.pick(operations)
  let [method, template] = name.split(' ') as [string, string]
  if (random.chance(0.03)) method = random.pick(METHODS)
  const target = destructive(method, template) ? victim : tenant
  let path = template.replace(/\{([A-Za-z]+)\}/g, (_, param: string) => pathValue(param, target, random))
  const queryNames = (operation.parameters ?? []).filter((p) => p.in === 'query').map((p) => p.name)
  if (queryNames.length > 0 || random.chance(0.1)) {
    if (random.chance(0.6)) path += `?${oddQuery(queryNames, random)}`
    else if (queryNames.includes('limit')) path += `?limit=${random.pick([1, 2, 50, 100])}`
  }

  const headers = credentials(operation, target, random)
  let body: Buffer | undefined
  let note = ''
  const wantsBody = operation.requestBody !== undefined || random.chance(0.05)
  if (wantsBody) {
    const roll = random.next()
    if (roll < 0.3) {
      note = toJson(freshIds(exampleOrGenerated(operation, random)))
    } else if (roll < 0.8) {
      let value = freshIds(exampleOrGenerated(operation, random))
      for (let n = 1 + random.int(3); n > 0; n--) value = mutate(value, random)
      note = toJson(value)
    } else {
      note = oddBody(random, BODY_LIMIT).toString('latin1')
    }
    body = Buffer.from(note, roll < 0.8 ? 'utf8' : 'latin1')
    if (random.chance(0.1)) body = body.subarray(0, random.int(body.length + 1))
    const contentType = random.chance(0.88) ? 'application/json' : random.pick(CONTENT_TYPES)
    if (contentType !== '' || random.chance(0.5)) headers.push(['Content-Type', contentType])
    if (random.chance(0.05)) {
      const encoding = random.pick(['gzip', 'deflate', 'br', 'identity', 'gzip, gzip'])
      headers.push(['Content-Encoding', encoding])
      // A body that inflates to 64 MiB, should anything inflate it.
      if (encoding.startsWith('gzip') && random.chance(0.5)) body = gzipBomb()
    }
  }
  if ((operation.parameters ?? []).some((p) => p.name === 'idempotency-key')) {
    // Now and then the key of an earlier case: a replay, or a different request under a used key.
    const key = random.chance(0.8)
      ? randomUUID()
      : random.chance(0.5)
        ? lastKey
        : random.pick(['', ' ', 'k'.repeat(300), 'caf\u00e9', 'a\tb'])
    headers.push(['Idempotency-Key', key])
    lastKey = key
  }
  signCase(template, path, body ?? Buffer.alloc(0), headers, random)
  if (random.chance(0.05))
    headers.push([
      random.pick(['X-Forwarded-For', 'Accept', 'Accept-Encoding', 'If-None-Match', 'X-Request-Id']),
      random.pick(['\u00ff\u00fe', '*', 'x'.repeat(8000), '"etag", W/"x"']),
    ])
  if (random.chance(0.03)) headers.push(...random.pick(ODD_HEADERS))
  const framing = random.chance(0.95)
    ? 'normal'
    : random.pick(['declared-shorter', 'bad-chunks', 'length-and-chunked', 'no-length'] as const)
  return {
    index,
    operation: name,
    request: { method, path, headers, framing, ...(body === undefined ? {} : { body }) },
    note,
    byApiKey: (operation.security ?? []).some((scheme) => Object.hasOwn(scheme as object, 'apiKey')),
  }
}

/** Signs what a source with a secret or a connector expects signed, most of the time; otherwise a bad signature. */
function signCase(
  template: string,
  path: string,
  body: Buffer,
  headers: [string, string][],
  random: Random,
): void {
  const good = random.chance(0.85)
  if (template === '/v1/ingest/{source}' && path.startsWith('/v1/ingest/signed')) {
    const signature = signPayload(
      SIGNING_SECRET,
      Math.floor(Date.now() / 1000) - (good ? 0 : 100_000),
      body.toString('utf8'),
    )
    headers.push(['X-Signature', good ? signature : random.pick([signature, 't=1,v1=00', 'garbage', ''])])
  } else if (template.startsWith('/v1/webhooks/square/')) {
    headers.push(['X-Square-Hmacsha256-Signature', squareSignature(body, good ? undefined : 'wrong')])
  } else if (template.startsWith('/v1/webhooks/shopify/')) {
    headers.push(
      ['X-Shopify-Hmac-Sha256', shopifySignature(body, good ? undefined : 'wrong')],
      ['X-Shopify-Shop-Domain', SHOPIFY_CONNECTOR.shopDomain],
    )
    headers.push([
      'X-Shopify-Topic',
      random.pick(['orders/create', 'products/update', 'inventory_levels/update', 'x']),
    ])
    headers.push(['X-Shopify-Event-Id', random.chance(0.9) ? randomUUID() : 'e'.repeat(2000)])
  }
}

/** What is wrong with an answer, or undefined. */
function verdict(outcome: Outcome, request: WireRequest): string | undefined {
  if (outcome.kind !== 'answer')
    return `${outcome.kind} connection (received ${JSON.stringify(outcome.received)})`
  const { status, headers, body } = outcome
  if (!(status >= 200 && status < 500)) return `status ${status}: ${body.slice(0, 500)}`
  if (status < 400) return undefined
  if (!headers['content-type']?.startsWith('application/problem+json'))
    return `${status} as ${headers['content-type']}: ${body.slice(0, 300)}`
  if (request.method === 'HEAD') return undefined
  try {
    const problem = JSON.parse(body) as { type?: unknown; status?: unknown }
    if (typeof problem.type !== 'string' || problem.status !== status)
      return `${status} problem without a type or status: ${body.slice(0, 300)}`
  } catch {
    return `${status} problem that is not JSON: ${body.slice(0, 300)}`
  }
  return undefined
}

/**
 * Whether the request carries a body in a content coding other than identity: the service accepts none
 * (http/json-body.ts), and Fastify reads a body on any method but these.
 */
function hasEncodedBody(request: WireRequest): boolean {
  if (['GET', 'HEAD', 'TRACE'].includes(request.method)) return false
  const codings = request.headers
    .filter(([name]) => name.toLowerCase() === 'content-encoding')
    .flatMap(([, value]) => value.split(','))
    .map((token) => token.trim().toLowerCase())
  if (!codings.some((coding) => coding !== '' && coding !== 'identity')) return false
  const length = request.body?.length ?? 0
  // Framed otherwise, the bytes are no body (no-length) or Node refuses the request before any route.
  return request.framing === 'normal' ? length > 0 : request.framing === 'declared-shorter' && length > 3
}

/** What may refuse a request before its body is looked at: the HTTP parser, the route, credentials, limits. */
const BEFORE_THE_BODY: ReadonlySet<string> = new Set([
  '/problems/bad-request',
  '/problems/invalid-parameters',
  '/problems/unauthorized',
  '/problems/forbidden',
  '/problems/csrf-token-invalid',
  '/problems/method-not-allowed',
  '/problems/expectation-failed',
  '/problems/headers-too-large',
  '/problems/rate-limited',
])

/** A body in a content coding is refused with 415 unsupported-media-type, unread, unless refused before. */
function encodingVerdict(outcome: Outcome, request: WireRequest): string | undefined {
  if (outcome.kind !== 'answer' || !hasEncodedBody(request)) return undefined
  // verdict() has checked that a 4xx is a problem document; a 2xx is wrong whatever its body.
  const type = outcome.status >= 400 ? ((JSON.parse(outcome.body) as { type: string }).type ?? '') : ''
  if (outcome.status === 415 && type === '/problems/unsupported-media-type') {
    return outcome.headers['accept-encoding'] === 'identity'
      ? undefined
      : `a 415 for a content coding without Accept-Encoding: identity`
  }
  if (outcome.status !== 415 && BEFORE_THE_BODY.has(type)) return undefined
  return `a body in a content coding answered ${outcome.status} ${type}, not 415 unsupported-media-type: ${outcome.body.slice(0, 300)}`
}

function describeCase(c: FuzzCase): string {
  const headers = c.request.headers
    .map(([n, v]) => `${n}: ${v.length > 80 ? `${v.slice(0, 80)}…(${v.length})` : v}`)
    .join(' | ')
  const path =
    c.request.path.length > 200
      ? `${c.request.path.slice(0, 200)}…(${c.request.path.length})`
      : c.request.path
  const note =
    c.note.length > 300
      ? `${c.note.slice(0, 300)}…(${c.note.length} chars, sha1 ${createHash('sha1').update(c.note).digest('hex').slice(0, 8)})`
      : c.note
  return `case ${c.index} [${c.operation}] ${c.request.method} ${path} framing=${c.request.framing} headers={${headers}} body=${note}`
}

/** The HTTP connections the server holds open. */
const openConnections = () =>
  new Promise<number>((resolve, reject) =>
    t.app.server.getConnections((err, count) => (err ? reject(err) : resolve(count))),
  )

const fixtureTenants = () => [a.id, b.id, victim.id]

/** The tenant whose API key a request carries, if any. */
function actingTenant(request: WireRequest): string | undefined {
  const authorization = request.headers.find(([name]) => name === 'Authorization')?.[1]
  return [a, b, victim].find((tenant) =>
    [`Bearer ${tenant.key}`, `Bearer ${tenant.readKey}`].includes(authorization ?? ''),
  )?.id
}

const SAFE = new Set(['GET', 'HEAD', 'OPTIONS'])

it(
  `answers ${CASES} generated and mutated requests over every route with a 2xx or a 4xx problem, and a refused one stores nothing`,
  async () => {
    console.log(`fuzz: FUZZ_SEED=${SEED} FUZZ_CASES=${CASES}`)
    const random = new Random(SEED)
    const operations = Object.entries(document.paths).flatMap(([path, methods]) =>
      Object.entries(methods).map(([method, operation]): [string, Operation] => [
        `${method.toUpperCase()} ${path}`,
        operation,
      ]),
    )
    expect(operations.length).toBeGreaterThan(60)
    const failures: string[] = []
    const statuses = new Map<number, number>()
    const covered = new Set<string>()
    let baseline = await snapshot()
    let unchecked = 0
    /**
     * The previous case's client has gone: the server must let go of its connection too, or it could never
     * close. Checked just before the next case, by when it usually has.
     */
    const lettingGo = async (c: FuzzCase) => {
      const released = await waitFor(async () => (await openConnections()) === 0, {
        description: 'the server to close the connection the client left',
        timeoutMs: 5000,
        intervalMs: 2,
      }).catch(() => false)
      if (released === false)
        failures.push(`the server kept a connection the client left\n  ${describeCase(c)}`)
    }
    let previous: FuzzCase | undefined
    for (let index = 0; index < CASES && failures.length < 20; index++) {
      const c = buildCase(index, random, operations)
      // A sign-out ends the session the other cases use.
      if (c.operation === 'DELETE /v1/admin/session') session = await signIn()
      if (previous) await lettingGo(previous)
      previous = c
      const outcome = await exchange(port, wireBytes(c.request), {
        timeoutMs: 15_000,
        head: c.request.method === 'HEAD',
      })
      if (c.operation === 'DELETE /v1/admin/session') session = await signIn()
      const status = outcome.kind === 'answer' ? outcome.status : 0
      statuses.set(status, (statuses.get(status) ?? 0) + 1)
      if (status >= 200 && status < 400) covered.add(c.operation)
      const wrong = verdict(outcome, c.request) ?? encodingVerdict(outcome, c.request)
      if (wrong) failures.push(`${wrong}\n  ${describeCase(c)}`)
      // Safe methods must store nothing whatever they answer; they are checked with the next snapshot.
      if (SAFE.has(c.request.method)) {
        unchecked++
        if (unchecked < 50) continue
      }
      const refused = status >= 400 || status === 0 || SAFE.has(c.request.method)
      const after = await snapshot()
      const changed = differences(baseline, after)
      if (refused && changed.length > 0) {
        failures.push(
          `a refused request stored something: ${changed.join('; ')}\n  ${describeCase(c)} (or one of the ${unchecked} safe requests before it)`,
        )
      }
      // An accepted request made with a tenant's API key changes that tenant's rows only.
      const actor = c.byApiKey ? actingTenant(c.request) : undefined
      const foreign = changed.filter((change) =>
        fixtureTenants().some((id) => id !== actor && change.includes(`:${id} `)),
      )
      if (!refused && actor !== undefined && foreign.length > 0) {
        failures.push(
          `a tenant's request changed another tenant's rows: ${foreign.join('; ')}\n  ${describeCase(c)}`,
        )
      }
      baseline = after
      unchecked = 0
    }
    if (previous) await lettingGo(previous)
    console.log(
      `fuzz: answers by status ${JSON.stringify(Object.fromEntries([...statuses].sort(([x], [y]) => x - y)))}; operations answered 2xx/3xx at least once: ${covered.size}`,
    )
    expect(failures, `FUZZ_SEED=${SEED}`).toEqual([])
  },
  Math.max(600_000, CASES * 30),
)

it('answers a body declared longer than sent with a 408 problem once the request times out, and stores nothing', async () => {
  const before = await snapshot()
  const body = Buffer.from(JSON.stringify({ events: [productUpserted('SKU-LATE')] }))
  const requests: WireRequest[] = [
    {
      method: 'POST',
      path: '/v1/ingest/pos',
      headers: [
        ['Authorization', `Bearer ${a.key}`],
        ['Content-Type', 'application/json'],
        ['Idempotency-Key', randomUUID()],
      ],
      body,
      framing: 'declared-longer',
    },
    {
      method: 'POST',
      path: '/v1/admin/tenants',
      headers: [
        ['Authorization', `Bearer ${ADMIN_TOKEN}`],
        ['Content-Type', 'application/json'],
      ],
      body: Buffer.from('{"name":"late"}'),
      framing: 'declared-longer',
    },
  ]
  const outcomes = await Promise.all(requests.map((r) => exchange(port, wireBytes(r), { timeoutMs: 15_000 })))
  for (const [i, outcome] of outcomes.entries()) {
    expect(verdict(outcome, requests[i]!)).toBeUndefined()
    expect(outcome).toMatchObject({ status: 408 })
  }
  expect(differences(before, await snapshot())).toEqual([])
}, 60_000)
