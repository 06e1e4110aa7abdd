// What a POS needs to call the ingest endpoint: its credentials, provisioned through the admin API, and the
// headers of one signed request. The bench and the load test build every request through here.
import { randomBytes } from 'node:crypto'
import { signPayload } from '../../src/modules/ingest/signature.js'

export interface IngestCredentials {
  readonly tenantId: string
  readonly key: string
  readonly sourceName: string
  readonly signingSecret: string
}

export function ingestHeaders(
  credentials: IngestCredentials,
  idempotencyKey: string,
  body: string,
): Record<string, string> {
  return {
    authorization: `Bearer ${credentials.key}`,
    'content-type': 'application/json',
    'idempotency-key': idempotencyKey,
    'x-signature': signPayload(credentials.signingSecret, Math.floor(Date.now() / 1000), body),
  }
}

/** POST to the admin API; anything but 201 throws, naming the path and the answer. */
export async function adminPost(
  baseUrl: string,
  adminToken: string,
  path: string,
  body: unknown,
): Promise<Record<string, unknown>> {
  const response = await fetch(new URL(path, baseUrl), {
    method: 'POST',
    headers: { authorization: `Bearer ${adminToken}`, 'content-type': 'application/json' },
    body: JSON.stringify(body),
  })
  const text = await response.text()
  if (response.status !== 201) throw new Error(`POST ${path} answered ${response.status}: ${text}`)
  return JSON.parse(text) as Record<string, unknown>
}

/** A fresh tenant with an ingest-only API key and a signed source, created through the admin API. */
export async function provisionSignedSource(
  baseUrl: string,
  adminToken: string,
  names: { readonly tenant: string; readonly source: string },
): Promise<IngestCredentials> {
  const tenant = await adminPost(baseUrl, adminToken, '/v1/admin/tenants', { name: names.tenant })
  const tenantId = String(tenant.id)
  const apiKey = await adminPost(baseUrl, adminToken, `/v1/admin/tenants/${tenantId}/api-keys`, {
    name: names.source,
    scopes: ['ingest'],
  })
  const signingSecret = randomBytes(32).toString('hex')
  await adminPost(baseUrl, adminToken, `/v1/admin/tenants/${tenantId}/sources`, {
    name: names.source,
    kind: 'sdk',
    signingSecret,
  })
  return { tenantId, key: String(apiKey.key), sourceName: names.source, signingSecret }
}
