// The Square provider: verifies Square's webhooks, fetches what they leave out, and maps Square's objects to
// canonical events; pages SearchOrders and inventory counts for reconciliation.
// - order.created / order.updated carry the order's id, state and version only: the order is fetched
//   (BatchRetrieveOrders) and becomes order.created (OPEN, version 1), order.updated (OPEN), order.completed or
//   order.canceled, with its version, so an older one never overwrites a newer one. Line items name a
//   catalog ITEM_VARIATION; its SKU is fetched once (BatchRetrieveCatalogObjects) and remembered.
// - catalog.version.updated carries a timestamp only: the variations updated since the last one seen are
//   searched (SearchCatalogObjects, paged) and become product.upserted, or product.deleted.
// - inventory.count.updated carries the counts: each IN_STOCK count becomes inventory.counted.
// - refund.created / refund.updated carry the refund: refund.created, unless it was rejected or failed.
// Square's amounts are already in minor units; quantities are decimal strings, kept exact; locations become
// stores (their Square id is the store code). Event ids are deterministic: an object at one version always
// gives the same id, so a redelivery or a reconciliation finding it again is a duplicate.
import type { IncomingHttpHeaders } from 'node:http'
import type { EventType } from '@pos/contracts/events'
import type { SquareConfig } from '../config.js'
import {
  type CanonicalEvent,
  type InboxWebhook,
  type Mapped,
  type Provider,
  type ProviderHttp,
  type ProviderState,
  ProviderUnavailable,
  type ReconcilePage,
  Unmappable,
  type UnmappableObject,
} from '../provider.js'
import { verifySquareSignature } from './signature.js'

/** The Square API version every request asks for. */
export const SQUARE_API_VERSION = '2025-01-23'
const ORDERS_PAGE = 100
const COUNTS_PAGE = 1000
/** SearchOrders takes at most this many locations per request. */
const LOCATIONS_PER_SEARCH = 10
/** How long to wait when BatchRetrieveOrders answers an older version than the webhook announced. */
const STALE_READ_RETRY_MS = 5000

interface SquareMoney {
  readonly amount: number
  readonly currency: string
}
interface SquareLineItem {
  readonly quantity: string
  readonly catalog_object_id?: string
  readonly base_price_money?: SquareMoney
  readonly name?: string
}
interface SquareOrder {
  readonly id: string
  readonly location_id: string
  readonly state: string
  readonly version?: number
  readonly line_items?: readonly SquareLineItem[]
  readonly total_money?: SquareMoney
  readonly created_at?: string
  readonly updated_at?: string
}
interface SquareCatalogObject {
  readonly type: string
  readonly id: string
  readonly version?: number
  readonly updated_at?: string
  readonly is_deleted?: boolean
  readonly item_data?: { readonly name?: string }
  readonly item_variation_data?: {
    readonly item_id?: string
    readonly name?: string
    readonly sku?: string
    readonly upc?: string
    readonly price_money?: SquareMoney
  }
}
interface SquareCount {
  readonly catalog_object_id: string
  readonly location_id: string
  readonly state: string
  readonly quantity: string
  readonly calculated_at: string
}
interface SquareRefund {
  readonly id: string
  readonly order_id?: string
  readonly status?: string
  readonly amount_money?: SquareMoney
  readonly created_at?: string
  readonly updated_at?: string
}

/** Where a reconciliation pass is: the locations it covers, its phase, and Square's cursor in it. */
interface PassCursor {
  readonly locations: readonly string[]
  readonly phase: 'orders' | 'counts'
  /** Which slice of LOCATIONS_PER_SEARCH locations the orders phase is in. */
  readonly slice: number
  readonly cursor: string | null
}

const isObject = (value: unknown): value is Record<string, unknown> =>
  typeof value === 'object' && value !== null && !Array.isArray(value)

function field<T>(value: unknown, ...path: string[]): T | undefined {
  let current: unknown = value
  for (const key of path) {
    if (!isObject(current)) return undefined
    current = current[key]
  }
  return current as T | undefined
}

