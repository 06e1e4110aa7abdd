// SQL for tenants, API keys, sources and stores.
import { and, eq, isNull } from 'drizzle-orm'
import { apiKeys, type Scope, type SourceKind, sources } from '../../db/schema.js'
import type { Database } from '../../platform/database.js'
import { timedQuery } from '../../platform/metrics.js'

export interface StoredApiKey {
  readonly id: string
  readonly tenantId: string
  readonly keyHash: string
  readonly scopes: readonly Scope[]
}

export interface StoredSource {
  readonly id: string
  readonly tenantId: string
  readonly name: string
  readonly kind: SourceKind
  readonly signingSecrets: readonly string[]
}

export class TenantsRepository {
  constructor(private readonly db: Database) {}

  findActiveApiKey(prefix: string): Promise<StoredApiKey | undefined> {
    return timedQuery('tenants.findActiveApiKey', async () => {
      const rows = await this.db
        .select({
          id: apiKeys.id,
          tenantId: apiKeys.tenantId,
          keyHash: apiKeys.keyHash,
          scopes: apiKeys.scopes,
        })
        .from(apiKeys)
        .where(and(eq(apiKeys.prefix, prefix), isNull(apiKeys.revokedAt)))
        .limit(1)
      const row = rows[0]
      return row && { ...row, scopes: row.scopes as Scope[] }
    })
  }

  findSource(tenantId: string, name: string): Promise<StoredSource | undefined> {
    return timedQuery('tenants.findSource', async () => {
      const rows = await this.db
        .select({
          id: sources.id,
          tenantId: sources.tenantId,
          name: sources.name,
          kind: sources.kind,
          signingSecrets: sources.signingSecrets,
        })
        .from(sources)
        .where(and(eq(sources.tenantId, tenantId), eq(sources.name, name)))
        .limit(1)
      return rows[0]
    })
  }
}
