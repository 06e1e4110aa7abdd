// SQL for tenants: the tenants table, with each tenant's rate limit override. Every query is timed under
// `tenants.<operation>`. Other modules own the tables of what a tenant has (api-keys, sources, ingest, ...);
// deleteTenant still names some of them, because it is the one place that removes a tenant with everything it
// owns, in one transaction: the tables the ingest write path writes (events, keys, stock, catalogue, orders,
// refunds), which have no foreign key, explicitly; the rest (API keys, sources, stores, webhooks, connectors)
// through their foreign keys' ON DELETE CASCADE. It first locks the tenant's row, which every ingest write
// holds FOR KEY SHARE while it runs (ingest/statements.ts WRITE_BATCH): a write under way commits before the
// deletion reads what to delete, and a later one finds the tenant gone and writes nothing. Without the lock,
// events a write had appended but not yet committed were invisible to the deletion and outlived their tenant.
import { asc, eq, inArray } from 'drizzle-orm'
import {
  events,
  idempotencyKeys,
  orderLineItems,
  orders,
  products,
  refunds,
  stockLevels,
  stockMovements,
  tenants,
} from '../../db/schema.js'
import type { Database } from '../../platform/database.js'
import { timedQuery } from '../../platform/metrics.js'
import { type RateLimitPolicy, storedRateLimit } from '../../platform/rate-limits.js'

/** The tables with a tenant column that the ingest write path fills, without foreign keys (db/schema.ts). */
const WRITE_PATH_TABLES = [orders, refunds, stockLevels, stockMovements, products, events, idempotencyKeys]

export interface TenantRecord {
  readonly id: string
  readonly name: string
  /** The tenant's own rate limit per API key, or null for the service's default. */
  readonly rateLimit: RateLimitPolicy | null
  readonly createdAt: Date
}

const tenantColumns = {
  id: tenants.id,
  name: tenants.name,
  rateLimitMax: tenants.rateLimitMax,
  rateLimitWindowMs: tenants.rateLimitWindowMs,
  createdAt: tenants.createdAt,
}

function toTenant({
  rateLimitMax,
  rateLimitWindowMs,
  ...row
}: {
  id: string
  name: string
  rateLimitMax: number | null
  rateLimitWindowMs: number | null
  createdAt: Date
}): TenantRecord {
  return { ...row, rateLimit: storedRateLimit({ rateLimitMax, rateLimitWindowMs }) }
}

export class TenantsRepository {
  constructor(private readonly db: Database) {}

  hasTenants(): Promise<boolean> {
    return timedQuery('tenants.hasTenants', async () => {
      const rows = await this.db.select({ id: tenants.id }).from(tenants).limit(1)
      return rows.length > 0
    })
  }

  createTenant(name: string): Promise<TenantRecord> {
    return timedQuery('tenants.createTenant', async () => {
      const [row] = await this.db.insert(tenants).values({ name }).returning(tenantColumns)
      if (row === undefined) throw new Error('INSERT … RETURNING returned no row')
      return toTenant(row)
    })
  }

  listTenants(): Promise<TenantRecord[]> {
    return timedQuery('tenants.listTenants', async () =>
      (
        await this.db.select(tenantColumns).from(tenants).orderBy(asc(tenants.createdAt), asc(tenants.id))
      ).map(toTenant),
    )
  }

  findTenant(tenantId: string): Promise<TenantRecord | undefined> {
    return timedQuery('tenants.findTenant', async () => {
      const rows = await this.db.select(tenantColumns).from(tenants).where(eq(tenants.id, tenantId))
      return rows[0] && toTenant(rows[0])
    })
  }

  /** Sets (or with null, removes) the tenant's rate limit override; undefined when there is no such tenant. */
  setRateLimit(tenantId: string, policy: RateLimitPolicy | null): Promise<TenantRecord | undefined> {
    return timedQuery('tenants.setRateLimit', async () => {
      const rows = await this.db
        .update(tenants)
        .set({ rateLimitMax: policy?.max ?? null, rateLimitWindowMs: policy?.windowMs ?? null })
        .where(eq(tenants.id, tenantId))
        .returning(tenantColumns)
      return rows[0] && toTenant(rows[0])
    })
  }

  /** Deletes the tenant and everything it owns. False when there was none. */
  deleteTenant(tenantId: string): Promise<boolean> {
    return timedQuery('tenants.deleteTenant', async () => {
      return this.db.transaction(async (tx) => {
        const [found] = await tx
          .select({ id: tenants.id })
          .from(tenants)
          .where(eq(tenants.id, tenantId))
          .for('update')
        if (found === undefined) return false
        // The write path's tables carry no foreign key (see db/schema.ts); everything else cascades.
        const orderIds = tx.select({ id: orders.id }).from(orders).where(eq(orders.tenantId, tenantId))
        await tx.delete(orderLineItems).where(inArray(orderLineItems.orderPk, orderIds))
        for (const table of WRITE_PATH_TABLES) await tx.delete(table).where(eq(table.tenantId, tenantId))
        await tx.delete(tenants).where(eq(tenants.id, tenantId))
        return true
      })
    })
  }
}