function money(value: SquareMoney | undefined, what: string): { amount: number; currency: string } {
  if (value === undefined || !Number.isSafeInteger(value.amount) || typeof value.currency !== 'string')
    throw new Unmappable(`${what} has no amount of money`)
  return { amount: value.amount, currency: value.currency }
}

/** A Square decimal string as a number, refused when the number would not hold it exactly (6 decimals). */
function quantity(value: string, what: string): number {
  if (typeof value !== 'string' || !/^-?\d{1,12}(\.\d{1,6})?$/.test(value.trim()))
    throw new Unmappable(`${what} has a quantity we cannot store exactly: ${JSON.stringify(value)}`)
  return Number(value.trim())
}

const skuKey = (catalogObjectId: string) => `sku:${catalogObjectId}`
const CATALOG_BEGIN_KEY = 'catalog:beginTime'

/** The SKUs of catalog variations, from the provider state or fetched once (BatchRetrieveCatalogObjects). */
async function skusOf(
  http: ProviderHttp,
  state: ProviderState,
  ids: readonly string[],
): Promise<Map<string, string>> {
  const skus = new Map<string, string>()
  const missing: string[] = []
  for (const id of new Set(ids)) {
    const cached = await state.get(skuKey(id))
    if (cached === undefined) missing.push(id)
    else skus.set(id, cached)
  }
  if (missing.length > 0) {
    const response = await http.request({
      method: 'POST',
      path: '/v2/catalog/batch-retrieve',
      body: { object_ids: missing, include_related_objects: false },
    })
    for (const object of field<SquareCatalogObject[]>(response.body, 'objects') ?? []) {
      const sku = object.item_variation_data?.sku
      if (object.type === 'ITEM_VARIATION' && typeof sku === 'string' && sku !== '') {
        skus.set(object.id, sku)
        await state.set(skuKey(object.id), sku)
      }
    }
  }
  return skus
}

function orderEventType(order: SquareOrder): EventType | undefined {
  if (order.state === 'COMPLETED') return 'order.completed'
  if (order.state === 'CANCELED') return 'order.canceled'
  if (order.state === 'OPEN') return (order.version ?? 1) <= 1 ? 'order.created' : 'order.updated'
  return undefined // DRAFT: not an order yet
}

/**
 * Maps each object with `map`; one that throws Unmappable is added to `unmappable` when given (a
 * reconciliation page goes on without it), else the error ends the whole mapping (a webhook's).
 */
function mapEach<T>(
  objects: readonly T[],
  objectId: (object: T) => string,
  unmappable: UnmappableObject[] | undefined,
  map: (object: T) => CanonicalEvent | undefined,
): CanonicalEvent[] {
  const events: CanonicalEvent[] = []
  for (const object of objects) {
    try {
      const event = map(object)
      if (event !== undefined) events.push(event)
    } catch (err) {
      if (!(err instanceof Unmappable) || unmappable === undefined) throw err
      unmappable.push({ objectId: objectId(object), reason: err.reason })
    }
  }
  return events
}

async function mapOrders(
  http: ProviderHttp,
  state: ProviderState,
  orders: readonly SquareOrder[],
  unmappable?: UnmappableObject[],
): Promise<CanonicalEvent[]> {
  const catalogIds = orders.flatMap((order) =>
    (order.line_items ?? []).flatMap((line) => (line.catalog_object_id ? [line.catalog_object_id] : [])),
  )
  const skus = await skusOf(http, state, catalogIds)
  return mapEach(
    orders,
    (order) => `order:${order.id}`,
    unmappable,
    (order) => {
      const type = orderEventType(order)
      if (type === undefined) return undefined
      const total = money(order.total_money, `order ${order.id}`)
      const lineItems = (order.line_items ?? []).map((line, index) => {
        const what = `line item ${index + 1} of order ${order.id}`
        const sku = line.catalog_object_id === undefined ? undefined : skus.get(line.catalog_object_id)
        if (sku === undefined)
          throw new Unmappable(
            `${what} names no catalog variation with a SKU (${line.catalog_object_id ?? 'ad hoc item'})`,
          )
        return {
          sku,
          quantity: quantity(line.quantity, what),
          unitPrice: money(line.base_price_money, what),
        }
      })
      const version = order.version ?? 1
      return {
        id: `square:order:${order.id}:v${version}`,
        type,
        occurredAt: order.updated_at ?? order.created_at ?? new Date(0).toISOString(),
        data: {
          orderId: order.id,
          storeId: order.location_id,
          version,
          currency: total.currency,
          lineItems,
          total,
        },
      }
    },
  )
}

