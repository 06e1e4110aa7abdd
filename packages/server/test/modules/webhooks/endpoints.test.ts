import { EVENT_TYPES } from '@pos/contracts/events'
import { sql } from 'drizzle-orm'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { webhookEndpoints } from '../../../src/db/schema.js'
import { WebhooksRepository } from '../../../src/modules/webhooks/repository.js'
import { startTestApp, type TestApp } from '../../helpers/app.js'
import { createApiKey, createTenant, type TenantFixture } from '../../helpers/tenants.js'

describe('webhook endpoints API', () => {
  let t: TestApp
  let tenant: TenantFixture
  let other: TenantFixture

  beforeAll(async () => {
    t = await startTestApp({ env: { WEBHOOK_ALLOW_PRIVATE_TARGETS: 'false', WEBHOOK_ALLOW_HTTP: 'false' } })
    tenant = await createTenant(t.platform.database.db)
    other = await createTenant(t.platform.database.db, { name: 'Other' })
  })
  afterAll(() => t.close())

  // A public address that is never called: these tests only create and read endpoints.
  const PUBLIC_URL = 'https://93.184.215.14/hooks'

  const call = (
    method: 'GET' | 'POST' | 'PATCH' | 'DELETE',
    url: string,
    payload?: unknown,
    key = tenant.key,
    headers: Record<string, string> = {},
  ) =>
    t.app.inject({
      method,
      url,
      headers: { authorization: `Bearer ${key}`, ...headers },
      ...(payload === undefined ? {} : { payload: payload as Record<string, unknown> }),
    })

  it('creates an endpoint with every event type by default and shows its secret only then', async () => {
    const created = await call('POST', '/v1/webhook-endpoints', { url: PUBLIC_URL, description: 'ERP' })
    expect(created.statusCode).toBe(201)
    const body = created.json()
    expect(body).toMatchObject({
      url: PUBLIC_URL,
      eventTypes: EVENT_TYPES,
      description: 'ERP',
      enabled: true,
    })
    expect(body.secret).toMatch(/^whsec_[A-Za-z0-9+/]{32}$/)
    expect(Buffer.from(body.secret.slice(6), 'base64')).toHaveLength(24)

    const one = await call('GET', `/v1/webhook-endpoints/${body.id}`)
    expect(one.statusCode).toBe(200)
    expect(one.json()).toEqual({
      ...body,
      secret: undefined,
      disabledReason: null,
      failingSince: null,
      circuitBreaker: { state: 'closed', retryAt: null },
    })
    expect(one.body).not.toContain('whsec_')
    const list = await call('GET', '/v1/webhook-endpoints')
    expect(list.json().data.map((e: { id: string }) => e.id)).toContain(body.id)
    expect(list.body).not.toContain('whsec_')

    const [row] = await t.platform.database.db
      .select({ stored: sql<string>`${webhookEndpoints.encryptedSecrets}::text` })
      .from(webhookEndpoints)
      .where(sql`${webhookEndpoints.id} = ${body.id}`)
    expect(row?.stored).not.toContain(body.secret.slice(6))
    expect(row?.stored).toMatch(/v1:[0-9a-f]{8}:/)
  })

  it('refuses unknown event types with 422', async () => {
    const res = await call('POST', '/v1/webhook-endpoints', { url: PUBLIC_URL, eventTypes: ['order.eaten'] })
    expect(res.statusCode).toBe(422)
    expect(res.json()).toMatchObject({ type: '/problems/validation-failed' })
  })

  it('changes, rotates and deletes an endpoint', async () => {
    const { id, secret } = (await call('POST', '/v1/webhook-endpoints', { url: PUBLIC_URL })).json()
    const patched = await call('PATCH', `/v1/webhook-endpoints/${id}`, {
      eventTypes: ['order.created'],
      enabled: false,
    })
    expect(patched.json()).toMatchObject({
      eventTypes: ['order.created'],
      enabled: false,
      disabledReason: 'manual',
    })
    const enabled = await call('PATCH', `/v1/webhook-endpoints/${id}`, { enabled: true })
    expect(enabled.json()).toMatchObject({ enabled: true, disabledReason: null })

    const rotated = await call('POST', `/v1/webhook-endpoints/${id}/rotate-secret`)
    expect(rotated.statusCode).toBe(200)
    expect(rotated.json().secret).toMatch(/^whsec_/)
    expect(rotated.json().secret).not.toBe(secret)

    expect((await call('DELETE', `/v1/webhook-endpoints/${id}`)).statusCode).toBe(204)
    expect((await call('GET', `/v1/webhook-endpoints/${id}`)).statusCode).toBe(404)
  })

  it("answers another tenant's endpoint with 404 on every route", async () => {
    const { id } = (await call('POST', '/v1/webhook-endpoints', { url: PUBLIC_URL })).json()
    const routes: ['GET' | 'POST' | 'PATCH' | 'DELETE', string, unknown?][] = [
      ['GET', `/v1/webhook-endpoints/${id}`],
      ['PATCH', `/v1/webhook-endpoints/${id}`, { description: 'mine' }],
      ['POST', `/v1/webhook-endpoints/${id}/rotate-secret`],
      ['GET', `/v1/webhook-endpoints/${id}/deliveries`],
      ['POST', `/v1/webhook-endpoints/${id}/deliveries/1/retry`],
      ['POST', `/v1/webhook-endpoints/${id}/recover`, { since: '2026-01-01T00:00:00Z' }],
      ['DELETE', `/v1/webhook-endpoints/${id}`],
    ]
    for (const [method, url, payload] of routes) {
      const res = await call(method, url, payload, other.key)
      expect(res.statusCode, `${method} ${url}`).toBe(404)
      expect(res.json()).toMatchObject({ type: '/problems/not-found' })
    }
    expect((await call('GET', '/v1/webhook-endpoints', undefined, other.key)).json().data).toEqual([])
    expect((await call('GET', `/v1/webhook-endpoints/${id}`)).statusCode).toBe(200)
  })

  it('pages through the endpoints oldest first, with a cursor that survives endpoints created and deleted meanwhile', async () => {
    const own = await createTenant(t.platform.database.db, { name: 'Paged' })
    const create = async () =>
      (await call('POST', '/v1/webhook-endpoints', { url: PUBLIC_URL }, own.key)).json().id as string
    const created: string[] = []
    for (let i = 0; i < 5; i++) created.push(await create())
    // The last two as if created within one millisecond: the cursor keeps PostgreSQL's microseconds.
    const base = new Date(Date.now() - 3_600_000).toISOString()
    for (const [i, micros] of [0, 1000, 2000, 3001, 3002].entries())
      await t.platform.database.db
        .update(webhookEndpoints)
        .set({ createdAt: sql`${base}::timestamptz + ${micros} * interval '1 microsecond'` })
        .where(sql`${webhookEndpoints.id} = ${created[i]}`)

    const page = async (query: string) => {
      const res = await call('GET', `/v1/webhook-endpoints?${query}`, undefined, own.key)
      expect(res.statusCode, res.body).toBe(200)
      return res.json() as { data: { id: string }[]; nextCursor: string | null }
    }
    const first = await page('limit=2')
    expect(first.data.map((e) => e.id)).toEqual(created.slice(0, 2))
    expect(first.nextCursor).toEqual(expect.any(String))
    // Meanwhile one endpoint of the first page goes and a new one comes: the walk neither repeats nor skips.
    expect((await call('DELETE', `/v1/webhook-endpoints/${created[0]}`, undefined, own.key)).statusCode).toBe(
      204,
    )
    created.push(await create())
    const walked = [...first.data.map((e) => e.id)]
    let cursor = first.nextCursor
    for (let pages = 1; cursor !== null && pages < 10; pages++) {
      const next = await page(`limit=2&after=${cursor}`)
      walked.push(...next.data.map((e) => e.id))
      cursor = next.nextCursor
    }
    expect(walked).toEqual(created)
    expect((await page('limit=500')).data.map((e) => e.id)).toEqual(created.slice(1))

    // Another list's cursor, or garbage, is 400 invalid-parameters.
    for (const after of ['bm90LWEtY3Vyc29y', Buffer.from('webhook-deliveries.5').toString('base64url')]) {
      const res = await call('GET', `/v1/webhook-endpoints?after=${after}`, undefined, own.key)
      expect(res.statusCode).toBe(400)
      expect(res.json()).toMatchObject({ type: '/problems/invalid-parameters' })
    }
  })

  it('needs the webhooks scope', async () => {
    const readOnly = await createApiKey(t.platform.database.db, tenant.tenantId, ['read'])
    const res = await call('GET', '/v1/webhook-endpoints', undefined, readOnly)
    expect(res.statusCode).toBe(403)
  })

  it.each([
    ['plain http', 'http://93.184.215.14/hooks'],
    ['a loopback address', 'https://127.0.0.1/hooks'],
    ['an IPv6 loopback', 'https://[::1]/hooks'],
    ['an IPv4-mapped IPv6 loopback', 'https://[::ffff:127.0.0.1]/hooks'],
    ['a loopback written as one number', 'https://2130706433/hooks'],
    ['an IPv6 link-local address', 'https://[fe80::1]/hooks'],
    ['a private range', 'https://10.1.2.3/hooks'],
    ['another private range', 'https://192.168.1.10/hooks'],
    ['the metadata address', 'https://169.254.169.254/latest/meta-data'],
    ['a name resolving to 127.0.0.1', 'https://localhost/hooks'],
    ['a URL with credentials', 'https://user:pass@93.184.215.14/hooks'],
  ])('refuses %s as a target with 422 webhook-target-forbidden', async (_what, url) => {
    const res = await call('POST', '/v1/webhook-endpoints', { url })
    expect(res.statusCode).toBe(422)
    expect(res.headers['content-type']).toBe('application/problem+json; charset=utf-8')
    expect(res.json()).toMatchObject({ type: '/problems/webhook-target-forbidden', status: 422 })
  })

  it('refuses a forbidden target in a change too', async () => {
    const { id } = (await call('POST', '/v1/webhook-endpoints', { url: PUBLIC_URL })).json()
    const res = await call('PATCH', `/v1/webhook-endpoints/${id}`, { url: 'https://127.0.0.1/x' })
    expect(res.json()).toMatchObject({ type: '/problems/webhook-target-forbidden' })
  })

  it('answers a retried rotation with the secret it made, without rotating again', async () => {
    const { id, secret: original } = (await call('POST', '/v1/webhook-endpoints', { url: PUBLIC_URL })).json()
    const url = `/v1/webhook-endpoints/${id}/rotate-secret`
    const headers = { 'idempotency-key': 'rotate-1' }
    const first = await call('POST', url, undefined, tenant.key, headers)
    const again = await call('POST', url, undefined, tenant.key, headers)
    expect(again.statusCode).toBe(200)
    expect(again.headers['idempotent-replayed']).toBe('true')
    expect(again.json().secret).toBe(first.json().secret)
    // The original secret still signs beside the new one: the retry did not push it out.
    const repository = new WebhooksRepository(t.platform.database.db, t.platform.secrets)
    const secrets = await repository.findSecrets(tenant.tenantId, id)
    expect(secrets).toEqual([first.json().secret, original])
    const another = await call('POST', url, undefined, tenant.key, { 'idempotency-key': 'rotate-2' })
    expect(another.json().secret).not.toBe(first.json().secret)
  })

  it('answers a replayed creation with the same endpoint and refuses the key with another body', async () => {
    const headers = { 'idempotency-key': 'create-erp-1' }
    const first = await call('POST', '/v1/webhook-endpoints', { url: PUBLIC_URL }, tenant.key, headers)
    const again = await call('POST', '/v1/webhook-endpoints', { url: PUBLIC_URL }, tenant.key, headers)
    expect(again.statusCode).toBe(201)
    expect(again.headers['idempotent-replayed']).toBe('true')
    expect(again.json()).toEqual(first.json())
    const other = await call('POST', '/v1/webhook-endpoints', { url: `${PUBLIC_URL}/2` }, tenant.key, headers)
    expect(other.statusCode).toBe(422)
    expect(other.json()).toMatchObject({ type: '/problems/idempotency-key-reused' })
  })
})
