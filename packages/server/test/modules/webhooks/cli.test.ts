import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { webhookAttempts, webhookDeliveries } from '../../../src/db/schema.js'
import { WebhooksRepository } from '../../../src/modules/webhooks/repository.js'
import { type DatabaseHandle, openDatabase } from '../../../src/platform/database.js'
import { createLogger } from '../../../src/platform/logger.js'
import { migrate } from '../../../src/platform/migrations.js'
import { createOutbound } from '../../../src/platform/outbound/outbound.js'
import { openRedis } from '../../../src/platform/redis.js'
import { REDIS_URL } from '../../helpers/app.js'
import { runCliOn } from '../../helpers/cli.js'
import { createTestDatabase, type TestDatabase } from '../../helpers/database.js'
import { freePort } from '../../helpers/private-redis.js'
import { testSecrets } from '../../helpers/secrets.js'
import { createTenant } from '../../helpers/tenants.js'
import {
  reply,
  silentLog,
  startTargetServer,
  testSettings,
  uniquePrefix,
} from '../../platform/outbound/target-server.js'

describe('the webhook CLI commands', () => {
  let database: TestDatabase
  let handle: DatabaseHandle
  let tenantId: string
  beforeAll(async () => {
    database = await createTestDatabase()
    handle = await openDatabase({
      databaseUrl: database.url,
      dataDir: '',
      log: createLogger({ level: 'silent' }),
    })
    await migrate(handle.db)
    tenantId = (await createTenant(handle.db)).tenantId
  })
  afterAll(async () => {
    await handle.close()
    await database.drop()
  })

  const cli = (...argv: string[]) => runCliOn(database.url, argv)
  const cliWith =
    (env: Record<string, string>) =>
    (...argv: string[]) =>
      runCliOn(database.url, argv, env)

  it('creates an endpoint (printing its secret once), lists it and deletes it', async () => {
    const created = await cli(
      'webhook:create',
      tenantId,
      'https://93.184.215.14/hooks',
      '--event-types',
      'order.created,refund.created',
      '--json',
    )
    expect(created.code, created.stderr).toBe(0)
    const endpoint = JSON.parse(created.stdout)
    expect(endpoint).toMatchObject({ eventTypes: ['order.created', 'refund.created'] })
    expect(endpoint.secret).toMatch(/^whsec_/)

    const listed = await cli('webhook:list', tenantId)
    expect(listed.stdout).toContain(endpoint.id)
    expect(listed.stdout).not.toContain('whsec_')

    expect((await cli('webhook:delete', tenantId, endpoint.id)).code).toBe(0)
    expect((await cli('webhook:list', tenantId)).stdout).toBe('(none)\n')
    expect((await cli('webhook:delete', tenantId, endpoint.id)).code).toBe(1)
  })

  it('refuses a private target and unknown event types', async () => {
    const privateTarget = await cli('webhook:create', tenantId, 'https://10.0.0.1/hooks')
    expect(privateTarget.code).toBe(1)
    expect(privateTarget.stderr).toMatch(/private/)
    const unknownType = await cli(
      'webhook:create',
      tenantId,
      'https://93.184.215.14/hooks',
      '--event-types',
      'nope',
    )
    expect(unknownType.code).toBe(2)
  })
  it('changes, disables and re-enables an endpoint, and rotates its secret with the previous one still signing', async () => {
    const created = await cli('webhook:create', tenantId, 'https://93.184.215.14/hooks', '--json')
    const endpoint = JSON.parse(created.stdout)

    const changed = await cli(
      'webhook:update',
      tenantId,
      endpoint.id,
      '--event-types',
      'order.created',
      '--description',
      'ERP',
      '--enabled',
      'false',
      '--json',
    )
    expect(changed.code, changed.stderr).toBe(0)
    expect(JSON.parse(changed.stdout)).toMatchObject({
      eventTypes: ['order.created'],
      description: 'ERP',
      enabled: false,
      disabledReason: 'manual',
    })
    const enabled = await cli('webhook:update', tenantId, endpoint.id, '--enabled', 'true')
    expect(enabled.stdout).toMatch(/enabled\n$/)
    expect((await cli('webhook:update', tenantId, endpoint.id, '--enabled', 'maybe')).code).toBe(2)
    const forbidden = await cli('webhook:update', tenantId, endpoint.id, '--url', 'https://127.0.0.1/x')
    expect(forbidden.code).toBe(1)
    expect(forbidden.stderr).toMatch(/loopback/)

    const rotated = await cli('webhook:rotate-secret', tenantId, endpoint.id, '--json')
    expect(rotated.code, rotated.stderr).toBe(0)
    const secret = JSON.parse(rotated.stdout).secret as string
    expect(secret).toMatch(/^whsec_[A-Za-z0-9+/]{32}$/)
    expect(secret).not.toBe(endpoint.secret)
    const repository = new WebhooksRepository(handle.db, testSecrets)
    expect(await repository.findSecrets(tenantId, endpoint.id)).toEqual([secret, endpoint.secret])
  })

  it("lists an endpoint's deliveries with their attempts, retries a failed one and recovers the rest", async () => {
    const endpoint = JSON.parse(
      (await cli('webhook:create', tenantId, 'https://93.184.215.14/hooks', '--json')).stdout,
    )
    const delivery = (n: number, status: 'pending' | 'failed') => ({
      tenantId,
      endpointId: endpoint.id,
      eventType: 'order.created',
      event: { id: `evt-${n}`, type: 'order.created' },
      status,
      attempts: status === 'failed' ? 1 : 0,
    })
    const rows = await handle.db
      .insert(webhookDeliveries)
      .values([delivery(1, 'failed'), delivery(2, 'failed'), delivery(3, 'pending')])
      .returning({ id: webhookDeliveries.id })
    const [first, second, third] = rows.map((row) => String(row.id))
    await handle.db.insert(webhookAttempts).values(
      [first, second].map((id) => ({
        deliveryId: Number(id),
        attemptedAt: new Date(),
        statusCode: 503,
        durationMs: 12,
        error: 'HTTP 503',
      })),
    )

    const failed = await cli('webhook:deliveries', tenantId, endpoint.id, '--status', 'failed', '--json')
    expect(failed.code, failed.stderr).toBe(0)
    const page = JSON.parse(failed.stdout)
    expect(page.data.map((d: { id: string }) => d.id)).toEqual([second, first])
    expect(page.data[0]).toMatchObject({
      eventId: 'evt-2',
      status: 'failed',
      attempts: [{ statusCode: 503, durationMs: 12, error: 'HTTP 503' }],
    })
    const paged = await cli('webhook:deliveries', tenantId, endpoint.id, '--limit', '1')
    expect(paged.stdout).toContain(third)
    expect(paged.stdout).toMatch(/more: --after \S+\n$/)
    expect((await cli('webhook:deliveries', tenantId, endpoint.id, '--status', 'lost')).code).toBe(2)

    const retried = await cli('webhook:retry', tenantId, endpoint.id, first!)
    expect(retried.code, retried.stderr).toBe(0)
    const notFailed = await cli('webhook:retry', tenantId, endpoint.id, third!)
    expect(notFailed.code).toBe(1)
    expect(notFailed.stderr).toMatch(/only a failed delivery/)

    const recovered = await cli('webhook:recover', tenantId, endpoint.id, '2020-01-01T00:00:00Z', '--json')
    expect(recovered.code, recovered.stderr).toBe(0)
    expect(JSON.parse(recovered.stdout)).toEqual({ queued: 1 })
    const pending = JSON.parse(
      (await cli('webhook:deliveries', tenantId, endpoint.id, '--status', 'pending', '--json')).stdout,
    )
    expect(pending.data.map((d: { id: string }) => d.id)).toEqual([third, second, first])
    expect((await cli('webhook:recover', tenantId, endpoint.id, 'yesterday')).code).toBe(2)
  })

  it('shows one endpoint, failing and disabled, with the circuit breaker the fleet shares in Redis', async () => {
    const endpoint = JSON.parse(
      (
        await cli(
          'webhook:create',
          tenantId,
          'https://93.184.215.14/hooks',
          '--event-types',
          'order.created',
          '--description',
          'ERP',
          '--json',
        )
      ).stdout,
    )
    // What the dispatcher records after a failed attempt: failing since now, and (no grace) disabled.
    await new WebhooksRepository(handle.db, testSecrets).markFailing(endpoint.id, 0)
    // A replica's failed calls to the endpoint open its breaker for the fleet, in Redis.
    const keyPrefix = uniquePrefix()
    const target = await startTargetServer()
    target.answer(reply(503))
    const redis = openRedis(REDIS_URL, silentLog)
    try {
      await redis.reach()
      const replica = createOutbound({
        redis: redis.client,
        keyPrefix,
        log: silentLog,
        settings: testSettings({ retryMaxAttempts: 1, breakerMinimumCalls: 2, breakerOpenMs: 600_000 }),
      })
      for (let i = 0; i < 2; i++)
        await replica.call({ kind: 'webhook', id: endpoint.id }, { url: target.url, method: 'POST' })
      expect(await replica.breakerState({ kind: 'webhook', id: endpoint.id })).toMatchObject({
        state: 'open',
      })
    } finally {
      await Promise.all([target.close(), redis.close()])
    }
    const withRedis = cliWith({ REDIS_URL, REDIS_KEY_PREFIX: keyPrefix })

    const shown = await withRedis('webhook:show', tenantId, endpoint.id, '--json')
    expect(shown.code, shown.stderr).toBe(0)
    const detail = JSON.parse(shown.stdout)
    expect(detail).toEqual({
      id: endpoint.id,
      url: 'https://93.184.215.14/hooks',
      eventTypes: ['order.created'],
      description: 'ERP',
      enabled: false,
      disabledReason: 'failing',
      failingSince: expect.stringMatching(/^\d{4}-\d{2}-\d{2}T/),
      createdAt: endpoint.createdAt,
      circuitBreaker: { state: 'open', retryAt: expect.stringMatching(/^\d{4}-\d{2}-\d{2}T/) },
    })
    expect(Date.parse(detail.circuitBreaker.retryAt)).toBeGreaterThan(Date.now() + 500_000)
    expect(shown.stdout).not.toContain('whsec_')

    const text = (await withRedis('webhook:show', tenantId, endpoint.id)).stdout
    expect(text).toContain(`Webhook endpoint ${endpoint.id}:\n`)
    expect(text).toMatch(/^ {2}enabled +no \(failing\)$/m)
    expect(text).toContain(`failingSince    ${detail.failingSince}\n`)
    // retryAt is read again: now plus what Redis says is left, so only to the millisecond.
    expect(text).toMatch(/^ {2}circuitBreaker {2}open until \d{4}-\d{2}-\d{2}T[\d:.]+Z$/m)

    // Under another prefix (another fleet) the breaker has seen no call: closed.
    const elsewhere = await cliWith({ REDIS_URL, REDIS_KEY_PREFIX: uniquePrefix() })(
      'webhook:show',
      tenantId,
      endpoint.id,
      '--json',
    )
    expect(JSON.parse(elsewhere.stdout).circuitBreaker).toEqual({ state: 'closed', retryAt: null })
  })

  it('shows no circuit breaker without REDIS_URL, and fails when Redis does not answer', async () => {
    const endpoint = JSON.parse(
      (await cli('webhook:create', tenantId, 'https://93.184.215.14/hooks', '--json')).stdout,
    )
    const shown = await cli('webhook:show', tenantId, endpoint.id, '--json')
    expect(shown.code, shown.stderr).toBe(0)
    expect(JSON.parse(shown.stdout)).toMatchObject({ id: endpoint.id, enabled: true, circuitBreaker: null })
    expect((await cli('webhook:show', tenantId, endpoint.id)).stdout).toMatch(
      /^ {2}circuitBreaker +unknown: without REDIS_URL each server process keeps its own$/m,
    )

    const down = await cliWith({ REDIS_URL: `redis://127.0.0.1:${await freePort()}` })(
      'webhook:show',
      tenantId,
      endpoint.id,
    )
    expect(down.code).toBe(1)
    expect(down.stdout).toBe('')
    expect(down.stderr).toMatch(/^error: cannot read the circuit breaker from redis: /m)
  })

  it('answers an unknown endpoint, or a malformed id, as the other commands do', async () => {
    const unknown = await cli('webhook:show', tenantId, '00000000-0000-4000-8000-000000000000')
    expect(unknown.code).toBe(1)
    expect(unknown.stderr).toBe('error: No webhook endpoint 00000000-0000-4000-8000-000000000000\n')
    expect((await cli('webhook:show', tenantId, 'nope')).code).toBe(2)
    expect((await cli('webhook:show', tenantId)).code).toBe(2)
  })

  it("answers another tenant's endpoint as unknown in every command", async () => {
    const endpoint = JSON.parse(
      (await cli('webhook:create', tenantId, 'https://93.184.215.14/hooks', '--json')).stdout,
    )
    const other = (await createTenant(handle.db, { name: 'Other' })).tenantId
    for (const argv of [
      ['webhook:show', other, endpoint.id],
      ['webhook:update', other, endpoint.id, '--enabled', 'false'],
      ['webhook:rotate-secret', other, endpoint.id],
      ['webhook:deliveries', other, endpoint.id],
      ['webhook:retry', other, endpoint.id, '1'],
      ['webhook:recover', other, endpoint.id, '2020-01-01T00:00:00Z'],
      ['webhook:delete', other, endpoint.id],
    ]) {
      const result = await cli(...argv)
      expect(result.code, argv.join(' ')).toBe(1)
      expect(result.stderr).toMatch(/^error: No /)
    }
  })
})
