import { eq } from 'drizzle-orm'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { webhookDeliveries, webhookEndpoints } from '../../../src/db/schema.js'
import { refreshBacklogGauges } from '../../../src/modules/webhooks/backlog.js'
import { WebhooksRepository } from '../../../src/modules/webhooks/repository.js'
import { startTestApp, type TestApp } from '../../helpers/app.js'
import { createTenant, type TenantFixture } from '../../helpers/tenants.js'

/** The value of an unlabelled sample in the /metrics text. */
function sample(text: string, name: string): number | undefined {
  const line = text.split('\n').find((l) => l.startsWith(`${name} `))
  return line === undefined ? undefined : Number(line.slice(name.length + 1))
}

describe('webhook backlog gauges', () => {
  let t: TestApp
  let tenant: TenantFixture

  beforeAll(async () => {
    // No dispatcher: the rows the test writes stay pending.
    t = await startTestApp({
      env: {
        WEBHOOK_ALLOW_HTTP: 'true',
        WEBHOOK_ALLOW_PRIVATE_TARGETS: 'true',
        WEBHOOK_DISPATCHER_ENABLED: 'false',
      },
    })
    tenant = await createTenant(t.platform.database.db)
  })
  afterAll(() => t.close())

  async function endpoint(): Promise<string> {
    const created = await t.app.inject({
      method: 'POST',
      url: '/v1/webhook-endpoints',
      headers: { authorization: `Bearer ${tenant.key}` },
      payload: { url: 'http://127.0.0.1:9/hooks' },
    })
    expect(created.statusCode).toBe(201)
    return created.json().id
  }

  async function deliveries(
    endpointId: string,
    status: 'pending' | 'succeeded' | 'failed',
    nextAttemptSecondsFromNow: readonly number[],
  ): Promise<void> {
    await t.platform.database.db.insert(webhookDeliveries).values(
      nextAttemptSecondsFromNow.map((seconds, i) => ({
        tenantId: tenant.tenantId,
        endpointId,
        eventType: 'product.upserted',
        event: { id: `evt-backlog-${endpointId}-${status}-${i}` },
        status,
        nextAttemptAt: new Date(Date.now() + seconds * 1000),
      })),
    )
  }

  it('reports the pending deliveries of enabled endpoints and the wait of the oldest due one in /metrics', async () => {
    const enabled = await endpoint()
    const disabled = await endpoint()
    // Due 120 s and 30 s ago, and a retry scheduled in an hour: three owed, the oldest due waiting 120 s.
    await deliveries(enabled, 'pending', [-120, -30, 3600])
    // Settled deliveries are owed nothing, however old.
    await deliveries(enabled, 'succeeded', [-3600])
    await deliveries(enabled, 'failed', [-3600])
    // A disabled endpoint's deliveries wait for it to be enabled again: not backlog.
    await deliveries(disabled, 'pending', [-900, -900])
    await t.platform.database.db
      .update(webhookEndpoints)
      .set({ enabled: false })
      .where(eq(webhookEndpoints.id, disabled))

    await refreshBacklogGauges(new WebhooksRepository(t.platform.database.db, t.platform.secrets))
    const text = (await t.app.inject('/metrics')).body
    expect(sample(text, 'webhook_deliveries_pending')).toBe(3)
    const oldest = sample(text, 'webhook_oldest_due_delivery_seconds')!
    expect(oldest).toBeGreaterThanOrEqual(120)
    expect(oldest).toBeLessThan(180)
  })
})
