// Shopify objects as canonical events. Pure: everything fetched or remembered is passed in. Event ids are
// deterministic (the same object at the same `updated_at` gives the same id), so a webhook redelivered or an
// object found again by reconciliation is a duplicate of what is stored.
import { createHash } from 'node:crypto'
import type { EventType } from '@pos/contracts/events'
import { MoneyConversionError, type MoneyValue, minorUnits } from '../money.js'
import type { CanonicalEvent } from '../provider.js'
import { Unmappable } from '../provider.js'
import { idText, type ShopifyOrder, type ShopifyProduct, type ShopifyRefund } from './payloads.js'

const MAX_EVENT_ID = 255
const MAX_SKU = 200
const MAX_BARCODE = 100

/** An event id within the ingest limit: a long one (long SKUs) keeps its start and a digest of the whole. */
function eventId(id: string): string {
  if (id.length <= MAX_EVENT_ID) return id
  return `${id.slice(0, 200)}:${createHash('sha256').update(id).digest('hex').slice(0, 40)}`
}

/** A SKU as our catalog takes it, or Unmappable saying whose it is. */
export function requiredSku(sku: string | null | undefined, whose: string): string {
  const trimmed = sku?.trim()
  if (!trimmed) throw new Unmappable(`${whose} has no SKU`)
  if (trimmed.length > MAX_SKU) throw new Unmappable(`${whose} has a SKU longer than ${MAX_SKU} characters`)
  return trimmed
}

/** The store of a Shopify order without a location (an online order, a draft order completed in the admin). */
export const ONLINE_STORE = 'shopify-online'

/** The store code of a Shopify location. */
export function storeCode(locationId: number | string | null | undefined): string {
  return locationId === null || locationId === undefined ? ONLINE_STORE : `shopify-${idText(locationId)}`
}

/** Epoch ms of a Shopify timestamp (they carry their offset, e.g. "2025-01-10T11:00:00-05:00"). */
export function epochMs(timestamp: string): number {
  return new Date(timestamp).getTime()
}

/** Money of a decimal string, or Unmappable naming what it was. */
function moneyOf(decimal: string, currency: string, what: string): MoneyValue {
  try {
    return { amount: minorUnits(decimal, currency), currency }
  } catch (error) {
    if (error instanceof MoneyConversionError) throw new Unmappable(`${what}: ${error.message}`)
    throw error
  }
}

const PAID = new Set(['paid', 'partially_refunded', 'refunded'])

/**
 * CANCELED once `cancelled_at` is set; COMPLETED when it is paid (refunds afterwards do not reopen it) and
 * either fulfilled or closed (archived); OPEN otherwise.
 */
export function orderStatus(order: ShopifyOrder): 'OPEN' | 'COMPLETED' | 'CANCELED' {
  if (order.cancelled_at) return 'CANCELED'
  const paid = PAID.has(order.financial_status ?? '')
  if (paid && (order.fulfillment_status === 'fulfilled' || Boolean(order.closed_at))) return 'COMPLETED'
  return 'OPEN'
}

const TYPE_OF_STATUS = { CANCELED: 'order.canceled', COMPLETED: 'order.completed' } as const

/**
 * The order at its `updated_at` (its version, in epoch ms), and one refund.created per refund it carries
 * (a listed order does; a webhook's order carries the refunds made so far).
 */
export function orderEvents(order: ShopifyOrder): CanonicalEvent[] {
  const orderId = idText(order.id)
  const version = epochMs(order.updated_at)
  const status = orderStatus(order)
  const type: EventType =
    status === 'OPEN'
      ? version === epochMs(order.created_at)
        ? 'order.created'
        : 'order.updated'
      : TYPE_OF_STATUS[status]
  const lineItems = order.line_items.map((line, index) => {
    const sku = requiredSku(
      line.sku,
      `order ${orderId}: line ${index} (${JSON.stringify(line.title ?? '')}, line item ${idText(line.id)})`,
    )
    return {
      sku,
      quantity: line.quantity,
      unitPrice: moneyOf(line.price, order.currency, `order ${orderId} line ${index} price`),
    }
  })
  const event: CanonicalEvent = {
    id: `shopify:order:${orderId}:${version}`,
    type,
    occurredAt: new Date(version).toISOString(),
    data: {
      orderId,
      storeId: storeCode(order.location_id),
      version,
      status,
      currency: order.currency,
      lineItems,
      total: moneyOf(order.total_price, order.currency, `order ${orderId} total_price`),
    },
  }
  return [event, ...(order.refunds ?? []).map(refundEvent)]
}

/**
 * The money a refund gave back: its successful refund transactions added up (what left the shop, shipping
 * and adjustments included); when it has none, its refunded lines' subtotals and taxes in the shop's currency.
 */