async function mapCounts(
  http: ProviderHttp,
  state: ProviderState,
  counts: readonly SquareCount[],
  unmappable?: UnmappableObject[],
): Promise<CanonicalEvent[]> {
  const inStock = counts.filter((count) => count.state === 'IN_STOCK')
  const skus = await skusOf(
    http,
    state,
    inStock.map((count) => count.catalog_object_id),
  )
  const countId = (count: SquareCount) => `count:${count.catalog_object_id}:${count.location_id}`
  return mapEach(inStock, countId, unmappable, (count) => {
    const sku = skus.get(count.catalog_object_id)
    if (sku === undefined)
      throw new Unmappable(`inventory count of catalog object ${count.catalog_object_id} has no SKU`)
    return {
      id: `square:count:${count.catalog_object_id}:${count.location_id}:${count.calculated_at}`,
      type: 'inventory.counted' as const,
      occurredAt: count.calculated_at,
      data: {
        storeId: count.location_id,
        sku,
        onHand: quantity(count.quantity, `inventory count of ${sku}`),
      },
    }
  })
}

async function mapCatalog(
  state: ProviderState,
  objects: readonly SquareCatalogObject[],
  related: readonly SquareCatalogObject[],
): Promise<CanonicalEvent[]> {
  const itemNames = new Map<string, string>()
  for (const object of [...objects, ...related]) {
    if (object.type === 'ITEM' && object.item_data?.name) itemNames.set(object.id, object.item_data.name)
  }
  const events: CanonicalEvent[] = []
  for (const object of objects) {
    if (object.type !== 'ITEM_VARIATION') continue
    const variation = object.item_variation_data
    const sku = variation?.sku || (await state.get(skuKey(object.id)))
    // A variation without a SKU has nothing to be found by in our catalog.
    if (sku === undefined || sku === '') continue
    await state.set(skuKey(object.id), sku)
    const id = `square:catalog:${object.id}:v${object.version ?? 0}`
    const occurredAt = object.updated_at ?? new Date(0).toISOString()
    if (object.is_deleted) {
      events.push({ id, type: 'product.deleted', occurredAt, data: { sku } })
      continue
    }
    // A variable price (set at the till) is no catalog price.
    if (variation?.price_money === undefined) continue
    const itemName = variation.item_id === undefined ? undefined : itemNames.get(variation.item_id)
    const name = [itemName, variation.name].filter((part) => part !== undefined && part !== '').join(' ')
    events.push({
      id,
      type: 'product.upserted',
      occurredAt,
      data: {
        sku,
        name: name || sku,
        price: money(variation.price_money, `variation ${object.id}`),
        ...(variation.upc ? { barcode: variation.upc } : {}),
      },
    })
  }
  return events
}

