// Remote configuration of devices: what GET /v1/config answers a tenant's devices (the defaults, overridden
// field by field by the tenant's settings, then by its source's), and the admin operations that set it.
//
// Devices poll it, so an answer is cached per tenant and source, with its ETag already computed: a poll that
// hits the cache runs no query, and one that matches the ETag sends no body. Every change is published on the
// `device-config` invalidation channel (platform/invalidation.ts), so every replica drops the tenant's entries
// at once; without Redis, or while it is away, within DEVICE_CONFIG_CACHE_TTL_MS.
import { createHash } from 'node:crypto'
import {
  DEFAULT_DEVICE_CONFIG,
  DEVICE_CONFIG_FIELDS,
  type DeviceConfig,
  type DeviceConfigPatch,
  type DeviceConfigSettings,
} from '@pos/contracts/device-config'
import type { Database } from '../../platform/database.js'
import { areUuids } from '../../platform/ids.js'
import type { Invalidation } from '../../platform/invalidation.js'
import { ProblemError } from '../../platform/problems.js'
import { TenantCache } from '../../platform/tenant-cache.js'
import type { SourcesService } from '../sources/service.js'
import type { TenantsService } from '../tenants/service.js'
import { DeviceConfigRepository, type StoredSettings } from './repository.js'

/** The invalidation channel of device configuration; a message is a tenant id. */
export const DEVICE_CONFIG_CHANNEL = 'device-config'
/** How long a cached configuration may be served when no invalidation reaches this process. */
export const DEVICE_CONFIG_CACHE_TTL_MS = 5000

/** What a device is answered: the effective configuration and its strong ETag. */
export interface EffectiveDeviceConfig {
  readonly config: DeviceConfig
  readonly etag: string
}

/** One level as the admin sees it: what is set there, and what its devices get. */
export interface DeviceConfigLevel {
  readonly settings: DeviceConfigSettings
  readonly effective: DeviceConfig
  readonly updatedAt: Date | null
}

const NOTHING_SET: DeviceConfigSettings = Object.freeze({
  syncEnabled: null,
  minFlushIntervalSec: null,
  maxBatchSize: null,
  retryCap: null,
  maintenanceMode: null,
  minSdkVersion: null,
})

/** The defaults, overridden field by field by each level that sets the field, in order. */
export function effectiveConfig(...levels: readonly (DeviceConfigSettings | undefined)[]): DeviceConfig {
  const config: Record<string, unknown> = { ...DEFAULT_DEVICE_CONFIG }
  for (const level of levels) {
    for (const field of DEVICE_CONFIG_FIELDS) {
      const value = level?.[field]
      if (value !== null && value !== undefined) config[field] = value
    }
  }
  return config as DeviceConfig
}

/** A strong validator of the configuration: the same fields and values give the same tag. */
export function deviceConfigEtag(config: DeviceConfig): string {
  const canonical = JSON.stringify(DEVICE_CONFIG_FIELDS.map((field) => config[field]))
  return `"${createHash('sha256').update(canonical).digest('base64url').slice(0, 27)}"`
}

function level(stored: StoredSettings | undefined, ...above: (StoredSettings | undefined)[]) {
  return {
    settings: stored?.settings ?? NOTHING_SET,
    effective: effectiveConfig(...above.map((l) => l?.settings), stored?.settings),
    updatedAt: stored?.updatedAt ?? null,
  }
}

export class DeviceConfigService {
  readonly repository: DeviceConfigRepository
  readonly #tenants: TenantsService
  readonly #sources: SourcesService
  readonly #invalidation: Invalidation
  /** Answers by `<tenant id>/<source id, or nothing>`. */
  readonly #answers: TenantCache<EffectiveDeviceConfig & { readonly tenantId: string }>

  constructor(db: Database, tenants: TenantsService, sources: SourcesService, invalidation: Invalidation) {
    this.repository = new DeviceConfigRepository(db)
    this.#tenants = tenants
    this.#sources = sources
    this.#invalidation = invalidation
    this.#answers = new TenantCache(invalidation, DEVICE_CONFIG_CACHE_TTL_MS, DEVICE_CONFIG_CHANNEL)
  }

  /**
   * What the tenant's devices (of the named source, when one is) must obey. An unknown source name is
   * not-found, as it is on the ingest route.
   */
  async effectiveFor(tenantId: string, sourceName?: string): Promise<EffectiveDeviceConfig> {
    let sourceId: string | undefined
    if (sourceName !== undefined) {
      const source = await this.#sources.findSource(tenantId, sourceName)
      if (source === undefined) throw new ProblemError('not-found', `No source named ${sourceName}`)
      sourceId = source.id
    }
    const key = `${tenantId}/${sourceId ?? ''}`
    const cached = this.#answers.get(key)
    if (cached !== undefined) return cached
    return this.#answers.load(
      key,
      async () => {
        const levels = await this.repository.findLevels(tenantId, sourceId)
        const config = effectiveConfig(levels.tenant?.settings, levels.source?.settings)
        return { tenantId, config, etag: deviceConfigEtag(config) }
      },
      (answer) => answer.tenantId,
    )
  }

  async getTenantLevel(tenantId: string): Promise<DeviceConfigLevel> {
    await this.#tenants.getTenant(tenantId)
    return level((await this.repository.findLevels(tenantId, undefined)).tenant)
  }

  async patchTenantLevel(tenantId: string, patch: DeviceConfigPatch): Promise<DeviceConfigLevel> {
    await this.#tenants.getTenant(tenantId)
    const stored = await this.repository.patchLevel(tenantId, null, patch)
    await this.#published(tenantId)
    return level(stored)
  }

  async getSourceLevel(tenantId: string, sourceId: string): Promise<DeviceConfigLevel> {
    await this.#checkSource(tenantId, sourceId)
    const levels = await this.repository.findLevels(tenantId, sourceId)
    return level(levels.source, levels.tenant)
  }

  async patchSourceLevel(
    tenantId: string,
    sourceId: string,
    patch: DeviceConfigPatch,
  ): Promise<DeviceConfigLevel> {
    await this.#checkSource(tenantId, sourceId)
    await this.repository.patchLevel(tenantId, sourceId, patch)
    await this.#published(tenantId)
    const levels = await this.repository.findLevels(tenantId, sourceId)
    return level(levels.source, levels.tenant)
  }

  /** The source must be the tenant's: another tenant's, or none, is not-found. */
  async #checkSource(tenantId: string, sourceId: string): Promise<void> {
    const source = areUuids(tenantId, sourceId)
      ? await this.#sources.findConnectorSource(sourceId, tenantId)
      : undefined
    if (source === undefined) throw new ProblemError('not-found', `No source ${sourceId}`)
  }

  #published(tenantId: string): Promise<void> {
    return this.#invalidation.publish(DEVICE_CONFIG_CHANNEL, tenantId.toLowerCase())
  }
}
