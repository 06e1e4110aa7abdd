// What the end-to-end connector tests (square.test.ts, shopify.test.ts) read and ask of the test app: a
// source's inbox rows and stored event ids, a reconciliation run to its end through the admin API, and how
// often a provider's breakers opened.
import { sql } from 'drizzle-orm'
import { expect } from 'vitest'
import { registry } from '../../../src/platform/metrics.js'
import { adminApi } from '../../helpers/admin-api.js'
import type { TestApp } from '../../helpers/app.js'
import { waitFor } from '../../helpers/wait.js'

/**
 * The test app's settings: a fast inbox and retries, no scheduled reconciliation, and a breaker that opens
 * after a few failed calls and lets a probe through after 1.5 s.
 */
export const CONNECTOR_TEST_ENV: Readonly<Record<string, string>> = {
  CONNECTOR_POLL_INTERVAL_MS: '50',
  CONNECTOR_RETRY_BASE_DELAY_MS: '200',
  RECONCILE_INTERVAL_MINUTES: '0',
  OUTBOUND_TIMEOUT_MS: '1000',
  OUTBOUND_RETRY_MAX_ATTEMPTS: '2',
  OUTBOUND_RETRY_BASE_DELAY_MS: '10',
  OUTBOUND_RETRY_MAX_DELAY_MS: '100',
  OUTBOUND_BREAKER_MINIMUM_CALLS: '4',
  OUTBOUND_BREAKER_OPEN_MS: '1500',
}

export interface InboxRow {
  readonly status: string
  readonly attempts: number
  readonly provider_event_id: string
  readonly last_error: string | null
}

export function connectorApi(current: () => TestApp) {
  const { admin } = adminApi(current)

  async function inboxRows(sourceId: string): Promise<InboxRow[]> {
    const { rows } = await current().platform.database.db.execute(
      sql`SELECT status, attempts, provider_event_id, last_error FROM connector_inbox
          WHERE source_id = ${sourceId} ORDER BY id`,
    )
    return rows as unknown as InboxRow[]
  }

  async function eventsOf(sourceId: string): Promise<string[]> {
    const { rows } = await current().platform.database.db.execute(
      sql`SELECT event_id FROM events WHERE source_id = ${sourceId} ORDER BY seq`,
    )
    return (rows as { event_id: string }[]).map((row) => row.event_id)
  }

  /** Starts a reconciliation of the source through the admin API and answers the run once completed. */
  async function reconcileAndWait(c: { tenantId: string; sourceId: string }) {
    const path = `/v1/admin/tenants/${c.tenantId}/sources/${c.sourceId}`
    const started = await admin('POST', `${path}/reconcile`)
    expect(started.statusCode).toBe(202)
    const id = started.json().id as string
    return waitFor(
      async () => {
        const run = (await admin('GET', `${path}/reconciliations/${id}`)).json()
        return run.status === 'completed' ? run : undefined
      },
      { description: 'the reconciliation to complete', timeoutMs: 30_000 },
    )
  }

  return { inboxRows, eventsOf, reconcileAndWait }
}

/** How many times breakers of this provider's targets opened, from the metrics. */
export async function transitionsToOpen(kind: 'square' | 'shopify'): Promise<number> {
  const text = await registry.getSingleMetricAsString('circuit_breaker_transitions_total')
  return [...text.matchAll(/circuit_breaker_transitions_total\{([^}]*)\} (\d+)/g)]
    .filter(([, labels]) => labels!.includes(`target_kind="${kind}"`) && labels!.includes('to="open"'))
    .map((m) => Number(m[2]))
    .reduce((a, b) => a + b, 0)
}
