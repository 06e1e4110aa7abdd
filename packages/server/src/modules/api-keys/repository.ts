// SQL for API keys. Every query is timed under `api-keys.<operation>`. Only a key's prefix and SHA-256 are
// stored (keys.ts); a failed query's parameters never reach the log (platform/database-errors.ts). The lookup
// of the request path joins the key's tenant, whose rate limit override each principal carries.

import type { Scope } from '@pos/contracts/admin'
import { and, asc, eq, isNull, sql } from 'drizzle-orm'
import { apiKeys, tenants } from '../../db/schema.js'
import type { Database } from '../../platform/database.js'
import { FOREIGN_KEY_VIOLATION, sqlState } from '../../platform/database-errors.js'
import { timedQuery } from '../../platform/metrics.js'
import { type RateLimitPolicy, storedRateLimit } from '../../platform/rate-limits.js'

export interface StoredApiKey {
  readonly id: string
  readonly tenantId: string
  readonly keyHash: string
  readonly scopes: readonly Scope[]
  /** The tenant's rate limit override, if it has one. */
  readonly rateLimit: RateLimitPolicy | null
}

/** An API key as the admin sees it: never its hash. */
export interface ApiKeyRecord {
  readonly id: string
  readonly tenantId: string
  readonly name: string
  readonly prefix: string
  readonly scopes: readonly Scope[]
  readonly createdAt: Date
  readonly revokedAt: Date | null
}

export interface NewApiKeyRow {
  readonly name: string
  readonly prefix: string
  readonly keyHash: string
  readonly scopes: readonly Scope[]
}

const apiKeyColumns = {
  id: apiKeys.id,
  tenantId: apiKeys.tenantId,
  name: apiKeys.name,
  prefix: apiKeys.prefix,
  scopes: apiKeys.scopes,
  createdAt: apiKeys.createdAt,
  revokedAt: apiKeys.revokedAt,
}

function toApiKey(row: { scopes: string[] } & Omit<ApiKeyRecord, 'scopes'>): ApiKeyRecord {
  return { ...row, scopes: row.scopes as Scope[] }
}

export class ApiKeysRepository {
  constructor(private readonly db: Database) {}

  findActiveApiKey(prefix: string): Promise<StoredApiKey | undefined> {
    return timedQuery('api-keys.findActiveApiKey', async () => {
      const rows = await this.db
        .select({
          id: apiKeys.id,
          tenantId: apiKeys.tenantId,
          keyHash: apiKeys.keyHash,
          scopes: apiKeys.scopes,
          rateLimitMax: tenants.rateLimitMax,
          rateLimitWindowMs: tenants.rateLimitWindowMs,
        })
        .from(apiKeys)
        .innerJoin(tenants, eq(tenants.id, apiKeys.tenantId))
        .where(and(eq(apiKeys.prefix, prefix), isNull(apiKeys.revokedAt)))
        .limit(1)
      const row = rows[0]
      if (row === undefined) return undefined
      const { rateLimitMax, rateLimitWindowMs, ...key } = row
      return {
        ...key,
        scopes: key.scopes as Scope[],
        rateLimit: storedRateLimit({ rateLimitMax, rateLimitWindowMs }),
      }
    })
  }

  /** The new key's record, or undefined when the tenant does not exist. */
  createApiKey(tenantId: string, key: NewApiKeyRow): Promise<ApiKeyRecord | undefined> {
    return timedQuery('api-keys.createApiKey', async () => {
      try {
        const [row] = await this.db
          .insert(apiKeys)
          .values({ tenantId, ...key, scopes: [...key.scopes] })
          .returning(apiKeyColumns)
        return row && toApiKey(row)
      } catch (err) {
        if (sqlState(err) === FOREIGN_KEY_VIOLATION) return undefined
        throw err
      }
    })
  }

  listApiKeys(tenantId: string): Promise<ApiKeyRecord[]> {
    return timedQuery('api-keys.listApiKeys', async () => {
      const rows = await this.db
        .select(apiKeyColumns)
        .from(apiKeys)
        .where(eq(apiKeys.tenantId, tenantId))
        .orderBy(asc(apiKeys.createdAt), asc(apiKeys.id))
      return rows.map(toApiKey)
    })
  }

  /** Marks the key revoked; a key revoked before keeps its first revocation time. */
  revokeApiKey(tenantId: string, keyId: string): Promise<ApiKeyRecord | undefined> {
    return timedQuery('api-keys.revokeApiKey', async () => {
      const [row] = await this.db
        .update(apiKeys)
        .set({ revokedAt: sql`coalesce(${apiKeys.revokedAt}, now())` })
        .where(and(eq(apiKeys.tenantId, tenantId), eq(apiKeys.id, keyId)))
        .returning(apiKeyColumns)
      return row && toApiKey(row)
    })
  }

  deleteApiKey(tenantId: string, keyId: string): Promise<boolean> {
    return timedQuery('api-keys.deleteApiKey', async () => {
      const rows = await this.db
        .delete(apiKeys)
        .where(and(eq(apiKeys.tenantId, tenantId), eq(apiKeys.id, keyId)))
        .returning({ id: apiKeys.id })
      return rows.length > 0
    })
  }
}
