// A fake Shopify for the tests: a real HTTP server on loopback that serves the REST Admin API endpoints the
// connector uses (orders, products, inventory items, shop) in their documented shapes, from an in-memory shop
// the test seeds. It pages with the Link header's page_info (and refuses other filters beside it, as Shopify
// does), keeps a leaky call-limit bucket and says so in X-Shopify-Shop-Api-Call-Limit, signs webhooks
// Shopify's way, and injects faults on demand: bursts of 5xx, 429 with Retry-After, hangs, dropped
// connections and slow answers.
import { createHmac, randomUUID } from 'node:crypto'
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http'
import type { AddressInfo } from 'node:net'

export interface FakeShopifyOptions {
  readonly shopDomain?: string
  readonly accessToken?: string
  readonly webhookSecret?: string
  readonly apiVersion?: string
  /** The shop's currency (orders are in it unless they say otherwise). */
  readonly currency?: string
  /** The call-limit bucket: its size, drained at size / 20 a second, as Shopify's. */
  readonly bucketSize?: number
}

export interface FakeLineItem {
  id: number
  variant_id: number | null
  product_id: number | null
  sku: string | null
  title: string
  quantity: number
  price: string
}

export interface FakeTransaction {
  id: number
  order_id: number
  kind: string
  status: string
  amount: string
  currency: string
  created_at: string
}

export interface FakeRefund {
  id: number
  order_id: number
  created_at: string
  processed_at: string
  note: string | null
  admin_graphql_api_id: string
  refund_line_items: unknown[]
  transactions: FakeTransaction[]
  order_adjustments: unknown[]
}

export interface FakeOrder {
  id: number
  admin_graphql_api_id: string
  name: string
  created_at: string
  updated_at: string
  processed_at: string
  cancelled_at: string | null
  closed_at: string | null
  currency: string
  presentment_currency: string
  total_price: string
  financial_status: string | null
  fulfillment_status: string | null
  location_id: number | null
  line_items: FakeLineItem[]
  refunds: FakeRefund[]
}

export interface FakeVariant {
  id: number
  product_id: number
  title: string
  sku: string | null
  price: string
  barcode: string | null
  inventory_item_id: number
  created_at: string
  updated_at: string
}

export interface FakeProduct {
  id: number
  admin_graphql_api_id: string
  title: string
  status: string
  created_at: string
  updated_at: string
  variants: FakeVariant[]
}

export interface NewOrder {
  readonly currency?: string
  readonly total_price: string
  readonly location_id?: number | null
  readonly financial_status?: string | null
  readonly fulfillment_status?: string | null
  readonly line_items: readonly { sku: string | null; quantity: number; price: string; title?: string }[]
}

export interface NewProduct {
  readonly title: string
  readonly variants: readonly { sku: string | null; price: string; title?: string; barcode?: string | null }[]
}

export type Fault =
  /** Answers `status` (a 5xx, say) with a small JSON body. */
  | { readonly kind: 'status'; readonly status: number }
  /** Answers 429 with this Retry-After, as Shopify does when the bucket is full. */
  | { readonly kind: 'throttle'; readonly retryAfter: string }
  /** Never answers (until the server closes). */
  | { readonly kind: 'hang' }
  /** Destroys the connection without an answer. */
  | { readonly kind: 'drop' }
  /** Answers normally after a delay. */
  | { readonly kind: 'slow'; readonly delayMs: number }

export interface Arrival {
  readonly method: string
  readonly path: string
  readonly at: number
  readonly accessToken: string | undefined
}

export interface SignedWebhook {
  readonly headers: Record<string, string>
  readonly body: string
}

const ORDER_STATUSES = new Set(['open', 'closed', 'cancelled', 'any'])
const PAGING_PARAMETERS = new Set(['limit', 'fields', 'page_info'])

/** Shopify's timestamps: seconds, with the shop's offset (here a fixed -05:00). */
export function shopifyTime(ms: number): string {
  const local = new Date(Math.floor(ms / 1000) * 1000 - 5 * 3600_000)
  return `${local.toISOString().slice(0, 19)}-05:00`
}

