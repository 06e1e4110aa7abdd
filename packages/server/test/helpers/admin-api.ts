// The admin API as its tests call it: requests with the admin token, creating a tenant, key or source and
// expecting it to succeed, and the problem document an error must be. Shared by the route tests of the
// tenants, api-keys and sources modules, which all live under /v1/admin/tenants.
import { expect } from 'vitest'
import { ADMIN_TOKEN, type TestApp } from './app.js'

export type Method = 'GET' | 'POST' | 'PATCH' | 'DELETE'

export const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/
export const ISO_TIME = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/
export const SECRET = 'a-signing-secret-of-some-length'

/** The helpers over the test app `current()` answers (it is started in a beforeAll, after this is called). */
export function adminApi(current: () => TestApp) {
  function admin(method: Method, url: string, body?: object) {
    return current().app.inject({
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

  return { admin, createTenant, createSource, createKey, expectProblem }
}
