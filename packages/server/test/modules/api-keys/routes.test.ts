// The admin API of a tenant's API keys.
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { adminApi, ISO_TIME, UUID } from '../../helpers/admin-api.js'
import { startTestApp, type TestApp } from '../../helpers/app.js'

describe('admin API', () => {
  let t: TestApp
  const { admin, createTenant, createKey, expectProblem } = adminApi(() => t)
  beforeAll(async () => {
    t = await startTestApp()
  })
  afterAll(() => t.close())

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
      expect((await t.app.apiKeys.authenticate(created.json().key))?.scopes).toEqual(['read'])
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

  describe('bodies', () => {
    it.each([
      ['a key with an unknown scope', 'api-keys', { name: 'k', scopes: ['admin'] }],
      ['a key with no scopes', 'api-keys', { name: 'k', scopes: [] }],
      ['a key with a scope twice', 'api-keys', { name: 'k', scopes: ['read', 'read'] }],
      ['a key name with a control character', 'api-keys', { name: 'till\u0007' }],
    ])('%s is refused with 422', async (_case, path, body) => {
      const url = path.startsWith('/') ? path : `/v1/admin/tenants/${await createTenant()}/${path}`
      expectProblem(await admin('POST', url, body), 422, 'validation-failed')
    })
  })
})
