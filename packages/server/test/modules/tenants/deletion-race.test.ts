// Deleting a tenant while one of its requests is being written: nothing of the tenant may outlive the deletion.
// The write is the service's own batch writer on the test app's database, held between two of its statements
// (a gate on its session) so that the deletion runs while the write's transaction is open.
import { randomUUID } from 'node:crypto'
import type { IngestBody } from '@pos/contracts/events'
import { sql } from 'drizzle-orm'
import pino from 'pino'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { type BatchOutcome, IngestBatchWriter } from '../../../src/modules/ingest/batch-writer.js'
import { validateEventData } from '../../../src/modules/ingest/events.js'
import { IdempotencyLedger, type IngestRequest } from '../../../src/modules/ingest/idempotency.js'
import type { DatabaseHandle, SqlSession } from '../../../src/platform/database.js'
import { ADMIN_TOKEN, startTestApp, type TestApp } from '../../helpers/app.js'
import { orderEvent, productUpserted, type TestEvent } from '../../helpers/ingest.js'
import { createTenant } from '../../helpers/tenants.js'
import { waitFor } from '../../helpers/wait.js'

/** Every table that holds rows of a tenant, with its tenant column. */
const TENANT_TABLES = [
  'events',
  'idempotency_keys',
  'stock_movements',
  'stock_levels',
  'products',
  'orders',
  'refunds',
  'stores',
  'sources',
  'api_keys',
]

/** The database, but a statement named `heldBefore` waits until `release()`; `held` resolves once one waits. */
function gated(database: DatabaseHandle, heldBefore: string) {
  let release!: () => void
  const opened = new Promise<void>((resolve) => {
    release = resolve
  })
  let reached!: () => void
  const held = new Promise<void>((resolve) => {
    reached = resolve
  })
  const wrap = (session: SqlSession): SqlSession => ({
    async query(statement, params) {
      if (statement.name === heldBefore) {
        reached()
        await opened
      }
      return session.query(statement, params)
    },
  })
  const handle: DatabaseHandle = {
    ...database,
    transaction: (work) => database.transaction((session) => work(wrap(session))),
    session: (work) => database.session((session) => work(wrap(session))),
  }
  return { handle, held, release }
}

