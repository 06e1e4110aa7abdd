import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { type HealthCheck, runCheck } from '../../../src/platform/health.js'
import { migrate } from '../../../src/platform/migrations.js'
import { startTestApp, type TestApp } from '../../helpers/app.js'

function activeTimers(): number {
  return process.getActiveResourcesInfo().filter((kind) => kind === 'Timeout').length
}

describe('health endpoints (PostgreSQL and Redis)', () => {
  let t: TestApp
  beforeAll(async () => {
    // A long timeout: a readiness timer left behind would still be pending when the test looks.
    t = await startTestApp({ redis: true, env: { READINESS_TIMEOUT_MS: '60000' } })
  })
  afterAll(() => t.close())

  it('livez answers 200 without touching a dependency', async () => {
    const res = await t.app.inject('/livez')
    expect(res.statusCode).toBe(200)
    expect(res.json()).toEqual({ status: 'alive' })
  })

  it('startupz answers 200 once start-up has finished', async () => {
    const res = await t.app.inject('/startupz')
    expect(res.statusCode).toBe(200)
    expect(res.json()).toEqual({ status: 'started' })
  })

  it('readyz and /health/ready report each check with its latency', async () => {
    for (const url of ['/readyz', '/health/ready']) {
      const res = await t.app.inject(url)
      expect(res.statusCode).toBe(200)
      expect(res.json()).toEqual({
        status: 'ready',
        checks: {
          database: { status: 'ok', latencyMs: expect.any(Number) },
          redis: { status: 'ok', latencyMs: expect.any(Number) },
        },
      })
    }
  })

  it('readyz leaves no timer pending after it answers', async () => {
    await t.app.inject('/readyz')
    const before = activeTimers()
    for (let i = 0; i < 5; i++) expect((await t.app.inject('/readyz')).statusCode).toBe(200)
    // Each probe runs two checks; a leaked timer per check would leave ten behind. The pool may start one
    // idle timer of its own for a fresh connection, so allow that one.
    expect(activeTimers()).toBeLessThanOrEqual(before + 1)
  })

  it('healthz summarises version, uptime and mode', async () => {
    const res = await t.app.inject('/healthz')
    expect(res.json()).toMatchObject({
      status: 'started',
      version: '0.1.0',
      uptimeSeconds: expect.any(Number),
      mode: { database: 'postgres', redis: 'redis' },
    })
  })
})

describe('readiness when a dependency fails', () => {
  it('is 503 naming the check that failed, without revealing addresses', async () => {
    const t = await startTestApp({ redis: true })
    try {
      await t.platform.database.close()
      const res = await t.app.inject('/readyz')
      expect(res.statusCode).toBe(503)
      expect(res.headers['content-type']).toContain('application/problem+json')
      const body = res.json()
      expect(body).toMatchObject({
        type: '/problems/service-unavailable',
        failed: ['database'],
        checks: { database: { status: 'failed', error: 'unavailable' }, redis: { status: 'ok' } },
      })
      expect(res.body).not.toContain('5432')
    } finally {
      await t.close()
    }
  })

  it('stays ready with Redis reported degraded when only Redis is away', async () => {
    const t = await startTestApp({ redis: true })
    try {
      t.platform.redis!.client.disconnect()
      const res = await t.app.inject('/readyz')
      expect(res.statusCode).toBe(200)
      expect(res.json()).toMatchObject({
        status: 'ready',
        checks: { database: { status: 'ok' }, redis: { status: 'degraded', error: 'unavailable' } },
      })
      expect(res.body).not.toContain('6379')
    } finally {
      await t.close()
    }
  })

  it('is 503 as soon as shutdown starts', async () => {
    const t = await startTestApp()
    try {
      expect((await t.app.inject('/readyz')).statusCode).toBe(200)
      t.platform.lifecycle.beginShutdown()
      const res = await t.app.inject('/readyz')
      expect(res.statusCode).toBe(503)
      expect(res.json()).toMatchObject({ phase: 'stopping' })
      expect((await t.app.inject('/livez')).statusCode).toBe(200)
    } finally {
      await t.close()
    }
  })
})

describe('a readiness check under its timeout', () => {
  const hanging: HealthCheck = { name: 'hanging', critical: true, run: () => new Promise(() => undefined) }

  it('fails with "timeout" when the dependency does not answer in time, and clears its timer', async () => {
    const before = activeTimers()
    const result = await runCheck(hanging, 50)
    expect(result).toMatchObject({ status: 'failed', error: 'timeout' })
    expect(result.latencyMs).toBeGreaterThanOrEqual(49)
    expect(activeTimers()).toBe(before)
  })

  it('clears its timer when the check fails fast', async () => {
    const before = activeTimers()
    const result = await runCheck(
      { name: 'down', critical: true, run: () => Promise.reject(new Error('refused')) },
      60_000,
    )
    expect(result).toMatchObject({ status: 'failed', error: 'unavailable' })
    expect(activeTimers()).toBe(before)
  })
})

describe('start-up with MIGRATE_ON_START=false', () => {
  it('keeps startupz at 503 while a migration is pending, and turns 200 once it is applied elsewhere', async () => {
    const t = await startTestApp({ env: { MIGRATE_ON_START: 'false' }, waitForStartup: false })
    try {
      const waiting = await t.app.inject('/startupz')
      expect(waiting.statusCode).toBe(503)
      expect(waiting.json().detail).toMatch(/migrations pending: 0000_init|checking migrations/)
      expect((await t.app.inject('/readyz')).statusCode).toBe(503)
      expect((await t.app.inject('/openapi.json')).statusCode).toBe(200)
      expect((await t.app.inject('/problems/not-found')).statusCode).toBe(503)

      await migrate(t.platform.database.db)
      await t.started
      expect((await t.app.inject('/startupz')).statusCode).toBe(200)
      expect((await t.app.inject('/readyz')).statusCode).toBe(200)
    } finally {
      await t.close()
    }
  })
})
