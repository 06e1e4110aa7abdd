// Caches of what the request path reads about a tenant's credentials (API keys, sources), kept as fresh as
// the admin changes to them. A change to a tenant's keys, sources or limits is published on the `credentials`
// channel once it is committed (publishCredentialsChange); every TenantCache, in this process at once and in
// the others as the message arrives (platform/invalidation.ts), drops that tenant's entries. When no message
// can arrive (no Redis, or Redis away), an entry is served for AUTH_CACHE_TTL_MS at most.
//
// A lookup that overlapped a drop may have read the row as it was before the change: it is answered, but not
// cached, or it would be served after the drop meant to remove it. A generation counter tells.
import { areUuids } from './ids.js'
import type { Invalidation } from './invalidation.js'
import { TtlCache } from './ttl-cache.js'

/** How long a cached lookup may be served when no invalidation reaches this process. */
export const AUTH_CACHE_TTL_MS = 5000

/** The invalidation channel of credentials; a message is a tenant id: drop everything cached of that tenant. */
export const CREDENTIALS_CHANNEL = 'credentials'

/**
 * After a committed change to a tenant's API keys, sources or rate limit: this process's caches drop the
 * tenant's entries before this returns a promise, every other process's when the message reaches it. The
 * message names the tenant only, never a key or its hash; a tenant's entries are few and admin changes rare,
 * so dropping them all costs little.
 */
export function publishCredentialsChange(invalidation: Invalidation, tenantId: string): Promise<void> {
  // Ids are matched case-insensitively by PostgreSQL; the cached ones are as the database returns them.
  return invalidation.publish(CREDENTIALS_CHANNEL, tenantId.toLowerCase())
}

interface Entry<V> {
  readonly value: V
  /** Lowercase; undefined for an entry of no tenant (an unknown API key), which only its TTL removes. */
  readonly tenantId: string | undefined
}

/**
 * A TTL cache whose entries belong to tenants, dropped per tenant on an invalidation channel: the credentials
 * channel unless another is named (the message is a tenant id, as publishCredentialsChange sends it).
 */
export class TenantCache<V> {
  readonly #entries: TtlCache<Entry<V>>
  /** Bumped by every drop: a lookup that started before it is not cached. */
  #generation = 0

  /** `V` must not include undefined, which `get` answers for a miss: cache a known absence as null. */
  constructor(invalidation: Invalidation, ttlMs = AUTH_CACHE_TTL_MS, channel = CREDENTIALS_CHANNEL) {
    this.#entries = new TtlCache(ttlMs)
    invalidation.subscribe(channel, {
      drop: (tenantId) => (areUuids(tenantId) ? this.dropTenant(tenantId) : this.dropAll()),
      dropAll: () => this.dropAll(),
    })
  }

  /** The cached value, or undefined on a miss. */
  get(key: string): V | undefined {
    return this.#entries.get(key)?.value
  }

  /**
   * What `lookup` answers, cached under `key` as an entry of the tenant `tenantOf` names, unless a drop
   * happened while it ran.
   */
  async load(key: string, lookup: () => Promise<V>, tenantOf: (value: V) => string | undefined): Promise<V> {
    const generation = this.#generation
    const value = await lookup()
    if (generation === this.#generation) {
      this.#entries.set(key, { value, tenantId: tenantOf(value)?.toLowerCase() })
    }
    return value
  }

  dropTenant(tenantId: string): void {
    const id = tenantId.toLowerCase()
    this.#generation++
    this.#entries.deleteWhere((entry) => entry.tenantId === id)
  }

  /** Drops every entry: invalidations may have been missed. */
  dropAll(): void {
    this.#generation++
    this.#entries.clear()
  }
}
