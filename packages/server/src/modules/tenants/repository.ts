// SQL for tenants, API keys, sources and stores. Every query is timed under `tenants.<operation>`. A failed
// query's parameters (key hashes, encrypted signing secrets) never reach the log: see
// platform/database-errors.ts. Signing secrets are encrypted here on the way in and decrypted on the way out
// (platform/secrets.ts), so that the rest of the service only ever sees them in clear, in memory.
import { randomUUID } from 'node:crypto'
import { and, asc, eq, isNull, sql } from 'drizzle-orm'
import {
  apiKeys,
  events,
  idempotencyKeys,
  type Scope,
  type SourceKind,
  sourceSigningSecretAad,
  sources,
  stockMovements,
  tenants,
} from '../../db/schema.js'
import type { Database } from '../../platform/database.js'
import { FOREIGN_KEY_VIOLATION, sqlState, UNIQUE_VIOLATION } from '../../platform/database-errors.js'
import { timedQuery } from '../../platform/metrics.js'
import type { RateLimitPolicy } from '../../platform/rate-limits.js'
import type { Secrets } from '../../platform/secrets.js'

export interface StoredApiKey {
  readonly id: string
  readonly tenantId: string
  readonly keyHash: string
  readonly scopes: readonly Scope[]
  /** The tenant's rate limit override, if it has one. */
  readonly rateLimit: RateLimitPolicy | null
}

export interface StoredSource {
  readonly id: string
  readonly tenantId: string
  readonly name: string
  readonly kind: SourceKind
  /** In clear: decrypted by findSource. */
  readonly signingSecrets: readonly string[]
}