async function processOrderWebhook(
  http: ProviderHttp,
  state: ProviderState,
  webhook: InboxWebhook,
  key: 'order_created' | 'order_updated',
): Promise<Mapped> {
  const announced = field<Record<string, unknown>>(webhook.payload, 'data', 'object', key)
  const orderId = field<string>(announced, 'order_id') ?? field<string>(webhook.payload, 'data', 'id')
  if (typeof orderId !== 'string' || orderId === '') throw new Unmappable(`${webhook.topic} names no order`)
  const response = await http.request({
    method: 'POST',
    path: '/v2/orders/batch-retrieve',
    body: { order_ids: [orderId] },
  })
  const order = (field<SquareOrder[]>(response.body, 'orders') ?? []).find((o) => o.id === orderId)
  if (order === undefined) throw new Unmappable(`order ${orderId} was not found`)
  const version = field<number>(announced, 'version')
  // Square's reads are eventually consistent: an older version than the webhook's is asked for again later.
  if (typeof version === 'number' && (order.version ?? 0) < version)
    throw new ProviderUnavailable(
      `order ${orderId} was read at version ${order.version} before ${version}`,
      Date.now() + STALE_READ_RETRY_MS,
    )
  return { events: await mapOrders(http, state, [order]) }
}

async function processCatalogWebhook(http: ProviderHttp, state: ProviderState): Promise<Mapped> {
  const beginTime = await state.get(CATALOG_BEGIN_KEY)
  const events: CanonicalEvent[] = []
  let cursor: string | undefined
  let latest: string | undefined
  do {
    const response = await http.request({
      method: 'POST',
      path: '/v2/catalog/search',
      body: {
        object_types: ['ITEM_VARIATION'],
        include_deleted_objects: true,
        include_related_objects: true,
        ...(beginTime === undefined ? {} : { begin_time: beginTime }),
        ...(cursor === undefined ? {} : { cursor }),
      },
    })
    const objects = field<SquareCatalogObject[]>(response.body, 'objects') ?? []
    const related = field<SquareCatalogObject[]>(response.body, 'related_objects') ?? []
    events.push(...(await mapCatalog(state, objects, related)))
    latest = field<string>(response.body, 'latest_time') ?? latest
    cursor = field<string>(response.body, 'cursor') || undefined
  } while (cursor !== undefined)
  // Saved by the connectors module once the events are stored, not here: a write failing after this point
  // would otherwise skip these changes for good.
  return { events, ...(latest === undefined ? {} : { stateAfter: { [CATALOG_BEGIN_KEY]: latest } }) }
}

function processRefundWebhook(webhook: InboxWebhook): Mapped {
  const refund = field<SquareRefund>(webhook.payload, 'data', 'object', 'refund')
  if (refund === undefined || typeof refund.id !== 'string')
    throw new Unmappable(`${webhook.topic} carries no refund`)
  if (refund.status === 'REJECTED' || refund.status === 'FAILED') return { events: [] }
  if (typeof refund.order_id !== 'string' || refund.order_id === '')
    throw new Unmappable(`refund ${refund.id} names no order`)
  return {
    events: [
      {
        id: `square:refund:${refund.id}`,
        type: 'refund.created',
        occurredAt: refund.created_at ?? new Date(webhook.receivedAt).toISOString(),
        data: {
          orderId: refund.order_id,
          refundId: refund.id,
          amount: money(refund.amount_money, `refund ${refund.id}`),
        },
      },
    ],
  }
}

function parseCursor(cursor: string): PassCursor {
  try {
    const parsed = JSON.parse(cursor) as PassCursor
    if (Array.isArray(parsed.locations) && (parsed.phase === 'orders' || parsed.phase === 'counts'))
      return parsed
  } catch {
    // fall through
  }
  throw new Unmappable('the stored reconciliation cursor is not one of ours')
}

async function activeLocations(http: ProviderHttp): Promise<string[]> {
  const response = await http.request({ method: 'GET', path: '/v2/locations' })
  return (field<{ id: string; status?: string }[]>(response.body, 'locations') ?? [])
    .filter((location) => location.status === undefined || location.status === 'ACTIVE')
    .map((location) => location.id)
}

