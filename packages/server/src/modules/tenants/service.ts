// Tenants, their API keys and sources: who is calling, and what they may do. Lookups on the request path are
// cached for a few seconds. Every change to them is published as an invalidation (platform/invalidation.ts),
// so other replicas drop their entries at once; without Redis, or while it is away, within AUTH_CACHE_TTL_MS.
// The admin operations (the admin API and the CLI) live here too; an unknown or foreign id is not-found.
import { SCOPES, type Scope, type SourceKind } from '../../db/schema.js'
import type { ApiKeyVerifier, Principal } from '../../http/auth.js'
import type { Database } from '../../platform/database.js'
import type { Invalidation } from '../../platform/invalidation.js'
import { ProblemError } from '../../platform/problems.js'
import type { RateLimitPolicy } from '../../platform/rate-limits.js'
import { hashSecret, sameDigest } from '../../platform/secret-compare.js'
import type { Secrets } from '../../platform/secrets.js'
import { TtlCache } from '../../platform/ttl-cache.js'
import { apiKeyPrefix, generateApiKey } from './api-keys.js'
import {
  type ApiKeyRecord,
  type SourceRecord,
  type StoredSource,
  type TenantRecord,
  TenantsRepository,
} from './repository.js'

export const AUTH_CACHE_TTL_MS = 5000

/** Invalidation channel of credentials; a message is a tenant id: drop everything cached of that tenant. */
const CREDENTIALS_CHANNEL = 'credentials'

/** Source names the service uses itself: writes made through the API are logged under `api`. */
export const RESERVED_SOURCE_NAMES: readonly string[] = ['api']

const UUID_PATTERN = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i

export interface CreatedApiKey extends ApiKeyRecord {
  /** The key itself: returned once, at creation, and never stored. */
  readonly key: string
}

export interface NewSource {
  readonly name: string
  readonly kind: SourceKind
  readonly signingSecret?: string | undefined
}

/** Whether every id can name a row at all; a malformed id is simply not found. */
function areUuids(...ids: string[]): boolean {
  return ids.every((id) => UUID_PATTERN.test(id))
}

function notFound(what: string, id: string): ProblemError {
  return new ProblemError('not-found', `No ${what} ${id}`)
}

export class TenantsService implements ApiKeyVerifier {
  readonly repository: TenantsRepository
  readonly #principals = new TtlCache<Principal | null>(AUTH_CACHE_TTL_MS)
  readonly #sources = new TtlCache<StoredSource | null>(AUTH_CACHE_TTL_MS)
  readonly #invalidation: Invalidation | undefined
  /** Bumped by every drop: a lookup that overlapped a drop may have read the old row, so it is not cached. */
  #generation = 0