export interface TenantRecord {
  readonly id: string
  readonly name: string
  /** The tenant's own rate limit per API key, or null for the service's default. */
  readonly rateLimit: RateLimitPolicy | null
  readonly createdAt: Date
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

/** A source as the admin sees it: whether it is signed, never its secrets. */
export interface SourceRecord {
  readonly id: string
  readonly tenantId: string
  readonly name: string
  readonly kind: SourceKind
  readonly signed: boolean
  readonly createdAt: Date
}

export interface NewApiKeyRow {
  readonly name: string
  readonly prefix: string
  readonly keyHash: string
  readonly scopes: readonly Scope[]
}

export interface NewSourceRow {
  readonly name: string
  readonly kind: SourceKind
  readonly signingSecrets: readonly string[]
}

/** Why a source was not created. */
export type SourceRefusal = 'unknown-tenant' | 'duplicate-name'

const tenantColumns = {
  id: tenants.id,
  name: tenants.name,
  rateLimitMax: tenants.rateLimitMax,
  rateLimitWindowMs: tenants.rateLimitWindowMs,
  createdAt: tenants.createdAt,
}

function rateLimitOf(row: {
  rateLimitMax: number | null
  rateLimitWindowMs: number | null
}): RateLimitPolicy | null {
  return row.rateLimitMax === null || row.rateLimitWindowMs === null
    ? null
    : { max: row.rateLimitMax, windowMs: row.rateLimitWindowMs }
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
  return { ...row, rateLimit: rateLimitOf({ rateLimitMax, rateLimitWindowMs }) }
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

const sourceColumns = {
  id: sources.id,
  tenantId: sources.tenantId,
  name: sources.name,
  kind: sources.kind,
  signed: sql<boolean>`cardinality(${sources.encryptedSigningSecrets}) > 0`.as('signed'),
  createdAt: sources.createdAt,
}

function toApiKey(row: { scopes: string[] } & Omit<ApiKeyRecord, 'scopes'>): ApiKeyRecord {
  return { ...row, scopes: row.scopes as Scope[] }
}

export class TenantsRepository {
  constructor(
    private readonly db: Database,
    private readonly secrets: Secrets,
  ) {}

  findActiveApiKey(prefix: string): Promise<StoredApiKey | undefined> {
    return timedQuery('tenants.findActiveApiKey', async () => {
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
        rateLimit: rateLimitOf({ rateLimitMax, rateLimitWindowMs }),
      }
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
          encryptedSigningSecrets: sources.encryptedSigningSecrets,
        })
        .from(sources)
        .where(and(eq(sources.tenantId, tenantId), eq(sources.name, name)))
        .limit(1)
      const row = rows[0]
      if (row === undefined) return undefined
      const { encryptedSigningSecrets, ...source } = row
      const aad = sourceSigningSecretAad(source.id)
      return {
        ...source,
        signingSecrets: encryptedSigningSecrets.map((stored) => this.secrets.decrypt(stored, aad)),
      }
    })
  }

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

  /** Deletes the tenant and, through the foreign keys, everything it owns. False when there was none. */
  deleteTenant(tenantId: string): Promise<boolean> {
    return timedQuery('tenants.deleteTenant', async () => {
      return this.db.transaction(async (tx) => {
        // The high-volume tables carry no foreign key (see db/schema.ts); everything else cascades.
        await tx.delete(events).where(eq(events.tenantId, tenantId))
        await tx.delete(idempotencyKeys).where(eq(idempotencyKeys.tenantId, tenantId))
        await tx.delete(stockMovements).where(eq(stockMovements.tenantId, tenantId))
        const rows = await tx.delete(tenants).where(eq(tenants.id, tenantId)).returning({ id: tenants.id })
        return rows.length > 0
      })
    })
  }

  /** The new key's record, or undefined when the tenant does not exist. */
  createApiKey(tenantId: string, key: NewApiKeyRow): Promise<ApiKeyRecord | undefined> {
    return timedQuery('tenants.createApiKey', async () => {
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
    return timedQuery('tenants.listApiKeys', async () => {
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
    return timedQuery('tenants.revokeApiKey', async () => {
      const [row] = await this.db
        .update(apiKeys)
        .set({ revokedAt: sql`coalesce(${apiKeys.revokedAt}, now())` })
        .where(and(eq(apiKeys.tenantId, tenantId), eq(apiKeys.id, keyId)))
        .returning(apiKeyColumns)
      return row && toApiKey(row)
    })
  }

  deleteApiKey(tenantId: string, keyId: string): Promise<boolean> {
    return timedQuery('tenants.deleteApiKey', async () => {
      const rows = await this.db
        .delete(apiKeys)
        .where(and(eq(apiKeys.tenantId, tenantId), eq(apiKeys.id, keyId)))
        .returning({ id: apiKeys.id })
      return rows.length > 0
    })
  }

  createSource(tenantId: string, source: NewSourceRow): Promise<SourceRecord | SourceRefusal> {
    return timedQuery('tenants.createSource', async () => {
      // The id is chosen here, not by the database: the encrypted secrets are bound to it.
      const id = randomUUID()
      const aad = sourceSigningSecretAad(id)
      const { signingSecrets, ...columns } = source
      try {
        const [row] = await this.db
          .insert(sources)
          .values({
            id,
            tenantId,
            ...columns,
            encryptedSigningSecrets: signingSecrets.map((secret) => this.secrets.encrypt(secret, aad)),
          })
          .returning(sourceColumns)
        if (row === undefined) throw new Error('INSERT … RETURNING returned no row')
        return row
      } catch (err) {
        if (sqlState(err) === FOREIGN_KEY_VIOLATION) return 'unknown-tenant'
        if (sqlState(err) === UNIQUE_VIOLATION) return 'duplicate-name'
        throw err
      }
    })
  }

  listSources(tenantId: string): Promise<SourceRecord[]> {
    return timedQuery('tenants.listSources', () =>
      this.db
        .select(sourceColumns)
        .from(sources)
        .where(eq(sources.tenantId, tenantId))
        .orderBy(asc(sources.createdAt), asc(sources.id)),
    )
  }

  deleteSource(tenantId: string, sourceId: string): Promise<boolean> {
    return timedQuery('tenants.deleteSource', async () => {
      const rows = await this.db
        .delete(sources)
        .where(and(eq(sources.tenantId, tenantId), eq(sources.id, sourceId)))
        .returning({ id: sources.id })
      return rows.length > 0
    })
  }

  /**
   * Puts the secret first and keeps the newest of the old ones as the second, so that senders can switch over;
   * older ones are dropped: a source holds at most two.
   */
  rotateSigningSecret(tenantId: string, sourceId: string, secret: string): Promise<SourceRecord | undefined> {
    return timedQuery('tenants.rotateSigningSecret', async () => {
      const [row] = await this.db
        .update(sources)
        .set({
          encryptedSigningSecrets: sql`array_prepend(${this.secrets.encrypt(secret, sourceSigningSecretAad(sourceId))}::text, ${sources.encryptedSigningSecrets}[1:1])`,
        })
        .where(and(eq(sources.tenantId, tenantId), eq(sources.id, sourceId)))
        .returning(sourceColumns)
      return row
    })
  }

  /** Keeps only the newest secret. */
  retirePreviousSigningSecret(tenantId: string, sourceId: string): Promise<SourceRecord | undefined> {
    return timedQuery('tenants.retirePreviousSigningSecret', async () => {
      const [row] = await this.db
        .update(sources)
        .set({ encryptedSigningSecrets: sql`${sources.encryptedSigningSecrets}[1:1]` })
        .where(and(eq(sources.tenantId, tenantId), eq(sources.id, sourceId)))
        .returning(sourceColumns)
      return row
    })
  }
}
