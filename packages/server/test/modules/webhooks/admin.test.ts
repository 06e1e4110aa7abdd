import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { ADMIN_TOKEN, startTestApp, type TestApp } from '../../helpers/app.js'
import { ingest, productUpserted } from '../../helpers/ingest.js'
import { createTenant, type TenantFixture } from '../../helpers/tenants.js'
import { freePort } from '../../helpers/tools.js'
import { waitFor } from '../../helpers/wait.js'

interface Delivery {
  id: string
  status: string
  attempts: { statusCode: number | null; error: string | null }[]
}

describe("the admin API's view of a tenant's webhooks", () => {
  let t: TestApp
  let tenant: TenantFixture
  let endpointId: string
  let base: string
  const asAdmin = (method: 'GET' | 'POST', url: string) =>
    t.app.inject({ method, url, headers: { authorization: `Bearer ${ADMIN_TOKEN}` } })

  beforeAll(async () => {
    t = await startTestApp({
      env: {
        WEBHOOK_ALLOW_HTTP: 'true',
        WEBHOOK_ALLOW_PRIVATE_TARGETS: 'true',
        WEBHOOK_RETRY_SCHEDULE: '0',
        WEBHOOK_POLL_INTERVAL_MS: '50',
        OUTBOUND_RETRY_MAX_ATTEMPTS: '1',
      },
    })
    tenant = await createTenant(t.platform.database.db)
    const created = await t.app.inject({
      method: 'POST',
      url: '/v1/webhook-endpoints',
      headers: { authorization: `Bearer ${tenant.key}` },
      // Nothing listens on a port that was free a moment ago: every delivery to it fails at once.
      payload: { url: `http://127.0.0.1:${await freePort()}/hook` },
    })
    expect(created.statusCode).toBe(201)
    endpointId = created.json().id
    base = `/v1/admin/tenants/${tenant.tenantId}/webhook-endpoints`
  })
  afterAll(() => t.close())

  it('lists the endpoints and shows one with its circuit breaker', async () => {
    const list = await asAdmin('GET', base)
    expect(list.statusCode).toBe(200)
    expect(list.json().data.map((endpoint: { id: string }) => endpoint.id)).toEqual([endpointId])
    const detail = await asAdmin('GET', `${base}/${endpointId}`)
    expect(detail.json()).toMatchObject({ id: endpointId, circuitBreaker: { state: 'closed' } })
    const otherTenant = await createTenant(t.platform.database.db)
    const elsewhere = await asAdmin(
      'GET',
      `/v1/admin/tenants/${otherTenant.tenantId}/webhook-endpoints/${endpointId}`,
    )
    expect(elsewhere.statusCode).toBe(404)
  })

  it('answers 404 not-found for a tenant that does not exist, not an empty list', async () => {
    for (const tenantId of ['00000000-0000-4000-8000-000000000000', 'not-a-uuid']) {
      const res = await asAdmin('GET', `/v1/admin/tenants/${tenantId}/webhook-endpoints`)
      expect(res.statusCode, tenantId).toBe(404)
      expect(res.json()).toMatchObject({ type: '/problems/not-found', detail: `No tenant ${tenantId}` })
    }
  })

  it('shows a delivery that failed for good among the dead letters, with its attempt, and replays it', async () => {
    expect((await ingest(t.app, { key: tenant.key, events: [productUpserted('SKU-W')] })).statusCode).toBe(
      201,
    )
    const dead = await waitFor(
      async () => {
        const page = await asAdmin('GET', `${base}/${endpointId}/deliveries?status=failed`)
        return (page.json().data as Delivery[])[0]
      },
      { description: 'the delivery to a closed port among the dead letters' },
    )
    expect(dead.attempts).toHaveLength(1)
    expect(dead.attempts[0]!.statusCode).toBeNull()
    const replayed = await asAdmin('POST', `${base}/${endpointId}/deliveries/${dead.id}/retry`)
    expect(replayed.statusCode).toBe(202)
    await waitFor(
      async () => {
        const page = await asAdmin('GET', `${base}/${endpointId}/deliveries`)
        const delivery = (page.json().data as Delivery[]).find((d) => d.id === dead.id)
        return delivery !== undefined && delivery.attempts.length >= 2
      },
      { description: 'the replayed delivery attempted a second time' },
    )
  })
})