export function refundAmount(refund: ShopifyRefund): MoneyValue {
  const refundId = idText(refund.id)
  const transactions = (refund.transactions ?? []).filter(
    (transaction) => transaction.kind === 'refund' && transaction.status === 'success',
  )
  const parts =
    transactions.length > 0
      ? transactions.map((transaction) => ({ amount: transaction.amount, currency: transaction.currency }))
      : (refund.refund_line_items ?? []).flatMap((line) =>
          [line.subtotal_set, line.total_tax_set]
            .filter((set) => set !== undefined)
            .map((set) => ({ amount: set.shop_money.amount, currency: set.shop_money.currency_code })),
        )
  const [first] = parts
  if (first === undefined) {
    throw new Unmappable(`refund ${refundId}: no successful refund transaction and no refunded line`)
  }
  let amount = 0
  for (const part of parts) {
    if (part.currency !== first.currency) {
      throw new Unmappable(`refund ${refundId}: amounts in ${first.currency} and ${part.currency}`)
    }
    amount += moneyOf(part.amount, part.currency, `refund ${refundId} amount`).amount
  }
  if (!Number.isSafeInteger(amount)) throw new Unmappable(`refund ${refundId}: the amount is too large`)
  return { amount, currency: first.currency }
}

export function refundEvent(refund: ShopifyRefund): CanonicalEvent {
  const refundId = idText(refund.id)
  return {
    id: `shopify:refund:${refundId}`,
    type: 'refund.created',
    occurredAt: new Date(refund.processed_at ?? refund.created_at).toISOString(),
    data: { orderId: idText(refund.order_id), refundId, amount: refundAmount(refund) },
  }
}

/** The SKUs of a product's variants, each required. */
export function variantSkus(product: ShopifyProduct): string[] {
  return product.variants.map((variant) =>
    requiredSku(variant.sku, `product ${idText(product.id)}: variant ${idText(variant.id)}`),
  )
}

const MAX_NAME = 500

/**
 * One product.upserted per variant SKU, named "<product> - <variant>" unless the variant is Shopify's only
 * "Default Title"; priced in the shop's currency (variants carry no currency). `removedSkus` (remembered
 * from an earlier version of the product, gone from this one) become product.deleted.
 */
export function productEvents(
  product: ShopifyProduct,
  currency: string,
  removedSkus: readonly string[] = [],
): CanonicalEvent[] {
  const productId = idText(product.id)
  const productVersion = epochMs(product.updated_at)
  const skus = variantSkus(product)
  const events: CanonicalEvent[] = product.variants.map((variant, index) => {
    const version = Math.max(productVersion, variant.updated_at ? epochMs(variant.updated_at) : 0)
    const variantTitle = variant.title?.trim()
    const name =
      variantTitle && variantTitle !== 'Default Title' ? `${product.title} - ${variantTitle}` : product.title
    // A longer barcode is not one our catalog can hold, and a cut one would name another article.
    const barcode = variant.barcode?.trim()
    return {
      id: eventId(`shopify:product:${productId}:variant:${idText(variant.id)}:${version}`),
      type: 'product.upserted',
      occurredAt: new Date(version).toISOString(),
      data: {
        sku: skus[index]!,
        name: (name.trim() || `Shopify product ${productId}`).slice(0, MAX_NAME),
        price: moneyOf(variant.price, currency, `product ${productId} variant ${idText(variant.id)} price`),
        ...(barcode && barcode.length <= MAX_BARCODE ? { barcode } : {}),
      },
    }
  })
  for (const sku of removedSkus) {
    events.push({
      id: eventId(`shopify:product:${productId}:${productVersion}:removed:${sku}`),
      type: 'product.deleted',
      occurredAt: new Date(productVersion).toISOString(),
      data: { sku },
    })
  }
  return events
}

/** One product.deleted per SKU the deleted product was last seen with. */
export function productDeletionEvents(
  productId: string,
  skus: readonly string[],
  deletedAt: number,
): CanonicalEvent[] {
  return skus.map((sku) => ({
    id: eventId(`shopify:product:${productId}:deleted:${sku}`),
    type: 'product.deleted',
    occurredAt: new Date(deletedAt).toISOString(),
    data: { sku },
  }))
}

/** The count Shopify reports as `available` for an inventory item at a location. */
export function inventoryCountEvent(
  inventoryItemId: string,
  locationId: string,
  sku: string,
  available: number,
  updatedAt: string,
): CanonicalEvent {
  const version = epochMs(updatedAt)
  return {
    id: `shopify:inventory:${inventoryItemId}:${locationId}:${version}`,
    type: 'inventory.counted',
    occurredAt: new Date(version).toISOString(),
    data: { storeId: storeCode(locationId), sku, onHand: available },
  }
}
