// What the database holds during and at the end of a chaos run, read directly (not through the proxy): the
// event log and the projections of the tills' tenants, in the shapes the checker compares.
import pg from 'pg'
import type { StoredFacts } from './checker.js'

interface HeldProjections {
  readonly stock: Map<string, number>
  readonly orderTotals: Map<string, number>
  readonly refunds: Map<string, { count: number; sum: number }>
}

export class DatabaseReader {
  private constructor(private readonly client: pg.Client) {}

  static async open(databaseUrl: string): Promise<DatabaseReader> {
    const client = new pg.Client({ connectionString: databaseUrl })
    await client.connect()
    return new DatabaseReader(client)
  }

  /** The event ids in the log, per tenant. */
  async eventIds(tenantIds: readonly string[]): Promise<Map<string, Set<string>>> {
    const events = new Map<string, Set<string>>(tenantIds.map((id) => [id, new Set()]))
    const logged = await this.client.query<{ tenant_id: string; event_id: string }>(
      'SELECT tenant_id, event_id FROM events WHERE tenant_id = ANY($1)',
      [tenantIds],
    )
    for (const row of logged.rows) events.get(row.tenant_id)?.add(row.event_id)
    return events
  }

  async facts(tenantIds: readonly string[]): Promise<StoredFacts> {
    const projections = new Map<string, HeldProjections>(
      tenantIds.map((id) => [id, { stock: new Map(), orderTotals: new Map(), refunds: new Map() }]),
    )
    const stock = await this.client.query<{ tenant_id: string; code: string; sku: string; on_hand: string }>(
      `SELECT l.tenant_id, s.code, l.sku, l.on_hand FROM stock_levels l JOIN stores s ON s.id = l.store_id
       WHERE l.tenant_id = ANY($1)`,
      [tenantIds],
    )
    for (const row of stock.rows)
      projections.get(row.tenant_id)?.stock.set(`${row.code}/${row.sku}`, Number(row.on_hand))
    const orders = await this.client.query<{ tenant_id: string; order_id: string; total_amount: string }>(
      'SELECT tenant_id, order_id, total_amount FROM orders WHERE tenant_id = ANY($1)',
      [tenantIds],
    )
    for (const row of orders.rows)
      projections.get(row.tenant_id)?.orderTotals.set(row.order_id, Number(row.total_amount))
    const refunds = await this.client.query<{
      tenant_id: string
      order_id: string
      count: string
      sum: string
    }>(
      `SELECT tenant_id, order_id, count(*) AS count, sum(amount) AS sum FROM refunds
       WHERE tenant_id = ANY($1) GROUP BY tenant_id, order_id`,
      [tenantIds],
    )
    for (const row of refunds.rows)
      projections
        .get(row.tenant_id)
        ?.refunds.set(row.order_id, { count: Number(row.count), sum: Number(row.sum) })
    return { events: await this.eventIds(tenantIds), projections }
  }

  close(): Promise<void> {
    return this.client.end()
  }
}
