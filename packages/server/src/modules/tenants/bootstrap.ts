// First start on the embedded database: the service should be usable with no set-up at all. When there is no
// tenant yet, a `demo` tenant is created with an unsigned `demo` source and an API key with every scope; when
// ADMIN_TOKEN is unset, a token is generated for this run. Both are shown once in a banner meant for a human,
// which the process entry writes to the terminal, never to the log.
import { randomBytes } from 'node:crypto'
import type { ApiKeysService } from '../api-keys/service.js'
import type { SourcesService } from '../sources/service.js'
import type { TenantsService } from './service.js'

export interface DemoTenant {
  readonly tenantId: string
  readonly sourceName: string
  /** Shown once in the banner; only its hash is stored. */
  readonly apiKey: string
}

export interface StartBannerOptions {
  /** Where the server listens, as app.listen reports it. */
  readonly address: string
  /** The admin token generated for this run, when ADMIN_TOKEN was unset. */
  readonly generatedAdminToken?: string | undefined
  readonly demo?: DemoTenant | undefined
  readonly now?: Date
  /** The example event's id (and idempotency key); a fresh one by default, so that it is never a duplicate. */
  readonly eventId?: string
}

/** An admin token for a run without ADMIN_TOKEN: 256 random bits. */
export function generateAdminToken(): string {
  return randomBytes(32).toString('base64url')
}

/** The services the demo tenant is made through: the app's own. */
export interface DemoServices {
  readonly tenants: TenantsService
  readonly apiKeys: ApiKeysService
  readonly sources: SourcesService
}

/** Creates the demo tenant, its source and an API key, unless some tenant exists already. */
export async function createDemoTenant(services: DemoServices): Promise<DemoTenant | undefined> {
  const { tenants, apiKeys, sources } = services
  if (await tenants.hasTenants()) return undefined
  const tenant = await tenants.createTenant('demo')
  const source = await sources.createSource(tenant.id, { name: 'demo', kind: 'sdk' })
  const { key } = await apiKeys.createApiKey(tenant.id, { name: 'demo' })
  return { tenantId: tenant.id, sourceName: source.name, apiKey: key }
}

/** The listening address as a URL to paste: a wildcard host becomes localhost. */
export function localUrl(address: string): string {
  const url = new URL(address)
  if (url.hostname === '0.0.0.0' || url.hostname === '[::]') url.hostname = 'localhost'
  return url.origin
}

/** The banner with what was generated at this start; empty when nothing was. */
export function startBanner(options: StartBannerOptions): string {
  const { generatedAdminToken: adminToken, demo } = options
  if (adminToken === undefined && demo === undefined) return ''
  const url = localUrl(options.address)
  const lines = ['', '  POS Integration Service (embedded database)', '']
  if (adminToken !== undefined) {
    lines.push(
      '  Admin token, generated for this run (set ADMIN_TOKEN to keep one across restarts):',
      `    ${adminToken}`,
      `    curl ${url}/v1/admin/tenants -H 'Authorization: Bearer ${adminToken}'`,
      '',
    )
  }
  if (demo !== undefined) {
    const occurredAt = (options.now ?? new Date()).toISOString()
    // Unique at each start: an id the source sent before is answered as a duplicate and not stored again.
    const eventId = options.eventId ?? `demo-${randomBytes(4).toString('hex')}`
    const events = {
      events: [
        {
          id: eventId,
          type: 'product.upserted',
          occurredAt,
          data: { sku: 'SKU-1', name: 'Coffee', price: { amount: 350, currency: 'EUR' } },
        },
      ],
    }
    const auth = `-H 'Authorization: Bearer ${demo.apiKey}'`
    lines.push(
      `  Created tenant "demo" (${demo.tenantId}) with source "${demo.sourceName}" and this API key.`,
      '  It is shown only now: keep it.',
      `    ${demo.apiKey}`,
      '',
      '  Send an event:',
      `    curl -X POST ${url}/v1/ingest/${demo.sourceName} ${auth} -H 'Content-Type: application/json' -H 'Idempotency-Key: ${eventId}' -d '${JSON.stringify(events)}'`,
      '',
      '  Read the catalog back:',
      `    curl ${url}/v1/products ${auth}`,
      '',
      '  Lost the key? Make a new one with the admin token while the server runs:',
      `    curl -X POST ${url}/v1/admin/tenants/${demo.tenantId}/api-keys -H 'Authorization: Bearer <admin token>' -H 'Content-Type: application/json' -d '{"name":"demo"}'`,
      '  or, with the server stopped (the CLI opens the embedded database itself):',
      `    npm run cli -- key:create ${demo.tenantId} demo`,
      '',
    )
  }
  return `${lines.join('\n')}\n`
}
