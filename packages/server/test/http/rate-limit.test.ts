import { randomUUID } from 'node:crypto'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { ADMIN_TOKEN, startTestApp, type TestApp } from '../helpers/app.js'
import { ingest, productUpserted } from '../helpers/ingest.js'
import { createTenant, type TenantFixture } from '../helpers/tenants.js'

type Response = { statusCode: number; headers: Record<string, unknown>; json(): { type?: string } }

/** The limit state a response advertises, read from both header families, which must agree. */
function limitOf(res: Response) {
  const h = res.headers
  const limit = Number(h['x-ratelimit-limit'])
  const remaining = Number(h['x-ratelimit-remaining'])
  const reset = Number(h['x-ratelimit-reset'])
  expect(Number.isInteger(limit) && Number.isInteger(remaining) && Number.isInteger(reset)).toBe(true)
  expect(h['ratelimit-policy']).toBe(`"default";q=${limit};w=60`)
  expect(h.ratelimit).toBe(`"default";r=${remaining};t=${reset}`)
  expect(reset).toBeGreaterThanOrEqual(0)
  expect(reset).toBeLessThanOrEqual(60)
  return { limit, remaining, reset }
}

for (const backend of ['in-process', 'redis'] as const) {
  describe(`rate limit headers (${backend})`, () => {
    let t: TestApp
    let a: TenantFixture
    beforeAll(async () => {
      t = await startTestApp({
        redis: backend === 'redis',
        env: { RATE_LIMIT_MAX: '9', RATE_LIMIT_WINDOW_MS: '60000', RATE_LIMIT_ANONYMOUS_MAX: '4' },
        routes: (app) => {
          app.get('/test/broken', { config: { scope: 'read' } }, async () => {
            throw new Error('a bug of ours')
          })
        },
      })
      a = await createTenant(t.platform.database.db)
    })
    afterAll(() => t.close())

    it('are on every answer of a limited route, success and error alike, and count down to a 429', async () => {
      const idempotencyKey = randomUUID()
      const events = [productUpserted('RL-1')]
      const answers: Response[] = [
        await ingest(t.app, { key: a.key, events, idempotencyKey }), // 201
        await ingest(t.app, { key: a.key, events, idempotencyKey }), // a replay
        await ingest(t.app, { key: a.key, events, idempotencyKey: null }), // 400
        await ingest(t.app, { key: a.key, events, source: 'no-such-source' }), // 404
        await ingest(t.app, { key: a.key, events: [] }), // 422
      ]
      expect(answers.map((r) => r.statusCode)).toEqual([201, 201, 400, 404, 422])
      expect(answers.map((r) => limitOf(r).remaining)).toEqual([8, 7, 6, 5, 4])
      for (const r of answers) expect(limitOf(r).limit).toBe(9)

      const rest: Response[] = []
      for (let i = 0; i < 5; i++)
        rest.push(await t.app.inject({ url: '/v1/products', headers: { authorization: `Bearer ${a.key}` } }))
      expect(rest.map((r) => r.statusCode)).toEqual([200, 200, 200, 200, 429])
      const refused = rest[4]!
      expect(limitOf(refused)).toMatchObject({ limit: 9, remaining: 0 })
      expect(refused.headers['content-type']).toContain('application/problem+json')
      expect(refused.json().type).toBe('/problems/rate-limited')
      expect(Number(refused.headers['retry-after'])).toBeGreaterThanOrEqual(1)
      expect(Number(refused.headers['retry-after'])).toBeLessThanOrEqual(60)
      const metrics = (await t.app.inject('/metrics')).body
      expect(metrics).toContain(`rate_limit_exceeded_total{tenant="${a.tenantId}"} 1`)
    })

    it('limits requests without valid credentials by client IP, with the lower limit, apart from keys', async () => {
      const tenant = await createTenant(t.platform.database.db)
      const bad = (n: number) =>
        ingest(t.app, { key: `pos_bad_${String(n).padStart(28, '0')}`, events: [productUpserted('X')] })
      const answers: Response[] = []
      for (let i = 0; i < 5; i++) answers.push(await bad(i))
      expect(answers.map((r) => r.statusCode)).toEqual([401, 401, 401, 401, 429])
      expect(answers.map((r) => limitOf(r))).toMatchObject([
        { limit: 4, remaining: 3 },
        { limit: 4, remaining: 2 },
        { limit: 4, remaining: 1 },
        { limit: 4, remaining: 0 },
        { limit: 4, remaining: 0 },
      ])
      // Unknown routes count against the same IP bucket and carry the headers too.
      const notFound = await t.app.inject('/v1/nothing')
      expect(notFound.statusCode).toBe(429)
      // A valid key from the same address has its own bucket and is not hurt by the flood.
      const ok = await ingest(t.app, { key: tenant.key, events: [productUpserted('OK')] })
      expect(ok.statusCode).toBe(201)
      expect(limitOf(ok)).toMatchObject({ limit: 9, remaining: 8 })
    })

    it('are on a 5xx answer too', async () => {
      const tenant = await createTenant(t.platform.database.db)
      const res = await t.app.inject({
        url: '/test/broken',
        headers: { authorization: `Bearer ${tenant.key}` },
      })
      expect(res.statusCode).toBe(500)
      expect(limitOf(res)).toMatchObject({ limit: 9, remaining: 8 })
    })

    it('never limits or decorates health, startup, readiness and metrics routes', async () => {
      for (let i = 0; i < 12; i++) {
        for (const url of ['/livez', '/startupz', '/readyz', '/health/ready', '/healthz', '/metrics']) {
          const res = await t.app.inject(url)
          expect(res.statusCode, url).toBe(200)
          expect(res.headers['x-ratelimit-limit']).toBeUndefined()
        }
      }
    })

    it('applies a tenant override set through the admin API', async () => {
      const tenant = await createTenant(t.platform.database.db)
      const admin = { authorization: `Bearer ${ADMIN_TOKEN}` }
      const set = await t.app.inject({
        method: 'PUT',
        url: `/v1/admin/tenants/${tenant.tenantId}/rate-limit`,
        headers: admin,
        payload: { max: 2, windowMs: 60_000 },
      })
      expect(set.statusCode).toBe(200)
      expect(set.json()).toMatchObject({ rateLimit: { max: 2, windowMs: 60_000 } })
      const read = () =>
        t.app.inject({ url: '/v1/products', headers: { authorization: `Bearer ${tenant.key}` } })
      const answers = [await read(), await read(), await read()]
      expect(answers.map((r) => r.statusCode)).toEqual([200, 200, 429])
      expect(limitOf(answers[0]!).limit).toBe(2)
      const cleared = await t.app.inject({
        method: 'DELETE',
        url: `/v1/admin/tenants/${tenant.tenantId}/rate-limit`,
        headers: admin,
      })
      expect(cleared.json()).toMatchObject({ rateLimit: null })
      const back = await read()
      expect(back.statusCode).toBe(200)
      expect(limitOf(back).limit).toBe(9)
      const invalid = await t.app.inject({
        method: 'PUT',
        url: `/v1/admin/tenants/${tenant.tenantId}/rate-limit`,
        headers: admin,
        payload: { max: 5, windowMs: 1500 },
      })
      expect(invalid.statusCode).toBe(422)
    })
  })
}
