// Tenants, their API keys and sources: who is calling, and what they may do. Lookups on the request path are
// cached for a few seconds; a revocation therefore takes effect on other replicas within AUTH_CACHE_TTL_MS.
import type { Scope } from '../../db/schema.js'
import type { Database } from '../../platform/database.js'
import { TtlCache } from '../../platform/ttl-cache.js'
import { apiKeyPrefix, hashSecret, sameDigest } from './api-keys.js'
import { type StoredSource, TenantsRepository } from './repository.js'

export const AUTH_CACHE_TTL_MS = 5000

export interface Principal {
  readonly tenantId: string
  readonly apiKeyId: string
  readonly scopes: readonly Scope[]
}

export class TenantsService {
  readonly repository: TenantsRepository
  readonly #principals = new TtlCache<Principal | null>(AUTH_CACHE_TTL_MS)
  readonly #sources = new TtlCache<StoredSource | null>(AUTH_CACHE_TTL_MS)

  constructor(db: Database) {
    this.repository = new TenantsRepository(db)
  }

  /** The principal an API key stands for, or undefined when the key is unknown, malformed or revoked. */
  async authenticate(key: string): Promise<Principal | undefined> {
    const prefix = apiKeyPrefix(key)
    if (prefix === undefined) return undefined
    const hash = hashSecret(key)
    const cached = this.#principals.get(hash)
    if (cached !== undefined) return cached ?? undefined
    const stored = await this.repository.findActiveApiKey(prefix)
    const principal =
      stored && sameDigest(hash, stored.keyHash)
        ? { tenantId: stored.tenantId, apiKeyId: stored.id, scopes: stored.scopes }
        : null
    this.#principals.set(hash, principal)
    return principal ?? undefined
  }

  /** A source of the tenant by its slug; undefined when the tenant has none of that name. */
  async findSource(tenantId: string, name: string): Promise<StoredSource | undefined> {
    const cacheKey = `${tenantId}/${name}`
    const cached = this.#sources.get(cacheKey)
    if (cached !== undefined) return cached ?? undefined
    const source = await this.repository.findSource(tenantId, name)
    this.#sources.set(cacheKey, source ?? null)
    return source
  }

  /** Forgets cached lookups after a change made through this process (revocation, deletion, rotation). */
  forgetCached(): void {
    this.#principals.clear()
    this.#sources.clear()
  }
}
