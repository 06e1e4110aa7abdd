// Tenants: who the service works for, each with an optional rate limit per API key. For the admin API and the
// CLI; an unknown or malformed id is not-found. A tenant's API keys and sources are the api-keys and sources
// modules'; changing a tenant's rate limit or deleting it is published as a credentials change
// (platform/tenant-cache.ts), so that no process keeps serving the tenant's cached keys and sources.
import type { Database } from '../../platform/database.js'
import { areUuids } from '../../platform/ids.js'
import type { Invalidation } from '../../platform/invalidation.js'
import { ProblemError } from '../../platform/problems.js'
import type { RateLimitPolicy } from '../../platform/rate-limits.js'
import { publishCredentialsChange } from '../../platform/tenant-cache.js'
import { type TenantRecord, TenantsRepository } from './repository.js'

/** The answer to an admin operation on a tenant that does not exist. */
export function tenantNotFound(tenantId: string): ProblemError {
  return new ProblemError('not-found', `No tenant ${tenantId}`)
}

export class TenantsService {
  readonly #repository: TenantsRepository
  readonly #invalidation: Invalidation

  constructor(db: Database, invalidation: Invalidation) {
    this.#repository = new TenantsRepository(db)
    this.#invalidation = invalidation
  }

  hasTenants(): Promise<boolean> {
    return this.#repository.hasTenants()
  }

  createTenant(name: string): Promise<TenantRecord> {
    return this.#repository.createTenant(name)
  }

  listTenants(): Promise<TenantRecord[]> {
    return this.#repository.listTenants()
  }

  async getTenant(tenantId: string): Promise<TenantRecord> {
    const tenant = areUuids(tenantId) ? await this.#repository.findTenant(tenantId) : undefined
    if (tenant === undefined) throw tenantNotFound(tenantId)
    return tenant
  }

  /** Sets the tenant's rate limit per API key, or with null returns it to the service's default. */
  async setRateLimit(tenantId: string, policy: RateLimitPolicy | null): Promise<TenantRecord> {
    const tenant = areUuids(tenantId) ? await this.#repository.setRateLimit(tenantId, policy) : undefined
    if (tenant === undefined) throw tenantNotFound(tenantId)
    // Each cached API key carries its tenant's limit.
    await publishCredentialsChange(this.#invalidation, tenantId)
    return tenant
  }

  /** Deletes the tenant with all it owns: keys, sources, stores, events and projections. */
  async deleteTenant(tenantId: string): Promise<void> {
    if (!areUuids(tenantId) || !(await this.#repository.deleteTenant(tenantId))) {
      throw tenantNotFound(tenantId)
    }
    await publishCredentialsChange(this.#invalidation, tenantId)
  }
}
