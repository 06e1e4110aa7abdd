// POS events as a till sends them, for the bench and the load test: catalogue changes, sales, stock moves and
// refunds over a small catalogue and a few stores, so projections see the same rows touched again and again.
import { randomInt, randomUUID } from 'node:crypto'

export interface PosEvent {
  readonly id: string
  readonly type: string
  readonly occurredAt: string
  readonly data: Record<string, unknown>
}

const CURRENCY = 'EUR'
const CATALOGUE_SIZE = 500
const STORES = ['store-001', 'store-002', 'store-003', 'store-004']

const pick = <T>(items: readonly T[]): T => items[randomInt(items.length)]!
const anySku = (): string => `SKU-${String(randomInt(CATALOGUE_SIZE)).padStart(5, '0')}`
/** A stable price per SKU, so every upsert of one product names the same price. */
const priceOf = (sku: string): number => 199 + ((Number(sku.slice(4)) * 37) % 4800)
const money = (amount: number) => ({ amount, currency: CURRENCY })
const now = (): string => new Date().toISOString()

export function productUpserted(sku = anySku()): PosEvent {
  return {
    id: randomUUID(),
    type: 'product.upserted',
    occurredAt: now(),
    data: { sku, name: `Product ${sku}`, price: money(priceOf(sku)), barcode: `40${sku.slice(4)}0000001` },
  }
}

export function inventoryAdjusted(
  sku = anySku(),
  delta = randomInt(-3, 12),
  storeId = pick(STORES),
): PosEvent {
  return { id: randomUUID(), type: 'inventory.adjusted', occurredAt: now(), data: { storeId, sku, delta } }
}

/** The single-event batches of the bench: catalogue changes and stock moves, half each. */
export function benchEvent(sequence: number): PosEvent {
  return sequence % 2 === 0 ? productUpserted() : inventoryAdjusted()
}

/**
 * A batch of 1 to 7 events as one till sync might carry: a completed sale with its stock moves (sometimes
 * refunded in part right away), a restock, or catalogue edits.
 */
export function tillBatch(): PosEvent[] {
  const roll = randomInt(10)
  if (roll < 6) return sale(roll === 0)
  if (roll < 8) return [inventoryAdjusted(anySku(), randomInt(6, 48))]
  return Array.from({ length: randomInt(1, 4) }, () => productUpserted())
}

/**
 * `size` events of every type a till sends (sales with their stock moves, refunds, restocks, catalogue
 * edits), as consecutive till syncs would carry them: tillBatch after tillBatch, the last one cut to fit.
 */
export function mixedBatch(size: number): PosEvent[] {
  const events: PosEvent[] = []
  while (events.length < size) events.push(...tillBatch())
  return events.slice(0, size)
}

/** The order ids of the sales among `events`. */
export function orderIdsOf(events: readonly PosEvent[]): string[] {
  return events.filter((event) => event.type === 'order.completed').map((event) => String(event.data.orderId))
}

function sale(refunded: boolean): PosEvent[] {
  const storeId = pick(STORES)
  const orderId = `ord-${randomUUID()}`
  const lines = Array.from({ length: randomInt(1, 4) }, () => ({ sku: anySku(), quantity: randomInt(1, 4) }))
  const lineItems = lines.map(({ sku, quantity }) => ({ sku, quantity, unitPrice: money(priceOf(sku)) }))
  const total = lineItems.reduce((sum, item) => sum + item.quantity * item.unitPrice.amount, 0)
  const events: PosEvent[] = [
    {
      id: randomUUID(),
      type: 'order.completed',
      occurredAt: now(),
      data: { orderId, storeId, version: 1, currency: CURRENCY, lineItems, total: money(total) },
    },
    ...lines.map(({ sku, quantity }) => inventoryAdjusted(sku, -quantity, storeId)),
  ]
  if (refunded) {
    const refund = lineItems[0]!
    events.push({
      id: randomUUID(),
      type: 'refund.created',
      occurredAt: now(),
      data: { orderId, refundId: `ref-${randomUUID()}`, amount: money(refund.unitPrice.amount) },
    })
  }
  return events
}