async function reconcile(
  http: ProviderHttp,
  cursor: string | null,
  since: number,
  state: ProviderState,
): Promise<ReconcilePage> {
  const pass: PassCursor =
    cursor === null
      ? { locations: await activeLocations(http), phase: 'orders', slice: 0, cursor: null }
      : parseCursor(cursor)
  const sinceIso = new Date(since).toISOString()
  if (pass.phase === 'orders') {
    const locations = pass.locations.slice(
      pass.slice * LOCATIONS_PER_SEARCH,
      (pass.slice + 1) * LOCATIONS_PER_SEARCH,
    )
    if (locations.length === 0)
      return reconcile(http, JSON.stringify({ ...pass, phase: 'counts', cursor: null }), since, state)
    const response = await http.request({
      method: 'POST',
      path: '/v2/orders/search',
      body: {
        location_ids: locations,
        limit: ORDERS_PAGE,
        ...(pass.cursor === null ? {} : { cursor: pass.cursor }),
        query: {
          filter: { date_time_filter: { updated_at: { start_at: sinceIso } } },
          sort: { sort_field: 'UPDATED_AT', sort_order: 'ASC' },
        },
      },
    })
    const orders = field<SquareOrder[]>(response.body, 'orders') ?? []
    const unmappable: UnmappableObject[] = []
    const next = field<string>(response.body, 'cursor') || null
    const nextPass: PassCursor =
      next !== null
        ? { ...pass, cursor: next }
        : (pass.slice + 1) * LOCATIONS_PER_SEARCH < pass.locations.length
          ? { ...pass, slice: pass.slice + 1, cursor: null }
          : { ...pass, phase: 'counts', cursor: null }
    return {
      events: await mapOrders(http, state, orders, unmappable),
      objects: orders.length,
      unmappable,
      nextCursor: JSON.stringify(nextPass),
    }
  }
  const response = await http.request({
    method: 'POST',
    path: '/v2/inventory/counts/batch-retrieve',
    body: {
      updated_after: sinceIso,
      limit: COUNTS_PAGE,
      states: ['IN_STOCK'],
      ...(pass.locations.length === 0 ? {} : { location_ids: pass.locations }),
      ...(pass.cursor === null ? {} : { cursor: pass.cursor }),
    },
  })
  const counts = field<SquareCount[]>(response.body, 'counts') ?? []
  const next = field<string>(response.body, 'cursor') || null
  const unmappable: UnmappableObject[] = []
  return {
    events: await mapCounts(http, state, counts, unmappable),
    objects: counts.length,
    unmappable,
    nextCursor: next === null ? null : JSON.stringify({ ...pass, cursor: next }),
  }
}

export const squareProvider: Provider<SquareConfig> = {
  kind: 'square',

  authHeaders(config) {
    return { authorization: `Bearer ${config.accessToken}`, 'square-version': SQUARE_API_VERSION }
  },

  verify(config, rawBody, headers: IncomingHttpHeaders) {
    return verifySquareSignature(config.signatureKey, config.notificationUrl, rawBody, headers)
  },

  eventId(_headers, payload) {
    const id = field<unknown>(payload, 'event_id')
    return typeof id === 'string' && id !== '' && id.length <= 255 ? id : undefined
  },

  topic(_headers, payload) {
    const type = field<unknown>(payload, 'type')
    return typeof type === 'string' && type !== '' && type.length <= 255 ? type : undefined
  },

  async process(_config, http, webhook, state) {
    switch (webhook.topic) {
      case 'order.created':
        return processOrderWebhook(http, state, webhook, 'order_created')
      case 'order.updated':
        return processOrderWebhook(http, state, webhook, 'order_updated')
      case 'catalog.version.updated':
        return processCatalogWebhook(http, state)
      case 'inventory.count.updated': {
        const counts = field<SquareCount[]>(webhook.payload, 'data', 'object', 'inventory_counts')
        if (!Array.isArray(counts))
          throw new Unmappable('inventory.count.updated carries no inventory_counts')
        return { events: await mapCounts(http, state, counts) }
      }
      case 'refund.created':
      case 'refund.updated':
        return processRefundWebhook(webhook)
      default:
        throw new Unmappable(`Square webhooks of type ${webhook.topic} are not mapped`)
    }
  },

  reconcilePage(_config, http, cursor, since, state) {
    return reconcile(http, cursor, since, state)
  },
}
