// POS events as a till sends them, for the bench and the load test: catalogue changes, sales, stock moves and
// refunds over a small catalogue and a few stores, so projections see the same rows touched again and again.
// Every random choice (ids, SKUs, quantities, stores) comes from the source's Random: the chaos suite gives
// each till a seeded one, so a seed replays the same events; the benches use the module functions below.
import { randomUUID } from 'node:crypto'
import { type Random, systemRandom } from './random.js'

export interface PosEvent {
  readonly id: string
  readonly type: string
  readonly occurredAt: string
  readonly data: Record<string, unknown>
}

const CURRENCY = 'EUR'
const CATALOGUE_SIZE = 500
const STORES = ['store-001', 'store-002', 'store-003', 'store-004']

/** A stable price per SKU, so every upsert of one product names the same price. */
const priceOf = (sku: string): number => 199 + ((Number(sku.slice(4)) * 37) % 4800)
const money = (amount: number) => ({ amount, currency: CURRENCY })
/** The one thing a seed does not fix: events happen when they are sent. */
const now = (): string => new Date().toISOString()

export class PosEventSource {
  /**
   * @param random every choice of SKU, store, quantity and batch shape
   * @param newId event, order and refund ids
   */
  constructor(
    private readonly random: Random = systemRandom,
    private readonly newId: () => string = randomUUID,
  ) {}

  productUpserted(sku = this.#anySku()): PosEvent {
    return {
      id: this.newId(),
      type: 'product.upserted',
      occurredAt: now(),
      data: { sku, name: `Product ${sku}`, price: money(priceOf(sku)), barcode: `40${sku.slice(4)}0000001` },
    }
  }

  inventoryAdjusted(
    sku = this.#anySku(),
    delta = this.random.between(-3, 12),
    storeId = this.random.pick(STORES),
  ): PosEvent {
    return { id: this.newId(), type: 'inventory.adjusted', occurredAt: now(), data: { storeId, sku, delta } }
  }

  /** The single-event batches of the bench: catalogue changes and stock moves, half each. */
  benchEvent(sequence: number): PosEvent {
    return sequence % 2 === 0 ? this.productUpserted() : this.inventoryAdjusted()
  }

  /**
   * A batch of 1 to 7 events as one till sync might carry: a completed sale with its stock moves (sometimes
   * refunded in part right away), a restock, or catalogue edits.
   */
  tillBatch(): PosEvent[] {
    const roll = this.random.below(10)
    if (roll < 6) return this.#sale(roll === 0)
    if (roll < 8) return [this.inventoryAdjusted(this.#anySku(), this.random.between(6, 48))]
    return Array.from({ length: this.random.between(1, 4) }, () => this.productUpserted())
  }

  /**
   * `size` events of every type a till sends (sales with their stock moves, refunds, restocks, catalogue
   * edits), as consecutive till syncs would carry them: tillBatch after tillBatch, the last one cut to fit.
   */
  mixedBatch(size: number): PosEvent[] {
    const events: PosEvent[] = []
    while (events.length < size) events.push(...this.tillBatch())
    return events.slice(0, size)
  }

  #anySku(): string {
    return `SKU-${String(this.random.below(CATALOGUE_SIZE)).padStart(5, '0')}`
  }

  #sale(refunded: boolean): PosEvent[] {
    const storeId = this.random.pick(STORES)
    const orderId = `ord-${this.newId()}`
    const lines = Array.from({ length: this.random.between(1, 4) }, () => ({
      sku: this.#anySku(),
      quantity: this.random.between(1, 4),
    }))
    const lineItems = lines.map(({ sku, quantity }) => ({ sku, quantity, unitPrice: money(priceOf(sku)) }))
    const total = lineItems.reduce((sum, item) => sum + item.quantity * item.unitPrice.amount, 0)
    const events: PosEvent[] = [
      {
        id: this.newId(),
        type: 'order.completed',
        occurredAt: now(),
        data: { orderId, storeId, version: 1, currency: CURRENCY, lineItems, total: money(total) },
      },
      ...lines.map(({ sku, quantity }) => this.inventoryAdjusted(sku, -quantity, storeId)),
    ]
    if (refunded) {
      const refund = lineItems[0]!
      events.push({
        id: this.newId(),
        type: 'refund.created',
        occurredAt: now(),
        data: { orderId, refundId: `ref-${this.newId()}`, amount: money(refund.unitPrice.amount) },
      })
    }
    return events
  }
}

/** The benches' events: nothing in a bench is replayed, so they draw from the system's randomness. */
const unseeded = new PosEventSource()
export const benchEvent = (sequence: number): PosEvent => unseeded.benchEvent(sequence)
export const tillBatch = (): PosEvent[] => unseeded.tillBatch()
export const mixedBatch = (size: number): PosEvent[] => unseeded.mixedBatch(size)

/** The order ids of the sales among `events`. */
export function orderIdsOf(events: readonly PosEvent[]): string[] {
  return events.filter((event) => event.type === 'order.completed').map((event) => String(event.data.orderId))
}
