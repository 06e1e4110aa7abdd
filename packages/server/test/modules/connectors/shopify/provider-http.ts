// What the Shopify provider-level tests give the provider: the connectors module's own ProviderHttp (through
// the real outbound layer, in-process breakers and budgets, to the fake's baseUrl with the provider's auth
// headers) and its own provider state (the connector_state table of a real PostgreSQL, one fresh source each).
import { randomUUID } from 'node:crypto'
import { afterAll, beforeAll, expect } from 'vitest'
import type { OutboundSettings } from '../../../../src/config.js'
import type { ShopifyConfig } from '../../../../src/modules/connectors/config.js'
import { providerHttp } from '../../../../src/modules/connectors/http.js'
import type { ProviderHttp, ProviderState } from '../../../../src/modules/connectors/provider.js'
import { ConnectorsRepository } from '../../../../src/modules/connectors/repository.js'
import { shopifyProvider } from '../../../../src/modules/connectors/shopify/provider.js'
import { createOutbound, type Outbound } from '../../../../src/platform/outbound/outbound.js'
import { adminApi } from '../../../helpers/admin-api.js'
import { startTestApp, type TestApp } from '../../../helpers/app.js'
import { silentLog, testSettings, uniquePrefix } from '../../../platform/outbound/target-server.js'

export function testOutbound(overrides: Partial<OutboundSettings> = {}): Outbound {
  return createOutbound({
    redis: undefined,
    keyPrefix: uniquePrefix(),
    log: silentLog,
    settings: testSettings(overrides),
  })
}

/** The connectors module's ProviderHttp for a Shopify source of its own (its own breaker and budget). */
export function shopifyHttp(outbound: Outbound, config: ShopifyConfig): ProviderHttp {
  return providerHttp({
    outbound,
    kind: 'shopify',
    sourceId: randomUUID(),
    baseUrl: config.baseUrl,
    headers: shopifyProvider.authHeaders(config),
  })
}

/**
 * Starts a test app for the file (no scheduled reconciliation) and answers a function giving the provider
 * state of a fresh Shopify source: the connectors module's table, as the worker passes it.
 */
export function providerStates(): () => Promise<ProviderState> {
  let t: TestApp | undefined
  const { createTenant, createSource } = adminApi(() => t!)
  beforeAll(async () => {
    t = await startTestApp({ env: { RECONCILE_INTERVAL_MINUTES: '0' } })
  }, 60_000)
  afterAll(async () => {
    await t?.close()
  })
  return async () => {
    expect(t).toBeDefined()
    const tenantId = await createTenant(`shop-${randomUUID().slice(0, 8)}`)
    const sourceId = await createSource(tenantId, {
      name: 'shopify',
      kind: 'shopify',
      connector: {
        shopDomain: 'state.myshopify.com',
        webhookSecret: 'unused',
        accessToken: 'unused',
        baseUrl: 'http://127.0.0.1:9',
      },
    })
    return new ConnectorsRepository(t!.platform.database.db).stateOf(sourceId)
  }
}
