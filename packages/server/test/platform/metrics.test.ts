import { Type } from '@fastify/type-provider-typebox'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { startTestApp, type TestApp } from '../helpers/app.js'
import { waitFor } from '../helpers/wait.js'

/** The value of one sample line, or undefined when absent. */
function sample(text: string, name: string, labels: Record<string, string> = {}): number | undefined {
  for (const line of text.split('\n')) {
    if (!line.startsWith(`${name}{`) && !line.startsWith(`${name} `)) continue
    const ok = Object.entries(labels).every(([k, v]) => line.includes(`${k}="${v}"`))
    if (ok) return Number(line.slice(line.lastIndexOf(' ') + 1))
  }
  return undefined
}

describe('metrics', () => {
  let t: TestApp
  let second: TestApp
  const waiting: (() => void)[] = []
  beforeAll(async () => {
    const routes = (app: TestApp['app']) => {
      app.get('/test/slow', async () => {
        await new Promise<void>((resolve) => waiting.push(resolve))
        return { ok: true }
      })
      app.get(
        '/test/items/:itemId',
        { schema: { params: Type.Object({ itemId: Type.String() }) } },
        async () => ({}),
      )
    }
    t = await startTestApp({ routes })
    // Building the app a second time in the same process must neither throw nor register anything twice.
    second = await startTestApp({ routes })
  })
  afterAll(async () => {
    await second.close()
    await t.close()
  })

  it('serves each metric family exactly once, even after the app was built twice', async () => {
    const res = await t.app.inject('/metrics')
    expect(res.statusCode).toBe(200)
    expect(res.headers['content-type']).toContain('text/plain')
    const families = res.body.split('\n').filter((line) => line.startsWith('# TYPE '))
    expect(new Set(families).size).toBe(families.length)
    for (const name of [
      'http_request_duration_seconds',
      'http_requests_total',
      'http_requests_in_flight',
      'build_info',
      'db_query_duration_seconds',
      'process_cpu_seconds_total',
      'nodejs_eventloop_lag_seconds',
    ]) {
      expect(families.some((line) => line.startsWith(`# TYPE ${name} `))).toBe(true)
    }
  })

  it('exports build_info with version, commit and node version', async () => {
    const body = (await t.app.inject('/metrics')).body
    expect(sample(body, 'build_info', { version: '0.1.0', node_version: process.version })).toBe(1)
    expect(body).toMatch(/build_info\{version="0\.1\.0",commit="[^"]+",node_version="v\d+/)
  })

  it('labels requests by route pattern, never by the raw URL', async () => {
    await t.app.inject('/test/items/secret-item-42?token=abc')
    await t.app.inject('/test/items/another')
    const body = (await t.app.inject('/metrics')).body
    expect(sample(body, 'http_requests_total', { route: '/test/items/:itemId', status_code: '200' })).toBe(2)
    expect(body).not.toContain('secret-item-42')
    expect(body).not.toContain('token=abc')
    await t.app.inject('/no/such/route/7')
    const after = (await t.app.inject('/metrics')).body
    expect(
      sample(after, 'http_requests_total', { route: 'unmatched', status_code: '404' }),
    ).toBeGreaterThanOrEqual(1)
    expect(after).not.toContain('/no/such/route/7')
  })

  it('counts requests in flight exactly while they run', async () => {
    const url = await t.app.listen({ port: 0, host: '127.0.0.1' })
    const before = sample((await t.app.inject('/metrics')).body, 'http_requests_in_flight')
    const slow = [fetch(`${url}/test/slow`), fetch(`${url}/test/slow`)]
    await waitFor(() => waiting.length === 2, { description: 'both slow requests to reach their handler' })
    expect(sample((await t.app.inject('/metrics')).body, 'http_requests_in_flight')).toBe(before! + 2)
    for (const release of waiting) release()
    const responses = await Promise.all(slow)
    expect(responses.map((r) => r.status)).toEqual([200, 200])
    // The /metrics request that reads the gauge is itself in flight.
    expect(sample((await t.app.inject('/metrics')).body, 'http_requests_in_flight')).toBe(before)
  })

  it('times database queries by operation', async () => {
    const before = sample((await t.app.inject('/metrics')).body, 'db_query_duration_seconds_count', {
      operation: 'health.ping',
    })
    await t.app.inject('/readyz')
    const after = sample((await t.app.inject('/metrics')).body, 'db_query_duration_seconds_count', {
      operation: 'health.ping',
    })
    expect(after).toBe((before ?? 0) + 1)
  })
})
