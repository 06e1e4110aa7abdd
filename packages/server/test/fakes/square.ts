// A fake Square for the tests: a real HTTP server speaking the documented shapes of the endpoints the Square
// connector calls (Locations, BatchRetrieveOrders, SearchOrders, BatchRetrieveCatalogObjects,
// SearchCatalogObjects, BatchRetrieveInventoryCounts), signing its webhooks the way Square does (base64
// HMAC-SHA256 of the notification URL followed by the body), and failing on demand: bursts of 5xx, 429 with
// Retry-After, hangs, dropped connections, slow answers. It records every request and the most requests it
// ever had in flight at once.
import { createHmac, randomUUID } from 'node:crypto'
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http'
import type { AddressInfo } from 'node:net'

export interface FakeMoney {
  amount: number
  currency: string
}
export interface FakeLineItem {
  uid: string
  name: string
  quantity: string
  catalog_object_id?: string
  base_price_money: FakeMoney
}
export interface FakeOrder {
  id: string
  location_id: string
  state: 'OPEN' | 'COMPLETED' | 'CANCELED' | 'DRAFT'
  version: number
  line_items: FakeLineItem[]
  total_money: FakeMoney
  created_at: string
  updated_at: string
}
export interface FakeCount {
  catalog_object_id: string
  catalog_object_type: 'ITEM_VARIATION'
  state: 'IN_STOCK'
  location_id: string
  quantity: string
  calculated_at: string
}
export interface FakeCatalogObject {
  type: 'ITEM' | 'ITEM_VARIATION'
  id: string
  version: number
  updated_at: string
  is_deleted: boolean
  item_data?: { name: string; variations?: FakeCatalogObject[] }
  item_variation_data?: { item_id: string; name: string; sku?: string; price_money?: FakeMoney }
}

export type Fault =
  | { readonly kind: 'status'; readonly status: number; readonly retryAfter?: string }
  | { readonly kind: 'hang' }
  | { readonly kind: 'drop' }

export interface RecordedRequest {
  readonly method: string
  readonly path: string
  readonly body: Record<string, unknown> | undefined
}

const ACCESS_TOKEN = 'fake-square-access-token'
const SIGNATURE_KEY = 'fake-square-signature-key'

export class FakeSquare {
  readonly accessToken = ACCESS_TOKEN
  readonly signatureKey = SIGNATURE_KEY
  readonly requests: RecordedRequest[] = []
  readonly locations = [{ id: 'LOC-1', name: 'Main street', status: 'ACTIVE' }]
  readonly orders = new Map<string, FakeOrder>()
  readonly catalog = new Map<string, FakeCatalogObject>()
  counts: FakeCount[] = []
  /** Faults served to the next requests, in order, one each. */
  readonly faults: Fault[] = []
  /** Every answer is held this long (slow pages). */
  delayMs = 0
  /** Page sizes of SearchOrders and inventory counts, small so that tests see several pages. */
  pageSize = 2
  inFlight = 0
  maxInFlight = 0
  #clock = Date.parse('2026-11-01T10:00:00Z')
  readonly #server: Server
  readonly #hanging = new Set<ServerResponse>()
  url = ''

  private constructor() {
    this.#server = createServer((req, res) => void this.#handle(req, res))
  }

