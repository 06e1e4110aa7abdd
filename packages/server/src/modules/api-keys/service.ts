// API keys: who is calling, and what they may do. authenticate() is the ApiKeyVerifier the auth plugin checks
// every request's key with (http/auth.ts); its answers are cached per tenant for a few seconds
// (platform/tenant-cache.ts), and revoking or deleting a key is published so that every process drops them at
// once; without Redis, or while it is away, other processes within AUTH_CACHE_TTL_MS. The admin operations
// (the admin API and the CLI) live here too; an unknown or foreign id is not-found.
import { SCOPES, type Scope } from '@pos/contracts/admin'
import type { ApiKeyVerifier, Principal } from '../../http/auth.js'
import type { Database } from '../../platform/database.js'
import { areUuids } from '../../platform/ids.js'
import type { Invalidation } from '../../platform/invalidation.js'
import { ProblemError } from '../../platform/problems.js'
import { hashSecret, sameDigest } from '../../platform/secret-compare.js'
import { publishCredentialsChange, TenantCache } from '../../platform/tenant-cache.js'
import { type TenantsService, tenantNotFound } from '../tenants/service.js'
import { apiKeyPrefix, generateApiKey } from './keys.js'
import { type ApiKeyRecord, ApiKeysRepository } from './repository.js'

export interface CreatedApiKey extends ApiKeyRecord {
  /** The key itself: returned once, at creation, and never stored. */
  readonly key: string
}

function keyNotFound(keyId: string): ProblemError {
  return new ProblemError('not-found', `No API key ${keyId}`)
}

export class ApiKeysService implements ApiKeyVerifier {
  readonly #repository: ApiKeysRepository
  readonly #tenants: TenantsService
  readonly #invalidation: Invalidation
  /** Principals by the hash of their key; null for a key that names none. */
  readonly #principals: TenantCache<Principal | null>

  constructor(db: Database, tenants: TenantsService, invalidation: Invalidation) {
    this.#repository = new ApiKeysRepository(db)
    this.#tenants = tenants
    this.#invalidation = invalidation
    this.#principals = new TenantCache(invalidation)
  }

  /** The principal an API key stands for, or undefined when the key is unknown, malformed or revoked. */
  async authenticate(key: string): Promise<Principal | undefined> {
    const prefix = apiKeyPrefix(key)
    if (prefix === undefined) return undefined
    const hash = hashSecret(key)
    const cached = this.#principals.get(hash)
    if (cached !== undefined) return cached ?? undefined
    const principal = await this.#principals.load(
      hash,
      async () => {
        const stored = await this.#repository.findActiveApiKey(prefix)
        return stored && sameDigest(hash, stored.keyHash)
          ? {
              tenantId: stored.tenantId,
              apiKeyId: stored.id,
              scopes: stored.scopes,
              rateLimit: stored.rateLimit,
            }
          : null
      },
      (found) => found?.tenantId,
    )
    return principal ?? undefined
  }

  /** A new API key; every scope unless scopes are given. Only its prefix and hash are stored. */
  async createApiKey(
    tenantId: string,
    options: { readonly name: string; readonly scopes?: readonly Scope[] | undefined },
  ): Promise<CreatedApiKey> {
    const { key, prefix, hash } = generateApiKey()
    const scopes = options.scopes ?? SCOPES
    const created = areUuids(tenantId)
      ? await this.#repository.createApiKey(tenantId, { name: options.name, prefix, keyHash: hash, scopes })
      : undefined
    if (created === undefined) throw tenantNotFound(tenantId)
    return { ...created, key }
  }

  async listApiKeys(tenantId: string): Promise<ApiKeyRecord[]> {
    await this.#tenants.getTenant(tenantId)
    return this.#repository.listApiKeys(tenantId)
  }

  /** Revokes the key at once, in every process; revoking a revoked key changes nothing. */
  async revokeApiKey(tenantId: string, keyId: string): Promise<ApiKeyRecord> {
    const revoked = areUuids(tenantId, keyId)
      ? await this.#repository.revokeApiKey(tenantId, keyId)
      : undefined
    if (revoked === undefined) throw keyNotFound(keyId)
    await publishCredentialsChange(this.#invalidation, tenantId)
    return revoked
  }

  async deleteApiKey(tenantId: string, keyId: string): Promise<void> {
    if (!areUuids(tenantId, keyId) || !(await this.#repository.deleteApiKey(tenantId, keyId))) {
      throw keyNotFound(keyId)
    }
    await publishCredentialsChange(this.#invalidation, tenantId)
  }
}
