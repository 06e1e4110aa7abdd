// Sources: where a tenant's events come from, each by a slug of the ingest URL, signed or not. findSource() is
// what the ingest route reads on every request; its answers are cached per tenant for a few seconds
// (platform/tenant-cache.ts), and every change to a source is published so that every process drops them at
// once; without Redis, or while it is away, other processes within AUTH_CACHE_TTL_MS. The admin operations
// (the admin API and the CLI) live here too; an unknown or foreign id is not-found.
import type { ConnectorInput, ConnectorPatch, SourceKind } from '@pos/contracts/admin'
import type { Database } from '../../platform/database.js'
import { areUuids } from '../../platform/ids.js'
import type { Invalidation } from '../../platform/invalidation.js'
import { ProblemError } from '../../platform/problems.js'
import type { Secrets } from '../../platform/secrets.js'
import { publishCredentialsChange, TenantCache } from '../../platform/tenant-cache.js'
import { isConnectorKind, type StoredConnector, storedConnector } from '../connectors/config.js'
import { type TenantsService, tenantNotFound } from '../tenants/service.js'
import {
  type ConnectorSource,
  type SourceRecord,
  SourcesRepository,
  type StoredSource,
} from './repository.js'

/** Source names the service uses itself: writes made through the API are logged under `api`. */
export const RESERVED_SOURCE_NAMES: readonly string[] = ['api']

export interface NewSource {
  readonly name: string
  readonly kind: SourceKind
  readonly signingSecret?: string | undefined
  /** Square's or Shopify's settings and secrets, for a source of that kind. */
  readonly connector?: ConnectorInput | undefined
}

/** The connector configuration checked against the source's kind, or a 422 naming the field. */
function checkedConnector(
  kind: SourceKind,
  fields: Readonly<Record<string, string | undefined>>,
  pointer: string,
): StoredConnector {
  if (!isConnectorKind(kind)) {
    throw new ProblemError('validation-failed', `A source of kind ${kind} has no connector`, {
      errors: [{ location: 'body', pointer, message: `is only for a square or shopify source` }],
    })
  }
  const stored = storedConnector(kind, fields)
  if ('pointer' in stored) {
    throw new ProblemError('validation-failed', `${pointer}${stored.pointer} ${stored.message}`, {
      errors: [{ location: 'body', pointer: `${pointer}${stored.pointer}`, message: stored.message }],
    })
  }
  return stored
}

function sourceNotFound(sourceId: string): ProblemError {
  return new ProblemError('not-found', `No source ${sourceId}`)
}

export class SourcesService {
  readonly repository: SourcesRepository
  readonly #tenants: TenantsService
  readonly #invalidation: Invalidation
  /** Sources by `<tenant id>/<name>`; null for a name the tenant has no source of. */
  readonly #sources: TenantCache<StoredSource | null>

  /** Signing secrets are stored encrypted under `secrets`' key, and decrypted once per (cached) lookup. */
  constructor(db: Database, secrets: Secrets, tenants: TenantsService, invalidation: Invalidation) {
    this.repository = new SourcesRepository(db, secrets)
    this.#tenants = tenants
    this.#invalidation = invalidation
    this.#sources = new TenantCache(invalidation)
  }

  /** A source of the tenant by its slug; undefined when the tenant has none of that name. */
  async findSource(tenantId: string, name: string): Promise<StoredSource | undefined> {
    const cacheKey = `${tenantId}/${name}`
    const cached = this.#sources.get(cacheKey)
    if (cached !== undefined) return cached ?? undefined
    const source = await this.#sources.load(
      cacheKey,
      async () => (await this.repository.findSource(tenantId, name)) ?? null,
      () => tenantId,
    )
    return source ?? undefined
  }

  /** A new source; signed when a signing secret is given. Its name must be free in the tenant. */
  async createSource(tenantId: string, source: NewSource): Promise<SourceRecord> {
    if (RESERVED_SOURCE_NAMES.includes(source.name)) {
      throw new ProblemError('validation-failed', `The source name "${source.name}" is reserved`, {
        errors: [{ location: 'body', pointer: '/name', message: 'is reserved for the service itself' }],
      })
    }
    const connector =
      source.connector === undefined
        ? undefined
        : checkedConnector(source.kind, source.connector, '/connector')
    const created = areUuids(tenantId)
      ? await this.repository.createSource(tenantId, {
          name: source.name,
          kind: source.kind,
          signingSecrets: source.signingSecret === undefined ? [] : [source.signingSecret],
          connector,
        })
      : 'unknown-tenant'
    if (created === 'unknown-tenant') throw tenantNotFound(tenantId)
    if (created === 'duplicate-name') {
      throw new ProblemError('conflict', `The tenant already has a source named "${source.name}"`)
    }
    // An ingest request for this name may have been answered "no such source" and cached.
    await publishCredentialsChange(this.#invalidation, tenantId)
    return created
  }

  /**
   * Changes a connector source's configuration: the fields given replace the stored ones (a first
   * configuration must give every required field). Secrets are encrypted again under the current key.
   */
  async updateConnector(tenantId: string, sourceId: string, patch: ConnectorPatch): Promise<SourceRecord> {
    const source = areUuids(tenantId, sourceId)
      ? await this.repository.findConnectorSource(sourceId, tenantId)
      : undefined
    if (source === undefined) throw sourceNotFound(sourceId)
    const current =
      source.connector === null ? {} : { ...source.connector.settings, ...source.connector.secrets }
    // A new shop domain moves the default base URL with it, unless a base URL is given too.
    if (
      patch.shopDomain !== undefined &&
      patch.baseUrl === undefined &&
      current.baseUrl === `https://${current.shopDomain}`
    )
      delete current.baseUrl
    const stored = checkedConnector(source.kind, { ...current, ...patch }, '')
    const updated = await this.repository.setConnector(tenantId, sourceId, stored)
    if (updated === undefined) throw sourceNotFound(sourceId)
    await publishCredentialsChange(this.#invalidation, tenantId)
    return updated
  }

  /**
   * A connector source by id with its configuration in clear (the inbound webhook routes, the inbox
   * processor and reconciliation); `tenantId` undefined: whichever tenant owns it.
   */
  findConnectorSource(sourceId: string, tenantId?: string): Promise<ConnectorSource | undefined> {
    if (!areUuids(sourceId) || (tenantId !== undefined && !areUuids(tenantId)))
      return Promise.resolve(undefined)
    return this.repository.findConnectorSource(sourceId, tenantId)
  }

  async listSources(tenantId: string): Promise<SourceRecord[]> {
    await this.#tenants.getTenant(tenantId)
    return this.repository.listSources(tenantId)
  }

  async deleteSource(tenantId: string, sourceId: string): Promise<void> {
    if (!areUuids(tenantId, sourceId) || !(await this.repository.deleteSource(tenantId, sourceId))) {
      throw sourceNotFound(sourceId)
    }
    await publishCredentialsChange(this.#invalidation, tenantId)
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
    if (rotated === undefined) throw sourceNotFound(sourceId)
    await publishCredentialsChange(this.#invalidation, tenantId)
    return rotated
  }

  /** Stops accepting the previous secret once every sender signs with the current one. */
  async retirePreviousSigningSecret(tenantId: string, sourceId: string): Promise<SourceRecord> {
    const retired = areUuids(tenantId, sourceId)
      ? await this.repository.retirePreviousSigningSecret(tenantId, sourceId)
      : undefined
    if (retired === undefined) throw sourceNotFound(sourceId)
    await publishCredentialsChange(this.#invalidation, tenantId)
    return retired
  }
}
