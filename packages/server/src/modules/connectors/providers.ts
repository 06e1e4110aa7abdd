// The providers the connectors know, one line each: a connector source of a kind without a provider here is
// treated as unconfigured (its webhooks are refused like a bad signature, it is never reconciled).
// `bindProvider` closes a provider over one source's configuration, so the rest of the module handles every
// provider alike without knowing its configuration's type.

import type { IncomingHttpHeaders } from 'node:http'
import type { ConnectorKind } from '@pos/contracts/admin'
import type { ConnectorConfig, ShopifyConfig, SquareConfig } from './config.js'
import type {
  InboxWebhook,
  Mapped,
  Provider,
  ProviderHttp,
  ProviderState,
  ReconcilePage,
} from './provider.js'
import { shopifyProvider } from './shopify/provider.js'
import { squareProvider } from './square/provider.js'

export interface ProviderRegistry {
  readonly square?: Provider<SquareConfig>
  readonly shopify?: Provider<ShopifyConfig>
}

export const PROVIDERS: ProviderRegistry = {
  square: squareProvider,
  shopify: shopifyProvider,
}

/** A provider with one source's configuration applied. */
export interface BoundProvider {
  readonly kind: ConnectorKind
  readonly baseUrl: string
  authHeaders(): Record<string, string>
  verify(rawBody: Buffer, headers: IncomingHttpHeaders): boolean
  eventId(headers: IncomingHttpHeaders, payload: unknown): string | undefined
  topic(headers: IncomingHttpHeaders, payload: unknown): string | undefined
  process(http: ProviderHttp, webhook: InboxWebhook, state: ProviderState): Promise<Mapped>
  reconcilePage(
    http: ProviderHttp,
    cursor: string | null,
    since: number,
    state: ProviderState,
  ): Promise<ReconcilePage>
}

function bind<Config extends { readonly baseUrl: string }>(
  provider: Provider<Config>,
  config: Config,
): BoundProvider {
  return {
    kind: provider.kind,
    baseUrl: config.baseUrl,
    authHeaders: () => provider.authHeaders(config),
    verify: (rawBody, headers) => provider.verify(config, rawBody, headers),
    eventId: (headers, payload) => provider.eventId(headers, payload),
    topic: (headers, payload) => provider.topic(headers, payload),
    process: (http, webhook, state) => provider.process(config, http, webhook, state),
    reconcilePage: (http, cursor, since, state) => provider.reconcilePage(config, http, cursor, since, state),
  }
}

/** The source's provider over its configuration; undefined when no provider of its kind is registered. */
export function bindProvider(
  connector: ConnectorConfig,
  registry: ProviderRegistry = PROVIDERS,
): BoundProvider | undefined {
  if (connector.kind === 'square')
    return registry.square === undefined ? undefined : bind(registry.square, connector.config)
  return registry.shopify === undefined ? undefined : bind(registry.shopify, connector.config)
}
