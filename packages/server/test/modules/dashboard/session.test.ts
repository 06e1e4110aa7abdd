import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { ADMIN_TOKEN, startTestApp, type TestApp } from '../../helpers/app.js'

/** The session cookie of a Set-Cookie header, as a browser would send it back. */
function cookieOf(setCookie: string | string[] | undefined): string {
  const header = Array.isArray(setCookie) ? setCookie[0] : setCookie
  const pair = header?.split(';')[0]
  if (pair === undefined) throw new Error('no Set-Cookie')
  return pair
}

async function signIn(t: TestApp, headers: Record<string, string> = {}) {
  const response = await t.app.inject({
    method: 'POST',
    url: '/v1/admin/session',
    headers,
    payload: { token: ADMIN_TOKEN },
  })
  expect(response.statusCode).toBe(201)
  return {
    response,
    cookie: cookieOf(response.headers['set-cookie']),
    csrf: response.json().csrfToken as string,
  }
}

describe.each([
  ['without Redis', false],
  ['with Redis', true],
])('dashboard sessions %s', (_name, redis) => {
  let t: TestApp

  beforeAll(async () => {
    t = await startTestApp({ redis, env: { DASHBOARD_SESSION_TTL_MINUTES: '30' } })
  })
  afterAll(() => t.close())

  it('exchanges the admin token for an HttpOnly, SameSite=Strict cookie with an expiry, and a CSRF token', async () => {
    const { response, csrf } = await signIn(t)
    const setCookie = String(response.headers['set-cookie'])
    expect(setCookie).toMatch(/^pos_admin_session=[^;]+; Path=\/; Max-Age=1800; HttpOnly; SameSite=Strict$/)
    expect(setCookie).not.toContain(ADMIN_TOKEN)
    expect(response.headers['cache-control']).toBe('no-store')
    expect(csrf).toMatch(/^[A-Za-z0-9_-]{22}$/)
    const expiresAt = Date.parse(response.json().expiresAt)
    expect(expiresAt - Date.now()).toBeGreaterThan(29 * 60_000)
    expect(expiresAt - Date.now()).toBeLessThanOrEqual(30 * 60_000)
  })

  it('refuses a wrong token with 401 and sets no session', async () => {
    const response = await t.app.inject({
      method: 'POST',
      url: '/v1/admin/session',
      payload: { token: `${ADMIN_TOKEN}x` },
    })
    expect(response.statusCode).toBe(401)
    expect(response.json()).toMatchObject({ type: '/problems/unauthorized' })
    expect(String(response.headers['set-cookie'])).toMatch(/Max-Age=0/)
  })

  it('lets the cookie stand for the admin token on reads, and answers the CSRF token back', async () => {
    const { cookie, csrf } = await signIn(t)
    const tenants = await t.app.inject({ method: 'GET', url: '/v1/admin/tenants', headers: { cookie } })
    expect(tenants.statusCode).toBe(200)
    const session = await t.app.inject({ method: 'GET', url: '/v1/admin/session', headers: { cookie } })
    expect(session.json()).toMatchObject({ csrfToken: csrf })
  })

  it('refuses a change made with the cookie but without the CSRF token with 403, and does not make it', async () => {
    const { cookie, csrf } = await signIn(t)
    const name = `csrf-${Date.now()}`
    for (const headers of [{ cookie }, { cookie, 'x-csrf-token': `${csrf.slice(1)}A` }]) {
      const refused = await t.app.inject({
        method: 'POST',
        url: '/v1/admin/tenants',
        headers,
        payload: { name },
      })
      expect(refused.statusCode).toBe(403)
      expect(refused.json()).toMatchObject({ type: '/problems/csrf-token-invalid' })
    }
    const list = await t.app.inject({ method: 'GET', url: '/v1/admin/tenants', headers: { cookie } })
    expect(list.json().data.map((tenant: { name: string }) => tenant.name)).not.toContain(name)
    const made = await t.app.inject({
      method: 'POST',
      url: '/v1/admin/tenants',
      headers: { cookie, 'x-csrf-token': csrf },
      payload: { name },
    })
    expect(made.statusCode).toBe(201)
  })

  it("refuses another session's CSRF token", async () => {
    const first = await signIn(t)
    const second = await signIn(t)
    const refused = await t.app.inject({
      method: 'POST',
      url: '/v1/admin/tenants',
      headers: { cookie: first.cookie, 'x-csrf-token': second.csrf },
      payload: { name: 'crossed' },
    })
    expect(refused.statusCode).toBe(403)
  })

  it('refuses a forged or altered cookie with 401', async () => {
    const { cookie } = await signIn(t)
    const [name, value] = cookie.split('=', 2) as [string, string]
    const parts = value.split(':')
    const sealed = Buffer.from(parts[3]!, 'base64')
    sealed[0] = sealed[0]! ^ 1
    parts[3] = sealed.toString('base64')
    for (const forged of [`${name}=${parts.join(':')}`, `${name}=v1:00000000:AAAA:AAAA`, `${name}=`]) {
      const response = await t.app.inject({
        method: 'GET',
        url: '/v1/admin/tenants',
        headers: { cookie: forged },
      })
      expect(response.statusCode, forged).toBe(401)
    }
  })

  it('signs out: the cookie is cleared and refused from then on, also if it was kept', async () => {
    const { cookie, csrf } = await signIn(t)
    const refusedWithoutCsrf = await t.app.inject({
      method: 'DELETE',
      url: '/v1/admin/session',
      headers: { cookie },
    })
    expect(refusedWithoutCsrf.statusCode).toBe(403)
    const out = await t.app.inject({
      method: 'DELETE',
      url: '/v1/admin/session',
      headers: { cookie, 'x-csrf-token': csrf },
    })
    expect(out.statusCode).toBe(204)
    expect(String(out.headers['set-cookie'])).toMatch(/^pos_admin_session=; Path=\/; Max-Age=0; HttpOnly/)
    const after = await t.app.inject({ method: 'GET', url: '/v1/admin/tenants', headers: { cookie } })
    expect(after.statusCode).toBe(401)
    expect(after.json().detail).toMatch(/signed out/)
  })

  it('still accepts the bearer admin token, with no CSRF header', async () => {
    const response = await t.app.inject({
      method: 'POST',
      url: '/v1/admin/tenants',
      headers: { authorization: `Bearer ${ADMIN_TOKEN}` },
      payload: { name: 'bearer' },
    })
    expect(response.statusCode).toBe(201)
  })
})