/** Signs `body` the way Shopify signs a webhook: base64 HMAC-SHA256 keyed with the app's client secret. */
export function shopifySignature(secret: string, body: string | Buffer): string {
  return createHmac('sha256', secret).update(body).digest('base64')
}

interface PageToken {
  readonly resource: 'orders' | 'products'
  readonly status: string
  readonly updatedAtMin: number | undefined
  readonly after?: number
  readonly before?: number
}

export class FakeShopify {
  readonly shopDomain: string
  readonly accessToken: string
  readonly webhookSecret: string
  readonly apiVersion: string
  readonly currency: string
  readonly bucketSize: number
  readonly arrivals: Arrival[] = []
  readonly orders = new Map<number, FakeOrder>()
  readonly products = new Map<number, FakeProduct>()
  /** The X-Shopify-Shop-Api-Call-Limit of the latest answer. */
  lastCallLimit: string | undefined
  /** Inventory item id → SKU; a variant's item is added with it. */
  readonly inventoryItems = new Map<number, string | null>()
  url = ''

  readonly #server = createServer((req, res) => this.#handle(req, res))
  readonly #faults: { fault: Fault; pathIncludes: string | undefined }[] = []
  #nextId = 5_600_000_000_001
  /** The shop's clock: one second further at each change, so every change has its own updated_at. */
  #clock = Date.parse('2025-03-01T09:00:00Z')
  #bucket = { used: 0, at: performance.now() }

  constructor(options: FakeShopifyOptions = {}) {
    this.shopDomain = options.shopDomain ?? 'fake-shop.myshopify.com'
    this.accessToken = options.accessToken ?? 'shpat_fake_access_token'
    this.webhookSecret = options.webhookSecret ?? 'fake-client-secret'
    this.apiVersion = options.apiVersion ?? '2025-01'
    this.currency = options.currency ?? 'USD'
    this.bucketSize = options.bucketSize ?? 40
  }

