// The admin API of a tenant's sources.
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { adminApi, ISO_TIME, SECRET, UUID } from '../../helpers/admin-api.js'
import { startTestApp, type TestApp } from '../../helpers/app.js'

describe('admin API', () => {
  let t: TestApp
  const { admin, createTenant, createSource, expectProblem } = adminApi(() => t)
  beforeAll(async () => {
    t = await startTestApp()
  })
  afterAll(() => t.close())

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
        connector: null,
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
      ['an unknown field', { name: 'till', kind: 'sdk', signing_secret: SECRET }, '/signing_secret'],
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
      // PostgreSQL text cannot hold NUL: refused up front rather than failing in the database with a 500.
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
})
