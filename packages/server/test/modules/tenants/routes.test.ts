// The admin API of tenants, and what holds for the admin API as a whole (/v1/admin/tenants and every route
// under a tenant): unknown and foreign ids, and authentication.
import { randomUUID } from 'node:crypto'
import { eq } from 'drizzle-orm'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { apiKeys, sources } from '../../../src/db/schema.js'
import { adminApi, ISO_TIME, type Method, SECRET, UUID } from '../../helpers/admin-api.js'
import { ADMIN_TOKEN, startTestApp, type TestApp } from '../../helpers/app.js'

describe('admin API', () => {
  let t: TestApp
  const { admin, createTenant, createSource, createKey, expectProblem } = adminApi(() => t)
  beforeAll(async () => {
    t = await startTestApp()
  })
  afterAll(() => t.close())

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
      expect(await t.app.apiKeys.authenticate(key)).toBeDefined()

      expect((await admin('DELETE', `/v1/admin/tenants/${tenantId}`)).statusCode).toBe(204)
      const db = t.platform.database.db
      expect(await db.select().from(apiKeys).where(eq(apiKeys.tenantId, tenantId))).toEqual([])
      expect(await db.select().from(sources).where(eq(sources.tenantId, tenantId))).toEqual([])
      expect(await t.app.apiKeys.authenticate(key)).toBeUndefined()
    })
  })

  describe('bodies', () => {
    it.each([
      ['a tenant without a name', '/v1/admin/tenants', {}],
      ['a tenant with an empty name', '/v1/admin/tenants', { name: '' }],
      // PostgreSQL text cannot hold NUL: refused up front rather than failing in the database with a 500.
      ['a tenant name with a NUL character', '/v1/admin/tenants', { name: 'a\u0000b' }],
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
      expect(operations).toHaveLength(38)
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
        // Signing in to the dashboard is the one admin operation that takes the token in its body instead (its
        // own tests, test/modules/dashboard/session.test.ts, hold it to 401 for a wrong one).
        if (method === 'POST' && url === '/v1/admin/session') continue
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
