// The tests' ProviderHttp for Shopify: requests go through the real outbound layer (createOutbound, in-process
// breakers and budgets) to the source's baseUrl with the provider's auth headers, and whatever the layer could
// not get an answer for surfaces as ProviderUnavailable, as the connectors module's own ProviderHttp does.
import type { OutboundSettings } from '../../../../src/config.js'
import type { ShopifyConfig } from '../../../../src/modules/connectors/config.js'
import {
  type ProviderHttp,
  type ProviderState,
  ProviderUnavailable,
} from '../../../../src/modules/connectors/provider.js'
import { shopifyProvider } from '../../../../src/modules/connectors/shopify/provider.js'
import { createOutbound, type Outbound } from '../../../../src/platform/outbound/outbound.js'
import {
  silentLog,
  testSettings,
  uniquePrefix,
  uniqueTarget,
} from '../../../platform/outbound/target-server.js'

/** A 250-order page runs to megabytes; the layer's default bound is for webhook answers. */
const MAX_PAGE_BYTES = 32 * 1024 * 1024

export function testOutbound(overrides: Partial<OutboundSettings> = {}): Outbound {
  return createOutbound({
    redis: undefined,
    keyPrefix: uniquePrefix(),
    log: silentLog,
    settings: testSettings(overrides),
  })
}

export function shopifyHttp(outbound: Outbound, config: ShopifyConfig): ProviderHttp {
  const target = uniqueTarget('shopify')
  return {
    async request({ method, path, body }) {
      const outcome = await outbound.call(target, {
        url: new URL(path, config.baseUrl),
        method,
        headers: {
          ...shopifyProvider.authHeaders(config),
          ...(body === undefined ? {} : { 'content-type': 'application/json' }),
        },
        body: body === undefined ? undefined : JSON.stringify(body),
        maxBodyBytes: MAX_PAGE_BYTES,
      })
      if (outcome.kind === 'breaker-open') throw new ProviderUnavailable('breaker open', outcome.retryAt)
      if (outcome.kind === 'failed') {
        const retryAt = outcome.retryAfterMs === undefined ? undefined : Date.now() + outcome.retryAfterMs
        throw new ProviderUnavailable(`${outcome.reason} after ${outcome.attempts} attempts`, retryAt)
      }
      const text = outcome.body.toString('utf8')
      let parsed: unknown
      try {
        parsed = text === '' ? undefined : JSON.parse(text)
      } catch {
        parsed = undefined
      }
      return { status: outcome.status, headers: outcome.headers, body: parsed }
    },
  }
}

/** A ProviderState in memory, standing in for the connectors module's table in these provider-level tests. */
export class MemoryState implements ProviderState {
  readonly values = new Map<string, string>()
  async get(key: string): Promise<string | undefined> {
    return this.values.get(key)
  }
  async set(key: string, value: string): Promise<void> {
    this.values.set(key, value)
  }
}
