// The Shopify connector: webhooks verified Shopify's way (X-Shopify-Hmac-Sha256, base64 HMAC-SHA256 of the
// raw body keyed with the app's client secret), their objects mapped to canonical events (mapping.ts), what
// they leave out fetched from the REST Admin API (an inventory item's SKU, the shop's currency) and
// remembered, and orders and products reconciled by `updated_at_min`, following the Link header's page_info.
// Every call goes through ProviderHttp; this module only paces itself by Shopify's call-limit header.
import { createHmac } from 'node:crypto'
import type { IncomingHttpHeaders } from 'node:http'
import { setTimeout as sleep } from 'node:timers/promises'
import type { Static, TSchema } from 'typebox'
import { sameDigest } from '../../../platform/secret-compare.js'
import type { ShopifyConfig } from '../config.js'
import {
  type Mapped,
  type Provider,
  type ProviderHttp,
  type ProviderResponse,
  type ProviderState,
  type ReconcilePage,
  Unmappable,
  type UnmappableObject,
} from '../provider.js'
import {
  inventoryCountEvent,
  orderEvents,
  productDeletionEvents,
  productEvents,
  refundEvent,
  requiredSku,
  variantSkus,
} from './mapping.js'
import {
  InventoryItemAnswer,
  idText,
  OrdersPage,
  ProductsPage,
  parse,
  ShopAnswer,
  ShopifyInventoryLevel,
  ShopifyOrder,
  ShopifyProduct,
  ShopifyProductDeletion,
  ShopifyRefund,
} from './payloads.js'

/** A source of kind `shopify`. */

/** The webhook topics the connector maps; any other is Unmappable. */
export const SHOPIFY_TOPICS = [
  'orders/create',
  'orders/updated',
  'orders/cancelled',
  'refunds/create',
  'products/create',
  'products/update',
  'products/delete',
  'inventory_levels/update',
] as const

/** Objects per page of a reconciliation: Shopify's maximum. */
export const PAGE_LIMIT = 250
/** Part of the call-limit bucket left to others (webhook processing, the merchant's other apps' own calls). */
const BUCKET_HEADROOM = 0.2
/** Shopify's buckets drain in 20 seconds: 40 at 2 a second, 400 (Plus) at 20. */
const BUCKET_DRAIN_SECONDS = 20
const MAX_PAUSE_MS = 20_000
/** How long the shop's currency is trusted before it is read again. */
const SHOP_CURRENCY_TTL_MS = 24 * 60 * 60 * 1000

const BASE64_SHA256 = /^[A-Za-z0-9+/]{43}=$/

/**
 * How long to wait after an answer whose X-Shopify-Shop-Api-Call-Limit ("39/40": calls in the bucket, its
 * size) is above 80 % of the bucket: until it has drained back to 80 %. 0 when absent or unreadable.
 */
export function callLimitPauseMs(header: string | null): number {
  const match = /^\s*(\d+)\s*\/\s*(\d+)\s*$/.exec(header ?? '')
  if (match === null) return 0
  const used = Number(match[1])
  const size = Number(match[2])
  if (size === 0) return 0
  const allowed = size * (1 - BUCKET_HEADROOM)
  if (used <= allowed) return 0
  const drainPerSecond = size / BUCKET_DRAIN_SECONDS
  return Math.min(MAX_PAUSE_MS, Math.ceil(((used - allowed) / drainPerSecond) * 1000))
}

/** The page_info of the Link header's rel="next" URL, or undefined when this is the last page. */
export function nextPageInfo(link: string | null): string | undefined {
  for (const part of (link ?? '').split(',')) {
    const match = /^\s*<([^>]*)>\s*;(.*)$/.exec(part)
    if (match === null || !/(^|;)\s*rel\s*=\s*"?next"?\s*(;|$)/.test(match[2]!)) continue
    try {
      return new URL(match[1]!).searchParams.get('page_info') ?? undefined
    } catch {
      return undefined
    }
  }
  return undefined
}