  async start(): Promise<this> {
    await new Promise<void>((resolve) => this.#server.listen(0, '127.0.0.1', resolve))
    this.url = `http://127.0.0.1:${(this.#server.address() as AddressInfo).port}`
    return this
  }

  async close(): Promise<void> {
    this.#server.closeAllConnections()
    await new Promise<void>((resolve) => this.#server.close(() => resolve()))
  }

  /** The source configuration that points the connector at this fake. */
  config(): {
    shopDomain: string
    webhookSecret: string
    accessToken: string
    apiVersion: string
    baseUrl: string
  } {
    return {
      shopDomain: this.shopDomain,
      webhookSecret: this.webhookSecret,
      accessToken: this.accessToken,
      apiVersion: this.apiVersion,
      baseUrl: this.url,
    }
  }

  /** The next `times` requests (whose path includes `pathIncludes`, if given) meet `fault`. */
  inject(fault: Fault, times = 1, pathIncludes?: string): void {
    for (let i = 0; i < times; i++) this.#faults.push({ fault, pathIncludes })
  }

  /** Forgets faults not met yet. */
  clearFaults(): void {
    this.#faults.length = 0
  }

  /** Fills the call-limit bucket to `used` calls (it drains from there). */
  fillBucket(used: number): void {
    this.#bucket = { used, at: performance.now() }
  }

  /** The shop's clock, in epoch ms; each change moves it one second on. */
  now(): number {
    return this.#clock
  }

  #tick(): string {
    this.#clock += 1000
    return shopifyTime(this.#clock)
  }

  #id(): number {
    return this.#nextId++
  }

  addOrder(input: NewOrder): FakeOrder {
    const id = this.#id()
    const at = this.#tick()
    const currency = input.currency ?? this.currency
    const order: FakeOrder = {
      id,
      admin_graphql_api_id: `gid://shopify/Order/${id}`,
      name: `#${1000 + this.orders.size + 1}`,
      created_at: at,
      updated_at: at,
      processed_at: at,
      cancelled_at: null,
      closed_at: null,
      currency,
      presentment_currency: currency,
      total_price: input.total_price,
      financial_status: input.financial_status === undefined ? 'paid' : input.financial_status,
      fulfillment_status: input.fulfillment_status === undefined ? null : input.fulfillment_status,
      location_id: input.location_id === undefined ? null : input.location_id,
      line_items: input.line_items.map((line) => ({
        id: this.#id(),
        variant_id: null,
        product_id: null,
        sku: line.sku,
        title: line.title ?? `Item ${line.sku ?? 'without SKU'}`,
        quantity: line.quantity,
        price: line.price,
      })),
      refunds: [],
    }
    this.orders.set(id, order)
    return structuredClone(order)
  }

  /** Changes an order as the merchant would; it gets a new updated_at. */
  updateOrder(id: number, change: Partial<Omit<FakeOrder, 'id' | 'created_at' | 'updated_at'>>): FakeOrder {
    const order = this.#order(id)
    Object.assign(order, change, { updated_at: this.#tick() })
    return structuredClone(order)
  }

  cancelOrder(id: number): FakeOrder {
    const at = this.#tick()
    const order = this.#order(id)
    Object.assign(order, { cancelled_at: at, closed_at: at, financial_status: 'voided', updated_at: at })
    return structuredClone(order)
  }

  /** Refunds `amounts` (one successful refund transaction each) on an order; the refunds/create payload. */
  refundOrder(id: number, amounts: readonly string[]): FakeRefund {
    const order = this.#order(id)
    const at = this.#tick()
    const refundId = this.#id()
    const refund: FakeRefund = {
      id: refundId,
      order_id: id,
      created_at: at,
      processed_at: at,
      note: null,
      admin_graphql_api_id: `gid://shopify/Refund/${refundId}`,
      refund_line_items: [],
      transactions: amounts.map((amount) => ({
        id: this.#id(),
        order_id: id,
        kind: 'refund',
        status: 'success',
        amount,
        currency: order.currency,
        created_at: at,
      })),
      order_adjustments: [],
    }
    order.refunds.push(refund)
    order.financial_status = 'partially_refunded'
    order.updated_at = at
    return structuredClone(refund)
  }

  #order(id: number): FakeOrder {
    const order = this.orders.get(id)
    if (order === undefined) throw new Error(`the fake shop has no order ${id}`)
    return order
  }

  addProduct(input: NewProduct): FakeProduct {
    const id = this.#id()
    const at = this.#tick()
    const product: FakeProduct = {
      id,
      admin_graphql_api_id: `gid://shopify/Product/${id}`,
      title: input.title,
      status: 'active',
      created_at: at,
      updated_at: at,
      variants: input.variants.map((variant) => this.#variant(id, variant, at)),
    }
    this.products.set(id, product)
    return structuredClone(product)
  }

  #variant(productId: number, variant: NewProduct['variants'][number], at: string): FakeVariant {
    const inventoryItemId = this.#id()
    this.inventoryItems.set(inventoryItemId, variant.sku)
    return {
      id: this.#id(),
      product_id: productId,
      title: variant.title ?? 'Default Title',
      sku: variant.sku,
      price: variant.price,
      barcode: variant.barcode ?? null,
      inventory_item_id: inventoryItemId,
      created_at: at,
      updated_at: at,
    }
  }

  /** Replaces a product's title and variants as the merchant would; it gets a new updated_at. */
  updateProduct(id: number, input: NewProduct): FakeProduct {
    const product = this.products.get(id)
    if (product === undefined) throw new Error(`the fake shop has no product ${id}`)
    const at = this.#tick()
    product.title = input.title
    product.variants = input.variants.map((variant) => {
      const kept = product.variants.find((existing) => existing.sku === variant.sku)
      if (kept === undefined) return this.#variant(id, variant, at)
      return { ...kept, ...variant, title: variant.title ?? kept.title, updated_at: at } as FakeVariant
    })
    product.updated_at = at
    return structuredClone(product)
  }

  /** Deletes a product; the products/delete payload. */
  deleteProduct(id: number): { id: number } {
    this.products.delete(id)
    return { id }
  }

  /** An inventory level changed; the inventory_levels/update payload. */
  inventoryLevel(inventoryItemId: number, locationId: number, available: number | null) {
    return {
      inventory_item_id: inventoryItemId,
      location_id: locationId,
      available,
      updated_at: this.#tick(),
      admin_graphql_api_id: `gid://shopify/InventoryLevel/${locationId}?inventory_item_id=${inventoryItemId}`,
    }
  }

  /** A webhook as Shopify sends it: the JSON body and its headers, signed with the app's secret. */
  webhook(
    topic: string,
    payload: unknown,
    options: { secret?: string; eventId?: string; webhookId?: string } = {},
  ): SignedWebhook {
    const body = JSON.stringify(payload)
    return {
      body,
      headers: {
        'content-type': 'application/json',
        'x-shopify-topic': topic,
        'x-shopify-hmac-sha256': shopifySignature(options.secret ?? this.webhookSecret, body),
        'x-shopify-shop-domain': this.shopDomain,
        'x-shopify-api-version': this.apiVersion,
        'x-shopify-webhook-id': options.webhookId ?? randomUUID(),
        'x-shopify-event-id': options.eventId ?? randomUUID(),
        'x-shopify-triggered-at': new Date(this.#clock).toISOString(),
      },
    }
  }

  /** Sends a signed webhook to `url` (our endpoint), as Shopify would. */
  deliver(url: string, topic: string, payload: unknown, options: Parameters<FakeShopify['webhook']>[2] = {}) {
    const { headers, body } = this.webhook(topic, payload, options)
    return fetch(url, { method: 'POST', headers, body })
  }

  #handle(req: IncomingMessage, res: ServerResponse) {
    const path = req.url ?? '/'
    const token = req.headers['x-shopify-access-token']
    this.arrivals.push({
      method: req.method ?? '',
      path,
      at: performance.now(),
      accessToken: typeof token === 'string' ? token : undefined,
    })
    req.resume()
    const index = this.#faults.findIndex(({ pathIncludes }) => !pathIncludes || path.includes(pathIncludes))
    const fault = index === -1 ? undefined : this.#faults.splice(index, 1)[0]!.fault
    switch (fault?.kind) {
      case 'status':
        return this.#json(res, fault.status, { errors: 'Internal Server Error' })
      case 'throttle':
        res.setHeader('retry-after', fault.retryAfter)
        return this.#json(res, 429, {
          errors:
            'Exceeded 2 calls per second for api client. Reduce request rates to resume uninterrupted service.',
        })
      case 'hang':
        return
      case 'drop':
        req.socket.destroy()
        return
      case 'slow':
        setTimeout(() => this.#api(req, res, path), fault.delayMs)
        return
      default:
        this.#api(req, res, path)
    }
  }

  #json(res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
    if (res.destroyed) return
    res.writeHead(status, { 'content-type': 'application/json; charset=utf-8', ...headers })
    res.end(JSON.stringify(body))
  }