  static async start(): Promise<FakeSquare> {
    const fake = new FakeSquare()
    await new Promise<void>((resolve) => fake.#server.listen(0, '127.0.0.1', resolve))
    fake.url = `http://127.0.0.1:${(fake.#server.address() as AddressInfo).port}`
    return fake
  }

  async close(): Promise<void> {
    for (const res of this.#hanging) res.destroy()
    this.#server.closeAllConnections()
    await new Promise<void>((resolve) => this.#server.close(() => resolve()))
  }

  /** A strictly increasing timestamp, so updated_at orders every change. */
  tick(): string {
    this.#clock += 1000
    return new Date(this.#clock).toISOString()
  }

  /** A catalog item with one variation of this SKU and price; answers the variation's id. */
  addVariation(sku: string, price: number, name = `Item ${sku}`): string {
    const itemId = `ITEM-${sku}`
    const variationId = `VAR-${sku}`
    const at = this.tick()
    const variation: FakeCatalogObject = {
      type: 'ITEM_VARIATION',
      id: variationId,
      version: this.#clock,
      updated_at: at,
      is_deleted: false,
      item_variation_data: {
        item_id: itemId,
        name: 'Regular',
        sku,
        price_money: { amount: price, currency: 'USD' },
      },
    }
    this.catalog.set(itemId, {
      type: 'ITEM',
      id: itemId,
      version: this.#clock,
      updated_at: at,
      is_deleted: false,
      item_data: { name },
    })
    this.catalog.set(variationId, variation)
    return variationId
  }

  /** Creates the order, or makes a new version of it with these lines; answers the order as stored. */
  putOrder(
    id: string,
    lines: readonly { sku: string; quantity: string; price: number }[],
    state: FakeOrder['state'] = 'OPEN',
  ): FakeOrder {
    const previous = this.orders.get(id)
    const at = this.tick()
    const lineItems = lines.map((line, index) => ({
      uid: `${id}-${index}`,
      name: line.sku,
      quantity: line.quantity,
      catalog_object_id: `VAR-${line.sku}`,
      base_price_money: { amount: line.price, currency: 'USD' },
    }))
    const total = lines.reduce((sum, line) => sum + Math.round(Number(line.quantity) * line.price), 0)
    const order: FakeOrder = {
      id,
      location_id: this.locations[0]!.id,
      state,
      version: (previous?.version ?? 0) + 1,
      line_items: lineItems,
      total_money: { amount: total, currency: 'USD' },
      created_at: previous?.created_at ?? at,
      updated_at: at,
    }
    this.orders.set(id, order)
    return order
  }

  setCount(sku: string, quantity: string): FakeCount {
    const count: FakeCount = {
      catalog_object_id: `VAR-${sku}`,
      catalog_object_type: 'ITEM_VARIATION',
      state: 'IN_STOCK',
      location_id: this.locations[0]!.id,
      quantity,
      calculated_at: this.tick(),
    }
    this.counts = [...this.counts.filter((c) => c.catalog_object_id !== count.catalog_object_id), count]
    return count
  }

  /** The webhook Square would send for the order's current version (order.created at version 1). */
  orderWebhook(order: FakeOrder, type?: 'order.created' | 'order.updated'): Record<string, unknown> {
    const topic = type ?? (order.version === 1 ? 'order.created' : 'order.updated')
    const key = topic === 'order.created' ? 'order_created' : 'order_updated'
    return {
      merchant_id: 'MERCHANT-1',
      type: topic,
      event_id: randomUUID(),
      created_at: order.updated_at,
      data: {
        type: 'order',
        id: order.id,
        object: {
          [key]: {
            created_at: order.created_at,
            location_id: order.location_id,
            order_id: order.id,
            state: order.state,
            updated_at: order.updated_at,
            version: order.version,
          },
        },
      },
    }
  }

  inventoryWebhook(counts: readonly FakeCount[]): Record<string, unknown> {
    return {
      merchant_id: 'MERCHANT-1',
      type: 'inventory.count.updated',
      event_id: randomUUID(),
      created_at: this.tick(),
      data: { type: 'inventory', id: randomUUID(), object: { inventory_counts: counts } },
    }
  }

  /** The body as Square sends it and its signature header for this notification URL. */
  sign(webhook: Record<string, unknown>, notificationUrl: string, key = SIGNATURE_KEY) {
    const body = JSON.stringify(webhook)
    const signature = createHmac('sha256', key)
      .update(notificationUrl + body)
      .digest('base64')
    return {
      body,
      headers: { 'content-type': 'application/json', 'x-square-hmacsha256-signature': signature },
    }
  }

  async #handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const chunks: Buffer[] = []
    for await (const chunk of req) chunks.push(chunk as Buffer)
    const text = Buffer.concat(chunks).toString('utf8')
    const body = text === '' ? undefined : (JSON.parse(text) as Record<string, unknown>)
    const path = (req.url ?? '/').split('?')[0] ?? '/'
    this.requests.push({ method: req.method ?? 'GET', path, body })
    this.inFlight++
    this.maxInFlight = Math.max(this.maxInFlight, this.inFlight)
    res.on('close', () => {
      this.inFlight--
    })
    const fault = this.faults.shift()
    if (fault?.kind === 'drop') {
      req.socket.destroy()
      return
    }
    if (fault?.kind === 'hang') {
      this.#hanging.add(res)
      return
    }
    if (this.delayMs > 0) await new Promise((resolve) => setTimeout(resolve, this.delayMs))
    if (fault?.kind === 'status') {
      const headers: Record<string, string> = { 'content-type': 'application/json' }
      if (fault.retryAfter !== undefined) headers['retry-after'] = fault.retryAfter
      res
        .writeHead(fault.status, headers)
        .end(JSON.stringify({ errors: [{ category: 'API_ERROR', code: 'INTERNAL_SERVER_ERROR' }] }))
      return
    }
    if (req.headers.authorization !== `Bearer ${ACCESS_TOKEN}`) {
      this.#json(res, 401, { errors: [{ category: 'AUTHENTICATION_ERROR', code: 'UNAUTHORIZED' }] })
      return
    }
    this.#json(res, 200, this.#answer(req.method ?? 'GET', path, body ?? {}))
  }

  #answer(method: string, path: string, body: Record<string, unknown>): unknown {
    if (method === 'GET' && path === '/v2/locations') return { locations: this.locations }
    if (method === 'POST' && path === '/v2/orders/batch-retrieve') {
      const ids = (body.order_ids as string[]) ?? []
      return { orders: ids.flatMap((id) => (this.orders.has(id) ? [this.orders.get(id)] : [])) }
    }
    if (method === 'POST' && path === '/v2/orders/search') {
      const query = body.query as { filter?: { date_time_filter?: { updated_at?: { start_at?: string } } } }
      const startAt = query?.filter?.date_time_filter?.updated_at?.start_at
      const locations = new Set(body.location_ids as string[])
      const all = [...this.orders.values()]
        .filter((o) => locations.has(o.location_id) && (startAt === undefined || o.updated_at >= startAt))
        .sort((a, b) => a.updated_at.localeCompare(b.updated_at))
      return this.#page('orders', all, body.cursor as string | undefined)
    }
    if (method === 'POST' && path === '/v2/catalog/batch-retrieve') {
      const ids = (body.object_ids as string[]) ?? []
      return { objects: ids.flatMap((id) => (this.catalog.has(id) ? [this.catalog.get(id)] : [])) }
    }
    if (method === 'POST' && path === '/v2/catalog/search') {
      const begin = body.begin_time as string | undefined
      const types = new Set(body.object_types as string[])
      const objects = [...this.catalog.values()].filter(
        (o) => types.has(o.type) && (begin === undefined || o.updated_at > begin),
      )
      const related = [...this.catalog.values()].filter((o) => o.type === 'ITEM')
      return { objects, related_objects: related, latest_time: new Date(this.#clock).toISOString() }
    }
    if (method === 'POST' && path === '/v2/inventory/counts/batch-retrieve') {
      const after = body.updated_after as string | undefined
      const all = this.counts.filter((c) => after === undefined || c.calculated_at > after)
      return this.#page('counts', all, body.cursor as string | undefined)
    }
    return { errors: [{ category: 'INVALID_REQUEST_ERROR', code: 'NOT_FOUND' }] }
  }

  #page<T>(name: string, all: readonly T[], cursor: string | undefined): Record<string, unknown> {
    const start = cursor === undefined ? 0 : Number(Buffer.from(cursor, 'base64').toString('utf8'))
    const page = all.slice(start, start + this.pageSize)
    const next =
      start + this.pageSize < all.length
        ? Buffer.from(String(start + this.pageSize)).toString('base64')
        : undefined
    return { [name]: page, ...(next === undefined ? {} : { cursor: next }) }
  }

  #json(res: ServerResponse, status: number, body: unknown): void {
    res.writeHead(status, { 'content-type': 'application/json' }).end(JSON.stringify(body))
  }
}