type Resource = 'orders' | 'products'
interface Cursor {
  readonly resource: Resource
  readonly pageInfo?: string
}

function readCursor(text: string): Cursor {
  let value: { resource?: unknown; pageInfo?: unknown } = {}
  try {
    value = (JSON.parse(text) as typeof value | null) ?? {}
  } catch {
    // refused below
  }
  const { resource, pageInfo } = value
  if (
    (resource !== 'orders' && resource !== 'products') ||
    !['undefined', 'string'].includes(typeof pageInfo)
  ) {
    throw new Error(`not a Shopify reconciliation cursor: ${JSON.stringify(text.slice(0, 100))}`)
  }
  return typeof pageInfo === 'string' ? { resource, pageInfo } : { resource }
}

function header(headers: IncomingHttpHeaders, name: string): string | undefined {
  const value = headers[name]
  return typeof value === 'string' && value !== '' ? value : undefined
}

/** A request Shopify answered with something else than 200; `refusal` turns it into the caller's error. */
type Refusal = (message: string) => Error

const asUnmappable: Refusal = (message) => new Unmappable(message)
const asReconciliationError: Refusal = (message) => new Error(`Shopify reconciliation: ${message}`)

/** An answer of the API typed by `schema`; one that does not fit is the caller's kind of error. */
function parseAnswer<T extends TSchema>(schema: T, body: unknown, what: string, refusal: Refusal): Static<T> {
  try {
    return parse(schema, body, what)
  } catch (error) {
    throw error instanceof Unmappable ? refusal(error.reason) : error
  }
}

/**
 * A product's events. Its SKUs are remembered (products/delete carries only the id), and so is each variant's
 * inventory item SKU (kept current for inventory_levels/update); SKUs an older version had and this one lacks
 * are deleted. An older version than the one remembered changes nothing remembered.
 */
async function productChange(
  state: ProviderState,
  product: ShopifyProduct,
  currency: string,
): Promise<Mapped> {
  const productId = idText(product.id)
  const skus = variantSkus(product)
  const updatedAt = new Date(product.updated_at).getTime()
  const rememberedText = await state.get(`product:${productId}`)
  const remembered =
    rememberedText === undefined ? undefined : (JSON.parse(rememberedText) as RememberedProduct)
  const newer = remembered === undefined || remembered.updatedAt < updatedAt
  const removed = newer && remembered ? remembered.skus.filter((sku) => !skus.includes(sku)) : []
  const events = productEvents(product, currency, removed)
  if (newer) {
    await state.set(`product:${productId}`, JSON.stringify({ updatedAt, skus } satisfies RememberedProduct))
    await Promise.all(
      product.variants.map(async (variant, index) => {
        if (variant.inventory_item_id === null || variant.inventory_item_id === undefined) return
        const key = `inventory-item:${idText(variant.inventory_item_id)}`
        if ((await state.get(key)) !== skus[index]) await state.set(key, skus[index]!)
      }),
    )
  }
  return { events }
}

interface RememberedProduct {
  readonly updatedAt: number
  readonly skus: readonly string[]
}

export interface ShopifyProviderOptions {
  /** Waits out a nearly full call-limit bucket; tests pass one that records the pauses. */
  readonly pause?: (ms: number) => Promise<void>
}

