// Test fixtures for tenants: rows written straight into the database, so tests of one feature do not
// depend on the admin API. Signing secrets are encrypted under the test apps' key (helpers/secrets.ts). And
// the services that read them, fresh, as a process that has cached nothing yet sees them.
import { randomUUID } from 'node:crypto'
import { SCOPES, type Scope } from '@pos/contracts/admin'
import { apiKeys, sourceSigningSecretAad, sources, tenants } from '../../src/db/schema.js'
import { generateApiKey } from '../../src/modules/api-keys/keys.js'
import { ApiKeysService } from '../../src/modules/api-keys/service.js'
import { SourcesService } from '../../src/modules/sources/service.js'
import { TenantsService } from '../../src/modules/tenants/service.js'
import type { Database } from '../../src/platform/database.js'
import { processLocalInvalidation } from '../../src/platform/invalidation.js'
import type { Secrets } from '../../src/platform/secrets.js'
import { testSecrets } from './secrets.js'

export interface TenantFixture {
  readonly tenantId: string
  /** A key with every scope. */
  readonly key: string
  readonly sourceName: string
}

export async function createTenant(
  db: Database,
  options: { name?: string; source?: string; signingSecrets?: string[] } = {},
): Promise<TenantFixture> {
  const [tenant] = await db
    .insert(tenants)
    .values({ name: options.name ?? 'Test tenant' })
    .returning()
  const sourceName = options.source ?? 'pos'
  const sourceId = randomUUID()
  await db.insert(sources).values({
    id: sourceId,
    tenantId: tenant!.id,
    name: sourceName,
    kind: 'sdk',
    encryptedSigningSecrets: (options.signingSecrets ?? []).map((secret) =>
      testSecrets.encrypt(secret, sourceSigningSecretAad(sourceId)),
    ),
  })
  const key = await createApiKey(db, tenant!.id, [...SCOPES])
  return { tenantId: tenant!.id, key, sourceName }
}

export async function createApiKey(db: Database, tenantId: string, scopes: Scope[]): Promise<string> {
  const generated = generateApiKey()
  await db
    .insert(apiKeys)
    .values({ tenantId, name: 'test', prefix: generated.prefix, keyHash: generated.hash, scopes })
  return generated.key
}

/** The tenants, api-keys and sources services over `db`, built as the app builds them, with nothing cached. */
export function freshServices(db: Database, secrets: Secrets = testSecrets) {
  const invalidation = processLocalInvalidation()
  const tenants = new TenantsService(db, invalidation)
  return {
    tenants,
    apiKeys: new ApiKeysService(db, tenants, invalidation),
    sources: new SourcesService(db, secrets, tenants, invalidation),
  }
}
