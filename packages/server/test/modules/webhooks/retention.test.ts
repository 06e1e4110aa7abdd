import { inArray } from 'drizzle-orm'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { type WebhookDeliveryStatus, webhookAttempts, webhookDeliveries } from '../../../src/db/schema.js'
import { WebhooksRepository } from '../../../src/modules/webhooks/repository.js'
import { pruneDeliveries } from '../../../src/modules/webhooks/retention.js'
import { startTestApp, type TestApp } from '../../helpers/app.js'
import { createTenant, type TenantFixture } from '../../helpers/tenants.js'

const DAY_MS = 86_400_000

describe('webhook delivery retention', () => {
  let t: TestApp
  let tenant: TenantFixture
  let endpointId: string
  let repository: WebhooksRepository

  beforeAll(async () => {
    // No dispatcher: the rows the tests write stay as written.
    t = await startTestApp({
      env: {
        WEBHOOK_ALLOW_HTTP: 'true',
        WEBHOOK_ALLOW_PRIVATE_TARGETS: 'true',
        WEBHOOK_DISPATCHER_ENABLED: 'false',
      },
    })
    tenant = await createTenant(t.platform.database.db)
    const created = await t.app.inject({
      method: 'POST',
      url: '/v1/webhook-endpoints',
      headers: { authorization: `Bearer ${tenant.key}` },
      payload: { url: 'http://127.0.0.1:9/hooks' },
    })
    expect(created.statusCode).toBe(201)
    endpointId = created.json().id
    repository = new WebhooksRepository(t.platform.database.db, t.platform.secrets)
  })
  afterAll(() => t.close())

  /** Deliveries created `ageDays` ago whose last attempt was `settledDaysAgo` ago, each with two attempts. */
  async function deliveries(
    count: number,
    status: WebhookDeliveryStatus,
    ageDays: number,
    settledDaysAgo = ageDays,
  ): Promise<number[]> {
    const { db } = t.platform.database
    const rows = await db
      .insert(webhookDeliveries)
      .values(
        Array.from({ length: count }, (_, i) => ({
          tenantId: tenant.tenantId,
          endpointId,
          eventType: 'product.upserted',
          event: { id: `evt-${status}-${ageDays}-${i}` },
          status,
          createdAt: new Date(Date.now() - ageDays * DAY_MS),
          updatedAt: new Date(Date.now() - settledDaysAgo * DAY_MS),
        })),
      )
      .returning({ id: webhookDeliveries.id })
    const ids = rows.map((row) => row.id)
    await db
      .insert(webhookAttempts)
      .values(
        ids.flatMap((deliveryId) =>
          [1, 2].map(() => ({ deliveryId, attemptedAt: new Date(), statusCode: 500, durationMs: 3 })),
        ),
      )
    return ids
  }

  async function remaining(ids: readonly number[]): Promise<{ deliveries: number; attempts: number }> {
    const { db } = t.platform.database
    const kept = await db
      .select({ id: webhookDeliveries.id })
      .from(webhookDeliveries)
      .where(inArray(webhookDeliveries.id, [...ids]))
    const attempts = await db
      .select({ id: webhookAttempts.id })
      .from(webhookAttempts)
      .where(inArray(webhookAttempts.deliveryId, [...ids]))
    return { deliveries: kept.length, attempts: attempts.length }
  }

  it('deletes succeeded and failed deliveries past retention with their attempts, a batch at a time', async () => {
    const retentionMs = t.config.webhooks.retentionMs
    expect(retentionMs).toBe(30 * DAY_MS)
    const expired = [...(await deliveries(3, 'succeeded', 31)), ...(await deliveries(2, 'failed', 40, 35))]
    const kept = [
      // Recent, or created long ago but settled within retention (a late retry, a recovered one).
      ...(await deliveries(2, 'succeeded', 29)),
      ...(await deliveries(1, 'failed', 3)),
      ...(await deliveries(1, 'succeeded', 45, 10)),
      // Pending is work still owed, whatever its age.
      ...(await deliveries(2, 'pending', 90)),
    ]

    // Batches of two: five expired rows take three statements.
    expect(await pruneDeliveries(repository, retentionMs, 2)).toBe(5)
    expect(await remaining(expired)).toEqual({ deliveries: 0, attempts: 0 })
    expect(await remaining(kept)).toEqual({ deliveries: kept.length, attempts: 2 * kept.length })
    expect(await pruneDeliveries(repository, retentionMs, 2)).toBe(0)
  })

  it('lets several replicas prune at once, each row deleted by one of them', async () => {
    const retentionMs = t.config.webhooks.retentionMs
    const expired = await deliveries(400, 'succeeded', 60)
    const recent = await deliveries(5, 'succeeded', 1)
    // Two replicas' repositories, on connections of their own, racing over the same rows.
    const other = new WebhooksRepository(t.platform.database.db, t.platform.secrets)
    const [a, b] = await Promise.all([
      pruneDeliveries(repository, retentionMs, 25),
      pruneDeliveries(other, retentionMs, 25),
    ])
    // A replica stops when a statement finds fewer than its batch (the rest locked by the other): whatever
    // both left is taken by the next run.
    const left = await pruneDeliveries(repository, retentionMs, 25)
    expect(a + b + left).toBe(400)
    expect(await remaining(expired)).toEqual({ deliveries: 0, attempts: 0 })
    expect(await remaining(recent)).toEqual({ deliveries: 5, attempts: 10 })
  })
})