  /** Counts the call in the leaky bucket; false (and a 429 sent) when it is full. */
  #admit(res: ServerResponse): boolean {
    const now = performance.now()
    const drained = ((now - this.#bucket.at) / 1000) * (this.bucketSize / 20)
    const used = Math.max(0, this.#bucket.used - drained)
    if (used + 1 > this.bucketSize) {
      this.#bucket = { used, at: now }
      this.#json(
        res,
        429,
        {
          errors:
            'Exceeded 2 calls per second for api client. Reduce request rates to resume uninterrupted service.',
        },
        { 'retry-after': '2.0', 'x-shopify-shop-api-call-limit': `${this.bucketSize}/${this.bucketSize}` },
      )
      return false
    }
    this.#bucket = { used: used + 1, at: now }
    this.lastCallLimit = `${Math.ceil(used + 1)}/${this.bucketSize}`
    res.setHeader('x-shopify-shop-api-call-limit', this.lastCallLimit)
    return true
  }

  #api(req: IncomingMessage, res: ServerResponse, path: string) {
    const url = new URL(path, this.url)
    const match = /^\/admin\/api\/([^/]+)\/(.+)\.json$/.exec(url.pathname)
    if (req.method !== 'GET' || match === null) return this.#json(res, 404, { errors: 'Not Found' })
    if (req.headers['x-shopify-access-token'] !== this.accessToken) {
      return this.#json(res, 401, {
        errors: '[API] Invalid API key or access token (unrecognized login or wrong password)',
      })
    }
    if (!this.#admit(res)) return
    const [, version, resource] = match as unknown as [string, string, string]
    if (version !== this.apiVersion) return this.#json(res, 404, { errors: 'Not Found' })
    if (resource === 'shop') {
      return this.#json(res, 200, {
        shop: { id: 1, name: 'Fake shop', myshopify_domain: this.shopDomain, currency: this.currency },
      })
    }
    const item = /^inventory_items\/(\d+)$/.exec(resource)
    if (item !== null) {
      const id = Number(item[1])
      if (!this.inventoryItems.has(id)) return this.#json(res, 404, { errors: 'Not Found' })
      return this.#json(res, 200, {
        inventory_item: {
          id,
          sku: this.inventoryItems.get(id),
          tracked: true,
          requires_shipping: true,
          admin_graphql_api_id: `gid://shopify/InventoryItem/${id}`,
        },
      })
    }
    if (resource === 'orders' || resource === 'products') return this.#list(res, url, resource)
    return this.#json(res, 404, { errors: 'Not Found' })
  }

  #list(res: ServerResponse, url: URL, resource: 'orders' | 'products') {
    const query = url.searchParams
    const limit = Math.min(250, Number(query.get('limit') ?? '50'))
    if (!Number.isInteger(limit) || limit < 1)
      return this.#json(res, 400, { errors: { limit: 'is invalid' } })
    let token: PageToken
    const pageInfo = query.get('page_info')
    if (pageInfo !== null) {
      if ([...query.keys()].some((key) => !PAGING_PARAMETERS.has(key))) {
        return this.#json(res, 400, {
          errors: { page_info: 'Only limit and fields are allowed with page_info.' },
        })
      }
      try {
        token = JSON.parse(Buffer.from(pageInfo, 'base64url').toString('utf8')) as PageToken
      } catch {
        return this.#json(res, 400, { errors: { page_info: 'Invalid value.' } })
      }
      if (token.resource !== resource)
        return this.#json(res, 400, { errors: { page_info: 'Invalid value.' } })
    } else {
      const status = query.get('status') ?? 'open'
      if (resource === 'orders' && !ORDER_STATUSES.has(status)) {
        return this.#json(res, 400, { errors: { status: 'is invalid' } })
      }
      const min = query.get('updated_at_min')
      const updatedAtMin = min === null ? undefined : Date.parse(min)
      if (updatedAtMin !== undefined && Number.isNaN(updatedAtMin)) {
        return this.#json(res, 400, { errors: { updated_at_min: 'is invalid' } })
      }
      token = { resource, status, updatedAtMin }
    }
    const all = (resource === 'orders' ? [...this.orders.values()] : [...this.products.values()])
      .filter(
        (object) => token.updatedAtMin === undefined || Date.parse(object.updated_at) >= token.updatedAtMin,
      )
      .filter((object) => resource !== 'orders' || matchesStatus(object as FakeOrder, token.status))
      .sort((a, b) => a.id - b.id)
    const { after, before } = token
    const page =
      before !== undefined
        ? all.filter((object) => object.id < before).slice(-limit)
        : all.filter((object) => after === undefined || object.id > after).slice(0, limit)
    const links: string[] = []
    const link = (next: PageToken, rel: string) => {
      const info = Buffer.from(JSON.stringify(next)).toString('base64url')
      links.push(
        `<${this.url}/admin/api/${this.apiVersion}/${resource}.json?limit=${limit}&page_info=${info}>; rel="${rel}"`,
      )
    }
    const first = page[0]
    const last = page.at(-1)
    const base = { resource, status: token.status, updatedAtMin: token.updatedAtMin }
    if (first !== undefined && all.some((object) => object.id < first.id))
      link({ ...base, before: first.id }, 'previous')
    if (last !== undefined && all.some((object) => object.id > last.id))
      link({ ...base, after: last.id }, 'next')
    this.#json(res, 200, { [resource]: page }, links.length > 0 ? { link: links.join(', ') } : {})
  }
}

function matchesStatus(order: FakeOrder, status: string): boolean {
  if (status === 'any') return true
  if (status === 'cancelled') return order.cancelled_at !== null
  if (status === 'closed') return order.closed_at !== null
  return order.closed_at === null && order.cancelled_at === null
}

export async function startFakeShopify(options: FakeShopifyOptions = {}): Promise<FakeShopify> {
  return new FakeShopify(options).start()
}