  /**
   * Signing secrets are stored encrypted under `secrets`' key, and decrypted once per (cached) lookup. With
   * `invalidation`, changes are published so that every replica drops its cached entries of the tenant.
   */
  constructor(db: Database, secrets: Secrets, invalidation?: Invalidation) {
    this.repository = new TenantsRepository(db, secrets)
    this.#invalidation = invalidation
    invalidation?.subscribe(CREDENTIALS_CHANNEL, {
      drop: (tenantId) => (UUID_PATTERN.test(tenantId) ? this.#forgetTenant(tenantId) : this.forgetCached()),
      dropAll: () => this.forgetCached(),
    })
  }

  /** The principal an API key stands for, or undefined when the key is unknown, malformed or revoked. */
  async authenticate(key: string): Promise<Principal | undefined> {
    const prefix = apiKeyPrefix(key)
    if (prefix === undefined) return undefined
    const hash = hashSecret(key)
    const cached = this.#principals.get(hash)
    if (cached !== undefined) return cached ?? undefined
    const generation = this.#generation
    const stored = await this.repository.findActiveApiKey(prefix)
    const principal =
      stored && sameDigest(hash, stored.keyHash)
        ? {
            tenantId: stored.tenantId,
            apiKeyId: stored.id,
            scopes: stored.scopes,
            rateLimit: stored.rateLimit,
          }
        : null
    if (generation === this.#generation) this.#principals.set(hash, principal)
    return principal ?? undefined
  }

  /** A source of the tenant by its slug; undefined when the tenant has none of that name. */
  async findSource(tenantId: string, name: string): Promise<StoredSource | undefined> {
    const cacheKey = `${tenantId}/${name}`
    const cached = this.#sources.get(cacheKey)
    if (cached !== undefined) return cached ?? undefined
    const generation = this.#generation
    const source = await this.repository.findSource(tenantId, name)
    if (generation === this.#generation) this.#sources.set(cacheKey, source ?? null)
    return source
  }

  /** Forgets every cached lookup: invalidations may have been missed. */
  forgetCached(): void {
    this.#generation++
    this.#principals.clear()
    this.#sources.clear()
  }

  /**
   * After a committed change to a tenant's keys, sources or limits: drops what this process cached of the
   * tenant, then tells every other process to do the same. The message names the tenant only, never a key
   * or its hash; a tenant's entries are few and admin changes rare, so dropping them all costs little.
   */
  async #invalidate(tenantId: string): Promise<void> {
    this.#forgetTenant(tenantId)
    await this.#invalidation?.publish(CREDENTIALS_CHANNEL, tenantId.toLowerCase())
  }

  #forgetTenant(tenantId: string): void {
    // Ids are matched case-insensitively by PostgreSQL; the cached ones are as the database returns them.
    const id = tenantId.toLowerCase()
    this.#generation++
    this.#principals.deleteWhere((principal) => principal?.tenantId === id)
    this.#sources.deleteWhere((_, key) => key.startsWith(`${id}/`))
  }

  hasTenants(): Promise<boolean> {
    return this.repository.hasTenants()
  }

  createTenant(name: string): Promise<TenantRecord> {
    return this.repository.createTenant(name)
  }

  listTenants(): Promise<TenantRecord[]> {
    return this.repository.listTenants()
  }

  async getTenant(tenantId: string): Promise<TenantRecord> {
    const tenant = areUuids(tenantId) ? await this.repository.findTenant(tenantId) : undefined
    if (tenant === undefined) throw notFound('tenant', tenantId)
    return tenant
  }

  /** Sets the tenant's rate limit per API key, or with null returns it to the service's default. */
  async setRateLimit(tenantId: string, policy: RateLimitPolicy | null): Promise<TenantRecord> {
    const tenant = areUuids(tenantId) ? await this.repository.setRateLimit(tenantId, policy) : undefined
    if (tenant === undefined) throw notFound('tenant', tenantId)
    await this.#invalidate(tenantId)
    return tenant
  }

  /** Deletes the tenant with all it owns: keys, sources, stores, events and projections. */
  async deleteTenant(tenantId: string): Promise<void> {
    if (!areUuids(tenantId) || !(await this.repository.deleteTenant(tenantId))) {
      throw notFound('tenant', tenantId)
    }
    await this.#invalidate(tenantId)
  }

  /** A new API key; every scope unless scopes are given. Only its prefix and hash are stored. */
  async createApiKey(
    tenantId: string,
    options: { readonly name: string; readonly scopes?: readonly Scope[] | undefined },
  ): Promise<CreatedApiKey> {
    const { key, prefix, hash } = generateApiKey()
    const scopes = options.scopes ?? SCOPES
    const created = areUuids(tenantId)
      ? await this.repository.createApiKey(tenantId, { name: options.name, prefix, keyHash: hash, scopes })
      : undefined
    if (created === undefined) throw notFound('tenant', tenantId)
    return { ...created, key }
  }

  async listApiKeys(tenantId: string): Promise<ApiKeyRecord[]> {
    await this.getTenant(tenantId)
    return this.repository.listApiKeys(tenantId)
  }

  /** Revokes the key at once, in every process; revoking a revoked key changes nothing. */
  async revokeApiKey(tenantId: string, keyId: string): Promise<ApiKeyRecord> {
    const revoked = areUuids(tenantId, keyId)
      ? await this.repository.revokeApiKey(tenantId, keyId)
      : undefined
    if (revoked === undefined) throw notFound('API key', keyId)
    await this.#invalidate(tenantId)
    return revoked
  }

  async deleteApiKey(tenantId: string, keyId: string): Promise<void> {
    if (!areUuids(tenantId, keyId) || !(await this.repository.deleteApiKey(tenantId, keyId))) {
      throw notFound('API key', keyId)
    }
    await this.#invalidate(tenantId)
  }

  /** A new source; signed when a signing secret is given. Its name must be free in the tenant. */
  async createSource(tenantId: string, source: NewSource): Promise<SourceRecord> {
    if (RESERVED_SOURCE_NAMES.includes(source.name)) {
      throw new ProblemError('validation-failed', `The source name "${source.name}" is reserved`, {
        errors: [{ location: 'body', pointer: '/name', message: 'is reserved for the service itself' }],
      })
    }
    const created = areUuids(tenantId)
      ? await this.repository.createSource(tenantId, {
          name: source.name,
          kind: source.kind,
          signingSecrets: source.signingSecret === undefined ? [] : [source.signingSecret],
        })
      : 'unknown-tenant'
    if (created === 'unknown-tenant') throw notFound('tenant', tenantId)
    if (created === 'duplicate-name') {
      throw new ProblemError('conflict', `The tenant already has a source named "${source.name}"`)
    }
    // An ingest request for this name may have been answered "no such source" and cached.
    await this.#invalidate(tenantId)
    return created
  }

  async listSources(tenantId: string): Promise<SourceRecord[]> {
    await this.getTenant(tenantId)
    return this.repository.listSources(tenantId)
  }

  async deleteSource(tenantId: string, sourceId: string): Promise<void> {
    if (!areUuids(tenantId, sourceId) || !(await this.repository.deleteSource(tenantId, sourceId))) {
      throw notFound('source', sourceId)
    }
    await this.#invalidate(tenantId)
  }

  /** Makes the secret the one to sign with; the previous one stays valid until it is retired. */
  async rotateSigningSecret(
    tenantId: string,
    sourceId: string,
    signingSecret: string,
  ): Promise<SourceRecord> {
    const rotated = areUuids(tenantId, sourceId)
      ? await this.repository.rotateSigningSecret(tenantId, sourceId, signingSecret)
      : undefined
    if (rotated === undefined) throw notFound('source', sourceId)
    await this.#invalidate(tenantId)
    return rotated
  }

  /** Stops accepting the previous secret once every sender signs with the current one. */
  async retirePreviousSigningSecret(tenantId: string, sourceId: string): Promise<SourceRecord> {
    const retired = areUuids(tenantId, sourceId)
      ? await this.repository.retirePreviousSigningSecret(tenantId, sourceId)
      : undefined
    if (retired === undefined) throw notFound('source', sourceId)
    await this.#invalidate(tenantId)
    return retired
  }
}