describe('deleting a tenant while its request is written', () => {
  let t: TestApp
  beforeAll(async () => {
    t = await startTestApp()
  })
  afterAll(() => t.close())

  async function requestOf(tenantId: string, events: TestEvent[]): Promise<IngestRequest> {
    const { rows } = await t.platform.database.db.execute<{ id: string; name: string }>(
      sql`SELECT id, name FROM sources WHERE tenant_id = ${tenantId}`,
    )
    const validated = validateEventData(events as IngestBody['events'])
    if ('issue' in validated) throw new Error(validated.issue.message)
    return {
      tenantId,
      sourceId: rows[0]!.id,
      sourceName: rows[0]!.name,
      idempotencyKey: randomUUID(),
      fingerprint: randomUUID(),
      events: validated.events,
    }
  }

  const deleteTenant = (tenantId: string) =>
    t.app.inject({
      method: 'DELETE',
      url: `/v1/admin/tenants/${tenantId}`,
      headers: { authorization: `Bearer ${ADMIN_TOKEN}` },
    })

  /** Rows left of `tenantId`, by table (tables with none left out). */
  async function leftOf(tenantId: string): Promise<Record<string, number>> {
    const left: Record<string, number> = {}
    for (const table of TENANT_TABLES) {
      const { rows } = await t.platform.database.db.execute<{ n: number }>(
        sql`SELECT count(*)::int AS n FROM ${sql.identifier(table)} WHERE tenant_id = ${tenantId}`,
      )
      if (rows[0]!.n > 0) left[table] = rows[0]!.n
    }
    // Line items carry no tenant: any whose order is gone outlived it.
    const { rows } = await t.platform.database.db.execute<{ n: number }>(
      sql`SELECT count(*)::int AS n FROM order_line_items i
          WHERE NOT EXISTS (SELECT 1 FROM orders o WHERE o.id = i.order_pk)`,
    )
    if (rows[0]!.n > 0) left.order_line_items = rows[0]!.n
    return left
  }

  /** Whether a backend of the test database waits for a lock. */
  async function someoneWaitsForALock(): Promise<boolean> {
    const { rows } = await t.platform.database.db.execute<{ n: number }>(
      sql`SELECT count(*)::int AS n FROM pg_stat_activity
          WHERE datname = current_database() AND wait_event_type = 'Lock'`,
    )
    return rows[0]!.n > 0
  }

  /** A request with an event of every projection, so that every table of the tenant gets a row. */
  function everyKindOf(tenantId: string): Promise<IngestRequest> {
    const orderId = `order-${randomUUID()}`
    const at = new Date().toISOString()
    return requestOf(tenantId, [
      productUpserted(`SKU-${randomUUID()}`),
      orderEvent('order.completed', orderId),
      {
        id: randomUUID(),
        type: 'inventory.adjusted',
        occurredAt: at,
        data: { storeId: 'store-1', sku: 'SKU-1', delta: -1 },
      },
      {
        id: randomUUID(),
        type: 'refund.created',
        occurredAt: at,
        data: { orderId, refundId: 'refund-1', amount: { amount: 100, currency: 'EUR' } },
      },
    ])
  }

  it('deletes every row the write path stored for the tenant, though those tables have no foreign keys', async () => {
    const tenant = await createTenant(t.platform.database.db, { name: 'Deleted at rest' })
    const database = t.platform.database
    const writer = new IngestBatchWriter(database, new IdempotencyLedger(database), pino({ level: 'silent' }))
    const [outcome] = await writer.write([await everyKindOf(tenant.tenantId)])
    expect(outcome?.kind).toBe('created')
    const { rows } = await database.db.execute<{ n: number }>(
      sql`SELECT count(*)::int AS n FROM order_line_items i JOIN orders o ON o.id = i.order_pk
          WHERE o.tenant_id = ${tenant.tenantId}`,
    )
    expect(rows[0]!.n).toBe(1)
    expect(Object.keys(await leftOf(tenant.tenantId)).sort()).toEqual([...TENANT_TABLES].sort())

    expect((await deleteTenant(tenant.tenantId)).statusCode).toBe(204)
    expect(await leftOf(tenant.tenantId)).toEqual({})
  })

  it('removes the events, keys and projections of a write that was under way when the deletion began', async () => {
    const tenant = await createTenant(t.platform.database.db, { name: 'Deleted mid-write' })
    // An order needs a transaction, so the write is held open after WRITE_BATCH appended the events.
    const request = await everyKindOf(tenant.tenantId)
    const gate = gated(t.platform.database, 'ingest.upsertOrders')
    const writer = new IngestBatchWriter(
      gate.handle,
      new IdempotencyLedger(gate.handle),
      pino({ level: 'silent' }),
    )
    const writing = writer.write([request])
    await gate.held

    let deleted: number | undefined
    const deletion = deleteTenant(tenant.tenantId).then((res) => {
      deleted = res.statusCode
    })
    // The deletion either waits for the write's lock on the tenant, or (without one) has already finished.
    await waitFor(async () => deleted !== undefined || (await someoneWaitsForALock()), {
      description: 'the deletion running beside the open write',
    })
    gate.release()
    const [outcome] = await writing
    await deletion

    expect(outcome?.kind).toBe('created')
    expect(deleted).toBe(204)
    expect(await leftOf(tenant.tenantId)).toEqual({})
  })

  it('stores nothing for a request whose tenant was deleted after it was authenticated, and says so', async () => {
    const tenant = await createTenant(t.platform.database.db, { name: 'Deleted before the write' })
    const request = await requestOf(tenant.tenantId, [productUpserted(`SKU-${randomUUID()}`)])
    const other = await createTenant(t.platform.database.db, { name: 'Alive' })
    const alive = await requestOf(other.tenantId, [productUpserted(`SKU-${randomUUID()}`)])
    expect((await deleteTenant(tenant.tenantId)).statusCode).toBe(204)

    const database = t.platform.database
    const writer = new IngestBatchWriter(database, new IdempotencyLedger(database), pino({ level: 'silent' }))
    const outcomes: BatchOutcome[] = await writer.write([request, alive])

    expect(outcomes[0]).toMatchObject({ kind: 'rejected' })
    expect(outcomes[1]).toMatchObject({ kind: 'created', acceptedIds: [alive.events[0]!.id] })
    expect(await leftOf(tenant.tenantId)).toEqual({})
    expect((await leftOf(other.tenantId)).events).toBe(1)
  })
})