describe('a dashboard session across replicas', () => {
  let a: TestApp
  let b: TestApp

  beforeAll(async () => {
    a = await startTestApp({ redis: true })
    // A second replica: same keys and Redis prefix, its own database is irrelevant to sessions.
    b = await startTestApp({ redis: true, env: { REDIS_KEY_PREFIX: a.config.redisKeyPrefix } })
  })
  afterAll(async () => {
    await Promise.all([a.close(), b.close()])
  })

  it('is honoured by another replica, and signing out on one ends it on the other', async () => {
    const { cookie, csrf } = await signIn(a)
    expect(
      (await b.app.inject({ method: 'GET', url: '/v1/admin/session', headers: { cookie } })).statusCode,
    ).toBe(200)
    await a.app.inject({
      method: 'DELETE',
      url: '/v1/admin/session',
      headers: { cookie, 'x-csrf-token': csrf },
    })
    expect(
      (await b.app.inject({ method: 'GET', url: '/v1/admin/session', headers: { cookie } })).statusCode,
    ).toBe(401)
  })

  it('ends when the admin token changes', async () => {
    const other = await startTestApp({ env: { ADMIN_TOKEN: 'another-admin-token-0123456789' } })
    try {
      const { cookie } = await signIn(a)
      const response = await other.app.inject({
        method: 'GET',
        url: '/v1/admin/session',
        headers: { cookie },
      })
      expect(response.statusCode).toBe(401)
    } finally {
      await other.close()
    }
  })
})

describe('a dashboard session behind a trusted proxy', () => {
  let t: TestApp

  beforeAll(async () => {
    t = await startTestApp({ env: { TRUST_PROXY: 'true' } })
  })
  afterAll(() => t.close())

  it('has a Secure cookie when the request came over https', async () => {
    const { response } = await signIn(t, { 'x-forwarded-proto': 'https' })
    expect(String(response.headers['set-cookie'])).toMatch(/; Secure$/)
  })

  it('is refused once expired', async () => {
    const expired = t.app.adminSessions.issue(Date.now() - t.config.dashboardSessionTtlMs - 1)
    const response = await t.app.inject({
      method: 'GET',
      url: '/v1/admin/tenants',
      headers: { cookie: `pos_admin_session=${expired.cookie}` },
    })
    expect(response.statusCode).toBe(401)
  })
})
