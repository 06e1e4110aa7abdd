// The projections of the write path that are computed in memory before they are written: the stores an
// event names (created on first sight, ids cached), the latest count per store and SKU, and the latest state of
// each order with its line items. Catalog, stock moves and refunds are projected inside WRITE_BATCH itself.
import type { SqlSession } from '../../platform/database.js'
import { timedQuery } from '../../platform/metrics.js'
import { type Statement, toColumnArrays } from '../../platform/sql.js'
import { TtlCache } from '../../platform/ttl-cache.js'
import { STATUS_OF_TYPE, type ValidEvent } from './events.js'
import {
  type AppliedOrderRow,
  CLEAR_LINE_ITEMS,
  COUNT_STOCK,
  CREATE_STORES,
  FIND_STORES,
  INSERT_LINE_ITEMS,
  type StoreRow,
  UPSERT_ORDERS,
} from './statements.js'

/** Separates the parts of composite in-memory keys; no text the API accepts contains it. */
export const SEP = '\u0000'
/**
 * Store ids never change once created, and stores go only with their tenant: a deleted tenant's cached ids are
 * never written, since WRITE_BATCH writes nothing for a tenant it does not find.
 */
const STORE_CACHE_TTL_MS = 60_000

type OrderEvent = Extract<ValidEvent, { type: `order.${string}` }>

/** An event the batch appended, with its tenant. */
export interface AcceptedEvent {
  readonly tenantId: string
  readonly event: ValidEvent
}

/** Runs a statement, timed under its name. */
export function run<Params extends readonly unknown[], Row>(
  session: SqlSession,
  stmt: Statement<Params, Row>,
  params: Params,
): Promise<Row[]> {
  return timedQuery(stmt.name, () => session.query(stmt, params))
}

export const byText = (a: string, b: string): number => (a < b ? -1 : a > b ? 1 : 0)

/** Whether `a` is a newer state of an order than `b`: versions decide when both have one, else time. */
function newerOrder(a: OrderEvent, b: OrderEvent): boolean {
  if (a.data.version !== undefined && b.data.version !== undefined) return a.data.version > b.data.version
  return a.occurredAt.getTime() >= b.occurredAt.getTime()
}

/** Whether a batch needs an explicit transaction: counts and orders are written by statements of their own. */
export function needsTransaction(batches: readonly { readonly events: readonly ValidEvent[] }[]): boolean {
  return batches.some((request) =>
    request.events.some((event) => event.type === 'inventory.counted' || event.type.startsWith('order.')),
  )
}

/** Store codes to ids, per tenant; creates the stores seen for the first time. */
export class StoreDirectory {
  readonly #ids = new TtlCache<string>(STORE_CACHE_TTL_MS)

  /** The ids of every store the events name, keyed `tenantId SEP code`. */
  async resolve(
    session: SqlSession,
    requests: readonly { readonly tenantId: string; readonly events: readonly ValidEvent[] }[],
  ): Promise<Map<string, string>> {
    const ids = new Map<string, string>()
    const missing = new Map<string, readonly [string, string]>()
    for (const { tenantId, events } of requests) {
      for (const event of events) {
        if (!('storeId' in event.data)) continue
        const key = `${tenantId}${SEP}${event.data.storeId}`
        if (ids.has(key) || missing.has(key)) continue
        const cached = this.#ids.get(key)
        if (cached === undefined) missing.set(key, [tenantId, event.data.storeId])
        else ids.set(key, cached)
      }
    }
    if (missing.size === 0) return ids
    const remember = (rows: StoreRow[]) => {
      for (const row of rows) {
        const key = `${row.tenant_id}${SEP}${row.code}`
        ids.set(key, row.id)
        this.#ids.set(key, row.id)
        missing.delete(key)
      }
    }
    remember(await run(session, FIND_STORES, toColumnArrays([...missing.values()], 2)))
    if (missing.size > 0) {
      const wanted = [...missing.values()].sort((a, b) => byText(a[0], b[0]) || byText(a[1], b[1]))
      remember(await run(session, CREATE_STORES, toColumnArrays(wanted, 2)))
    }
    // A store another transaction created meanwhile: our insert waited for it, then did nothing.
    if (missing.size > 0) remember(await run(session, FIND_STORES, toColumnArrays([...missing.values()], 2)))
    return ids
  }
}

type StoreOf = (tenantId: string, code: string) => string

/** Writes the latest count per store and SKU among the accepted events. */
export async function projectCounts(
  session: SqlSession,
  accepted: readonly AcceptedEvent[],
  storeOf: StoreOf,
): Promise<void> {
  const latest = new Map<string, readonly [string, string, string, string, string]>()
  for (const { tenantId, event } of accepted) {
    if (event.type !== 'inventory.counted') continue
    const { storeId, sku, onHand } = event.data
    const key = `${tenantId}${SEP}${storeId}${SEP}${sku}`
    const at = event.occurredAt.toISOString()
    const current = latest.get(key)
    if (!current || at >= current[4])
      latest.set(key, [tenantId, storeOf(tenantId, storeId), sku, String(onHand), at])
  }
  if (latest.size === 0) return
  // One lock order for every batch, so two batches never wait on each other's rows in a cycle.
  const rows = [...latest.values()].sort((a, b) => byText(a[1], b[1]) || byText(a[2], b[2]))
  await run(session, COUNT_STOCK, toColumnArrays(rows, 5))
}

/** Writes the newest state of each order among the accepted events, replacing its line items. */
export async function projectOrders(
  session: SqlSession,
  accepted: readonly AcceptedEvent[],
  storeOf: StoreOf,
): Promise<void> {
  const latest = new Map<string, { tenantId: string; event: OrderEvent }>()
  for (const { tenantId, event } of accepted) {
    if (!event.type.startsWith('order.')) continue
    const orderEvent = event as OrderEvent
    const key = `${tenantId}${SEP}${orderEvent.data.orderId}`
    const current = latest.get(key)
    if (!current || newerOrder(orderEvent, current.event)) latest.set(key, { tenantId, event: orderEvent })
  }
  if (latest.size === 0) return
  const winners = [...latest.values()].sort((a, b) => byText(a.event.data.orderId, b.event.data.orderId))
  const rows = winners.map(
    ({ tenantId, event }) =>
      [
        tenantId,
        event.data.orderId,
        storeOf(tenantId, event.data.storeId),
        event.data.status ?? STATUS_OF_TYPE[event.type]!,
        event.data.version ?? null,
        event.data.currency,
        event.data.total.amount,
        event.occurredAt.toISOString(),
      ] as const,
  )
  const applied: AppliedOrderRow[] = await run(session, UPSERT_ORDERS, toColumnArrays(rows, 8))
  if (applied.length === 0) return
  await run(session, CLEAR_LINE_ITEMS, [applied.map((row) => row.id)])
  const items: (readonly [string, number, string, string, number, string])[] = []
  for (const row of applied) {
    const { event } = latest.get(`${row.tenant_id}${SEP}${row.order_id}`)!
    event.data.lineItems.forEach((item, position) => {
      items.push([
        row.id,
        position,
        item.sku,
        String(item.quantity),
        item.unitPrice.amount,
        item.unitPrice.currency,
      ])
    })
  }
  if (items.length > 0) await run(session, INSERT_LINE_ITEMS, toColumnArrays(items, 6))
}