export function createShopifyProvider(options: ShopifyProviderOptions = {}): Provider<ShopifyConfig> {
  const pause = options.pause ?? ((ms: number) => sleep(ms))

  /** GET an Admin API path (after /admin/api/{version}); 200 or `refusal`; paced by the call limit. */
  async function get(
    config: ShopifyConfig,
    http: ProviderHttp,
    path: string,
    refusal: Refusal,
  ): Promise<ProviderResponse> {
    const fullPath = `/admin/api/${encodeURIComponent(config.apiVersion)}${path}`
    const response = await http.request({ method: 'GET', path: fullPath })
    const wait = callLimitPauseMs(response.headers.get('x-shopify-shop-api-call-limit'))
    if (wait > 0) await pause(wait)
    if (response.status !== 200) throw refusal(`GET ${fullPath} answered ${response.status}`)
    return response
  }

  /** The shop's currency (variants carry none), read once a day. */
  async function shopCurrency(
    config: ShopifyConfig,
    http: ProviderHttp,
    state: ProviderState,
    refusal: Refusal,
  ): Promise<string> {
    const cached = await state.get('shop:currency')
    if (cached !== undefined) {
      const { currency, at } = JSON.parse(cached) as { currency: string; at: number }
      if (Date.now() - at < SHOP_CURRENCY_TTL_MS) return currency
    }
    const response = await get(config, http, '/shop.json', refusal)
    const { currency } = parseAnswer(ShopAnswer, response.body, 'shop.json', refusal).shop
    await state.set('shop:currency', JSON.stringify({ currency, at: Date.now() }))
    return currency
  }

  /** The SKU of an inventory item, fetched once and remembered. */
  async function inventoryItemSku(
    config: ShopifyConfig,
    http: ProviderHttp,
    state: ProviderState,
    inventoryItemId: string,
  ): Promise<string> {
    const key = `inventory-item:${inventoryItemId}`
    const cached = await state.get(key)
    if (cached !== undefined) return cached
    const response = await get(config, http, `/inventory_items/${inventoryItemId}.json`, asUnmappable)
    const item = parse(InventoryItemAnswer, response.body, `inventory item ${inventoryItemId}`).inventory_item
    const sku = requiredSku(item.sku, `inventory item ${inventoryItemId}`)
    await state.set(key, sku)
    return sku
  }

  async function processWebhook(
    config: ShopifyConfig,
    http: ProviderHttp,
    topic: string,
    payload: unknown,
    receivedAt: number,
    state: ProviderState,
  ): Promise<Mapped> {
    switch (topic) {
      case 'orders/create':
      case 'orders/updated':
      case 'orders/cancelled':
        return { events: orderEvents(parse(ShopifyOrder, payload, topic)) }
      case 'refunds/create':
        return { events: [refundEvent(parse(ShopifyRefund, payload, topic))] }
      case 'products/create':
      case 'products/update': {
        const product = parse(ShopifyProduct, payload, topic)
        variantSkus(product) // an unmappable product costs no request
        return productChange(state, product, await shopCurrency(config, http, state, asUnmappable))
      }
      case 'products/delete': {
        const productId = idText(parse(ShopifyProductDeletion, payload, topic).id)
        const remembered = await state.get(`product:${productId}`)
        if (remembered === undefined) {
          throw new Unmappable(`product ${productId} was deleted, but its SKUs were never seen`)
        }
        const { skus } = JSON.parse(remembered) as RememberedProduct
        return { events: productDeletionEvents(productId, skus, receivedAt) }
      }
      case 'inventory_levels/update': {
        const level = parse(ShopifyInventoryLevel, payload, topic)
        const itemId = idText(level.inventory_item_id)
        if (level.available === null) {
          throw new Unmappable(`inventory item ${itemId} is not tracked: no available quantity`)
        }
        const sku = await inventoryItemSku(config, http, state, itemId)
        const locationId = idText(level.location_id)
        return {
          events: [inventoryCountEvent(itemId, locationId, sku, level.available, level.updated_at)],
        }
      }
      default:
        throw new Unmappable(`unknown Shopify topic ${JSON.stringify(topic)}`)
    }
  }

  /** One page of a resource; objects that cannot be mapped are named in `unmappable` (dead letters). */
  async function reconcilePage(
    config: ShopifyConfig,
    http: ProviderHttp,
    cursorText: string | null,
    since: number,
    state: ProviderState,
  ): Promise<ReconcilePage> {
    const cursor: Cursor = cursorText === null ? { resource: 'orders' } : readCursor(cursorText)
    const query = new URLSearchParams({ limit: String(PAGE_LIMIT) })
    if (cursor.pageInfo !== undefined) {
      // Shopify refuses the first request's filters beside page_info: the page_info carries them.
      query.set('page_info', cursor.pageInfo)
    } else {
      if (cursor.resource === 'orders') query.set('status', 'any')
      if (since > 0) query.set('updated_at_min', new Date(since).toISOString())
    }
    const path = `/${cursor.resource}.json?${query}`
    const response = await get(config, http, path, asReconciliationError)
    const pageInfo = nextPageInfo(response.headers.get('link'))
    const nextCursor =
      pageInfo !== undefined
        ? JSON.stringify({ resource: cursor.resource, pageInfo } satisfies Cursor)
        : cursor.resource === 'orders'
          ? JSON.stringify({ resource: 'products' } satisfies Cursor)
          : null
    const objects = await pageObjects(config, http, cursor.resource, response.body, state)
    return { ...objects, nextCursor }
  }

  async function pageObjects(
    config: ShopifyConfig,
    http: ProviderHttp,
    resource: Resource,
    body: unknown,
    state: ProviderState,
  ): Promise<Omit<ReconcilePage, 'nextCursor'>> {
    const events: Mapped['events'][number][] = []
    const unmappable: UnmappableObject[] = []
    const listed =
      resource === 'orders'
        ? parseAnswer(OrdersPage, body, 'orders.json', asReconciliationError).orders
        : parseAnswer(ProductsPage, body, 'products.json', asReconciliationError).products
    // Read (or recalled) once per page, not once per product.
    const currency =
      resource === 'products' && listed.length > 0
        ? await shopCurrency(config, http, state, asReconciliationError)
        : ''
    for (const object of listed) {
      try {
        if (resource === 'orders') events.push(...orderEvents(parse(ShopifyOrder, object, 'order')))
        else {
          const product = parse(ShopifyProduct, object, 'product')
          events.push(...(await productChange(state, product, currency)).events)
        }
      } catch (error) {
        if (!(error instanceof Unmappable)) throw error
        const id = (object as { id?: unknown }).id
        const singular = resource === 'orders' ? 'order' : 'product'
        unmappable.push({
          objectId: `${singular}:${typeof id === 'number' || typeof id === 'string' ? id : 'unknown'}`,
          reason: error.reason,
        })
      }
    }
    return { events, objects: listed.length, unmappable }
  }

  return {
    kind: 'shopify',

    authHeaders: (config) => ({ 'X-Shopify-Access-Token': config.accessToken, Accept: 'application/json' }),

    verify(config, rawBody, headers) {
      const given = header(headers, 'x-shopify-hmac-sha256')
      if (given === undefined || !BASE64_SHA256.test(given) || config.webhookSecret === '') return false
      const expected = createHmac('sha256', config.webhookSecret).update(rawBody).digest('hex')
      const signed = sameDigest(Buffer.from(given, 'base64').toString('hex'), expected)
      // A public app's secret signs the webhooks of every shop that installed it: another shop's webhook sent
      // here by mistake is refused. The header is not signed: only a custom app per shop (a secret of its
      // own) makes the shop certain.
      const shop = header(headers, 'x-shopify-shop-domain')?.toLowerCase()
      return signed && shop === config.shopDomain.toLowerCase()
    },

    eventId: (headers) => header(headers, 'x-shopify-event-id') ?? header(headers, 'x-shopify-webhook-id'),

    topic: (headers) => header(headers, 'x-shopify-topic'),

    process: (config, http, webhook, state) =>
      processWebhook(config, http, webhook.topic, webhook.payload, webhook.receivedAt, state),

    reconcilePage,
  }
}

export const shopifyProvider: Provider<ShopifyConfig> = createShopifyProvider()
