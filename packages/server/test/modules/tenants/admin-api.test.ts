import { randomUUID } from 'node:crypto'
import { eq } from 'drizzle-orm'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { apiKeys, sources } from '../../../src/db/schema.js'
import { ADMIN_TOKEN, startTestApp, type TestApp } from '../../helpers/app.js'

type Method = 'GET' | 'POST' | 'DELETE'

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/
const ISO_TIME = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/
const SECRET = 'a-signing-secret-of-some-length'

describe('admin API', () => {
  let t: TestApp
  beforeAll(async () => {
    t = await startTestApp()
  })
  afterAll(() => t.close())

  function admin(method: Method, url: string, body?: object) {
    return t.app.inject({
      method,
      url,
      headers: { authorization: `Bearer ${ADMIN_TOKEN}` },
      ...(body === undefined ? {} : { payload: body }),
    })
  }

  async function createTenant(name = 'acme'): Promise<string> {
    const res = await admin('POST', '/v1/admin/tenants', { name })
    expect(res.statusCode).toBe(201)
    return res.json().id
  }

  async function createSource(tenantId: string, body: object): Promise<string> {
    const res = await admin('POST', `/v1/admin/tenants/${tenantId}/sources`, body)
    expect(res.statusCode).toBe(201)
    return res.json().id
  }

  async function createKey(tenantId: string, body: object = { name: 'till' }) {
    const res = await admin('POST', `/v1/admin/tenants/${tenantId}/api-keys`, body)
    expect(res.statusCode).toBe(201)
    return res.json() as { id: string; key: string; prefix: string }
  }

  function expectProblem(res: Awaited<ReturnType<typeof admin>>, status: number, type: string) {
    expect(res.statusCode).toBe(status)
    expect(res.headers['content-type']).toBe('application/problem+json; charset=utf-8')
    expect(res.json()).toMatchObject({ type: `/problems/${type}`, status })
  }

  describe('tenants', () => {
    it('are created, listed, shown and deleted', async () => {
      const created = await admin('POST', '/v1/admin/tenants', { name: 'Corner Café' })
      expect(created.statusCode).toBe(201)
      const tenant = created.json()
      expect(tenant).toEqual({
        id: expect.stringMatching(UUID),
        name: 'Corner Café',
        rateLimit: null,
        createdAt: expect.any(String),
      })
      expect(tenant.createdAt).toMatch(ISO_TIME)

      const list = await admin('GET', '/v1/admin/tenants')
      expect(list.statusCode).toBe(200)
      expect(list.json().data).toContainEqual(tenant)

      const shown = await admin('GET', `/v1/admin/tenants/${tenant.id}`)
      expect(shown.statusCode).toBe(200)
      expect(shown.json()).toEqual(tenant)

      const deleted = await admin('DELETE', `/v1/admin/tenants/${tenant.id}`)
      expect(deleted.statusCode).toBe(204)
      expect(deleted.body).toBe('')
      expectProblem(await admin('GET', `/v1/admin/tenants/${tenant.id}`), 404, 'not-found')
      expect((await admin('GET', '/v1/admin/tenants')).json().data).not.toContainEqual(tenant)
    })

    it('take everything they own with them when deleted', async () => {
      const tenantId = await createTenant()
      const { key } = await createKey(tenantId)
      await createSource(tenantId, { name: 'till', kind: 'sdk' })
      expect(await t.app.tenants.authenticate(key)).toBeDefined()

      expect((await admin('DELETE', `/v1/admin/tenants/${tenantId}`)).statusCode).toBe(204)
      const db = t.platform.database.db
      expect(await db.select().from(apiKeys).where(eq(apiKeys.tenantId, tenantId))).toEqual([])
      expect(await db.select().from(sources).where(eq(sources.tenantId, tenantId))).toEqual([])
      expect(await t.app.tenants.authenticate(key)).toBeUndefined()
    })
  })

  describe('API keys', () => {
    it('are created with every scope by default, and the key is shown only at creation', async () => {
      const tenantId = await createTenant()
      const res = await admin('POST', `/v1/admin/tenants/${tenantId}/api-keys`, { name: 'till 1' })
      expect(res.statusCode).toBe(201)
      const created = res.json()
      expect(created).toEqual({
        id: expect.stringMatching(UUID),
        key: expect.stringMatching(/^pos_[A-Za-z0-9_-]{32}$/),
        prefix: created.key.slice(0, 16),
        scopes: ['ingest', 'read', 'write', 'webhooks'],
        name: 'till 1',
        createdAt: expect.stringMatching(ISO_TIME),
      })

      const list = await admin('GET', `/v1/admin/tenants/${tenantId}/api-keys`)
      expect(list.statusCode).toBe(200)
      const { key: _shownOnce, ...listing } = created
      expect(list.json()).toEqual({ data: [{ ...listing, revokedAt: null }] })
      expect(list.body).not.toContain(created.key)
      expect(list.body).not.toMatch(/hash/i)
    })

    it('carry only the scopes asked for', async () => {
      const tenantId = await createTenant()
      const created = await admin('POST', `/v1/admin/tenants/${tenantId}/api-keys`, {
        name: 'dashboard',
        scopes: ['read'],
      })
      expect(created.json().scopes).toEqual(['read'])
      expect((await t.app.tenants.authenticate(created.json().key))?.scopes).toEqual(['read'])
    })

    it('are revoked with 200 and their listing; revoking again keeps the first revocation time', async () => {
      const tenantId = await createTenant()
      const created = await createKey(tenantId)
      const url = `/v1/admin/tenants/${tenantId}/api-keys/${created.id}/revoke`

      const first = await admin('POST', url)
      expect(first.statusCode).toBe(200)
      expect(first.json()).toMatchObject({
        id: created.id,
        prefix: created.prefix,
        revokedAt: expect.stringMatching(ISO_TIME),
      })
      expect(first.body).not.toContain(created.key)

      const second = await admin('POST', url)
      expect(second.statusCode).toBe(200)
      expect(second.json().revokedAt).toBe(first.json().revokedAt)
      const list = await admin('GET', `/v1/admin/tenants/${tenantId}/api-keys`)
      expect(list.json().data).toEqual([first.json()])
    })

    it('are deleted with 204', async () => {
      const tenantId = await createTenant()
      const kept = await createKey(tenantId, { name: 'kept' })
      const gone = await createKey(tenantId, { name: 'gone' })

      const res = await admin('DELETE', `/v1/admin/tenants/${tenantId}/api-keys/${gone.id}`)
      expect(res.statusCode).toBe(204)
      const ids = (await admin('GET', `/v1/admin/tenants/${tenantId}/api-keys`))
        .json()
        .data.map((key: { id: string }) => key.id)
      expect(ids).toEqual([kept.id])
      expectProblem(
        await admin('DELETE', `/v1/admin/tenants/${tenantId}/api-keys/${gone.id}`),
        404,
        'not-found',
      )
    })
  })

  describe('sources', () => {
    it('are created signed or unsigned, listed without their secrets, and deleted', async () => {
      const tenantId = await createTenant()
      const unsigned = await admin('POST', `/v1/admin/tenants/${tenantId}/sources`, {
        name: 'web',
        kind: 'sdk',
      })
      expect(unsigned.statusCode).toBe(201)
      expect(unsigned.json()).toEqual({
        id: expect.stringMatching(UUID),
        name: 'web',
        kind: 'sdk',
        signed: false,
        createdAt: expect.stringMatching(ISO_TIME),
      })
      const signed = await admin('POST', `/v1/admin/tenants/${tenantId}/sources`, {
        name: 'shop-1',
        kind: 'shopify',
        signingSecret: SECRET,
      })
      expect(signed.statusCode).toBe(201)
      expect(signed.json()).toMatchObject({ name: 'shop-1', kind: 'shopify', signed: true })
      expect(signed.body).not.toContain(SECRET)

      const list = await admin('GET', `/v1/admin/tenants/${tenantId}/sources`)
      expect(list.statusCode).toBe(200)
      expect(list.json()).toEqual({ data: [unsigned.json(), signed.json()] })
      expect(list.body).not.toContain(SECRET)

      const deleted = await admin('DELETE', `/v1/admin/tenants/${tenantId}/sources/${unsigned.json().id}`)
      expect(deleted.statusCode).toBe(204)
      expect((await admin('GET', `/v1/admin/tenants/${tenantId}/sources`)).json().data).toEqual([
        signed.json(),
      ])
      // The name is free again.
      await createSource(tenantId, { name: 'web', kind: 'custom' })
    })

    it('rotate to a new secret and retire the previous one, answering 200 with the source', async () => {
      const tenantId = await createTenant()
      const sourceId = await createSource(tenantId, { name: 'square', kind: 'square' })
      const base = `/v1/admin/tenants/${tenantId}/sources/${sourceId}`

      const rotated = await admin('POST', `${base}/rotate-secret`, { signingSecret: SECRET })
      expect(rotated.statusCode).toBe(200)
      expect(rotated.json()).toMatchObject({ id: sourceId, name: 'square', kind: 'square', signed: true })
      expect(rotated.body).not.toContain(SECRET)

      const retired = await admin('POST', `${base}/retire-previous-secret`)
      expect(retired.statusCode).toBe(200)
      expect(retired.json()).toEqual(rotated.json())
    })

    it('with a name the tenant already uses are refused with 409; another tenant may use it', async () => {
      const tenantId = await createTenant()
      await createSource(tenantId, { name: 'till', kind: 'sdk' })
      const again = await admin('POST', `/v1/admin/tenants/${tenantId}/sources`, {
        name: 'till',
        kind: 'custom',
      })
      expectProblem(again, 409, 'conflict')

      await createSource(await createTenant('other'), { name: 'till', kind: 'sdk' })
    })

    it.each([
      ['an upper-case name', { name: 'Till', kind: 'sdk' }, '/name'],
      ['a name starting with a dash', { name: '-till', kind: 'sdk' }, '/name'],
      ['a name with an underscore', { name: 'till_1', kind: 'sdk' }, '/name'],
      ['a name of 64 characters', { name: 'a'.repeat(64), kind: 'sdk' }, '/name'],
      ['an empty name', { name: '', kind: 'sdk' }, '/name'],
      ['the reserved name api', { name: 'api', kind: 'sdk' }, '/name'],
      ['an unknown kind', { name: 'till', kind: 'clover' }, '/kind'],
      ['a missing kind', { name: 'till' }, '/kind'],
      [
        'a signing secret under 16 characters',
        { name: 'till', kind: 'sdk', signingSecret: 'x'.repeat(15) },
        '/signingSecret',
      ],
      ['an unknown field', { name: 'till', kind: 'sdk', signing_secret: SECRET }, '/'],
    ])('with %s are refused with 422', async (_case, body, pointer) => {
      const tenantId = await createTenant()
      const res = await admin('POST', `/v1/admin/tenants/${tenantId}/sources`, body)
      expectProblem(res, 422, 'validation-failed')
      expect(res.json().errors).toContainEqual(expect.objectContaining({ pointer }))
      expect((await admin('GET', `/v1/admin/tenants/${tenantId}/sources`)).json().data).toEqual([])
    })

    it('accept a name of 63 characters', async () => {
      await createSource(await createTenant(), { name: `a${'-'.repeat(61)}z`, kind: 'sdk' })
    })

    it('refuse a rotation to a secret under 16 characters with 422', async () => {
      const tenantId = await createTenant()
      const sourceId = await createSource(tenantId, { name: 'till', kind: 'sdk' })
      const res = await admin('POST', `/v1/admin/tenants/${tenantId}/sources/${sourceId}/rotate-secret`, {
        signingSecret: 'too-short',
      })
      expectProblem(res, 422, 'validation-failed')
    })
  })

  describe('bodies', () => {
    it.each([
      ['a tenant without a name', '/v1/admin/tenants', {}],
      ['a tenant with an empty name', '/v1/admin/tenants', { name: '' }],
      ['a key with an unknown scope', 'api-keys', { name: 'k', scopes: ['admin'] }],
      ['a key with no scopes', 'api-keys', { name: 'k', scopes: [] }],
      ['a key with a scope twice', 'api-keys', { name: 'k', scopes: ['read', 'read'] }],
      // PostgreSQL text cannot hold NUL: refused up front rather than failing in the database with a 500.
      ['a tenant name with a NUL character', '/v1/admin/tenants', { name: 'a\u0000b' }],
      ['a key name with a control character', 'api-keys', { name: 'till\u0007' }],
      [
        'a signing secret with a NUL character',
        'sources',
        { name: 'web', kind: 'sdk', signingSecret: `${SECRET}\u0000` },
      ],
    ])('%s is refused with 422', async (_case, path, body) => {
      const url = path.startsWith('/') ? path : `/v1/admin/tenants/${await createTenant()}/${path}`
      expectProblem(await admin('POST', url, body), 422, 'validation-failed')
    })
  })

  describe('unknown and foreign ids', () => {
    let tenantId: string
    let keyId: string
    let sourceId: string
    let otherTenantId: string
    beforeAll(async () => {
      tenantId = await createTenant('owner')
      keyId = (await createKey(tenantId)).id
      sourceId = await createSource(tenantId, { name: 'till', kind: 'sdk' })
      otherTenantId = await createTenant('other')
    })

    /** Every route under a tenant, for the tenant, key and source ids given. */
    function tenantRoutes(tenant: string, key: string, source: string): [Method, string, object?][] {
      const base = `/v1/admin/tenants/${tenant}`
      return [
        ['GET', base],
        ['DELETE', base],
        ['POST', `${base}/api-keys`, { name: 'k' }],
        ['GET', `${base}/api-keys`],
        ['POST', `${base}/api-keys/${key}/revoke`],
        ['DELETE', `${base}/api-keys/${key}`],
        ['POST', `${base}/sources`, { name: 'web', kind: 'sdk' }],
        ['GET', `${base}/sources`],
        ['DELETE', `${base}/sources/${source}`],
        ['POST', `${base}/sources/${source}/rotate-secret`, { signingSecret: SECRET }],
        ['POST', `${base}/sources/${source}/retire-previous-secret`],
      ]
    }

    it.each([
      ['an unknown tenant id', () => randomUUID()],
      ['a tenant id that is not a UUID', () => 'not-a-uuid'],
      ['a UUID with trailing garbage', () => `${randomUUID()}x`],
    ])('with %s are 404 on every route', async (_case, id) => {
      for (const [method, url, body] of tenantRoutes(id(), randomUUID(), randomUUID())) {
        expectProblem(await admin(method, url, body), 404, 'not-found')
      }
    })

    it('of keys and sources that are unknown or not UUIDs are 404', async () => {
      for (const id of [randomUUID(), '42', "1' OR '1'='1"]) {
        const encoded = encodeURIComponent(id)
        for (const [method, url, body] of tenantRoutes(tenantId, encoded, encoded).filter(([, u]) =>
          /(api-keys|sources)\/[^/]+/.test(u),
        )) {
          expectProblem(await admin(method, url, body), 404, 'not-found')
        }
      }
    })

    it("of another tenant's key or source are 404, and leave them untouched", async () => {
      const base = `/v1/admin/tenants/${otherTenantId}`
      const foreign: [Method, string, object?][] = [
        ['POST', `${base}/api-keys/${keyId}/revoke`],
        ['DELETE', `${base}/api-keys/${keyId}`],
        ['DELETE', `${base}/sources/${sourceId}`],
        ['POST', `${base}/sources/${sourceId}/rotate-secret`, { signingSecret: SECRET }],
        ['POST', `${base}/sources/${sourceId}/retire-previous-secret`],
      ]
      for (const [method, url, body] of foreign)
        expectProblem(await admin(method, url, body), 404, 'not-found')

      const keys = (await admin('GET', `/v1/admin/tenants/${tenantId}/api-keys`)).json().data
      expect(keys).toEqual([expect.objectContaining({ id: keyId, revokedAt: null })])
      const owned = (await admin('GET', `/v1/admin/tenants/${tenantId}/sources`)).json().data
      expect(owned).toEqual([expect.objectContaining({ id: sourceId, signed: false })])
    })
  })

  describe('authentication', () => {
    /** Every admin operation, read from the OpenAPI document so that a route added later is covered. */
    async function adminOperations(): Promise<[Method, string][]> {
      const doc = (await t.app.inject('/openapi.json')).json() as {
        paths: Record<string, Record<string, { tags?: string[] }>>
      }
      const operations: [Method, string][] = []
      for (const [path, methods] of Object.entries(doc.paths)) {
        for (const [method, operation] of Object.entries(methods)) {
          if (!operation.tags?.includes('admin')) continue
          const url = path.replace(/\{[^}]+\}/g, () => randomUUID())
          operations.push([method.toUpperCase() as Method, url])
        }
      }
      return operations
    }

    it('documents every admin route under the admin tag, and only those', async () => {
      const operations = await adminOperations()
      expect(operations).toHaveLength(15)
      for (const [, url] of operations) expect(url).toMatch(/^\/v1\/admin\//)
      const doc = (await t.app.inject('/openapi.json')).json()
      const untagged = Object.keys(doc.paths).filter(
        (path) =>
          path.startsWith('/v1/admin') &&
          Object.values(doc.paths[path] as Record<string, { tags?: string[] }>).some(
            (operation) => !operation.tags?.includes('admin'),
          ),
      )
      expect(untagged).toEqual([])
    })

    it.each([
      ['without credentials', {}],
      ['with a wrong admin token', { authorization: 'Bearer not-the-admin-token-at-all' }],
      [
        'with an API key instead of the admin token',
        { authorization: 'Bearer pos_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA' },
      ],
      ['with the admin token in another scheme', { authorization: `Basic ${ADMIN_TOKEN}` }],
    ])('refuses every admin route %s with 401 and a Bearer challenge', async (_case, headers) => {
      const tenantsBefore = (await admin('GET', '/v1/admin/tenants')).json().data.length
      for (const [method, url] of await adminOperations()) {
        const res = await t.app.inject({ method, url, headers, payload: method === 'POST' ? {} : undefined })
        expectProblem(res, 401, 'unauthorized')
        expect(res.headers['www-authenticate']).toBe('Bearer')
      }
      expect((await admin('GET', '/v1/admin/tenants')).json().data).toHaveLength(tenantsBefore)
    })

    it('refuses a real API key of a tenant on the admin routes', async () => {
      const { key } = await createKey(await createTenant())
      const res = await t.app.inject({
        url: '/v1/admin/tenants',
        headers: { authorization: `Bearer ${key}` },
      })
      expectProblem(res, 401, 'unauthorized')
    })
  })
})
