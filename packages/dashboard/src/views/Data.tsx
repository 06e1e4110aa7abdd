// A tenant's data as the admin API reads it: the live event feed, orders (with line items and refunds), stock
// by store and SKU, and products, each filterable and paginated.
import type { FeedEvent, FeedPage } from '@pos/contracts/events'
import type { StockLevel } from '@pos/contracts/inventory'
import type { Money } from '@pos/contracts/money'
import type { Order, OrderDetail } from '@pos/contracts/order'
import type { Product } from '@pos/contracts/product'
import { useEffect, useState } from 'react'
import type { Static } from 'typebox'
import { api, query } from '../api.js'
import {
  type Column,
  DataTable,
  ErrorNote,
  Filters,
  message,
  PagedTable,
  TextFilter,
  useFilters,
  when,
} from './common.js'

const FEED_REFRESH_MS = 2000
const FEED_KEPT = 200

const DATA_SHOWN = 160

/** The start of an event's data, short enough for a table cell. */
function summary(data: unknown): string {
  const text = JSON.stringify(data)
  return text.length > DATA_SHOWN ? `${text.slice(0, DATA_SHOWN)}…` : text
}

/** An amount in minor units, in its currency's own number of decimals (2 for EUR, 0 for JPY). */
function money(value: Static<typeof Money>): string {
  try {
    const format = new Intl.NumberFormat(undefined, { style: 'currency', currency: value.currency })
    return format.format(value.amount / 10 ** (format.resolvedOptions().maximumFractionDigits ?? 2))
  } catch {
    return `${value.amount} ${value.currency} (minor units)`
  }
}

/** Reads the feed from its start and then follows it, keeping the newest FEED_KEPT events. */
export function EventFeed(props: { tenantId: string }) {
  const [events, setEvents] = useState<Static<typeof FeedEvent>[]>([])
  const [error, setError] = useState<string | null>(null)
  const [filters, setFilter] = useFilters({ type: '', source: '' })

  useEffect(() => {
    let stopped = false
    let after: string | undefined
    let timer: ReturnType<typeof setTimeout> | undefined
    const path = `/v1/admin/tenants/${props.tenantId}/events`
    const read = async () => {
      try {
        // Pages until caught up, then waits: a page shorter than the limit means nothing more for now.
        for (;;) {
          const page = await api<Static<typeof FeedPage>>('GET', `${path}${query({ limit: 100, after })}`)
          if (stopped) return
          after = page.nextCursor
          if (page.data.length > 0)
            setEvents((known) => [...page.data.reverse(), ...known].slice(0, FEED_KEPT))
          if (page.data.length < 100) break
        }
        setError(null)
      } catch (err) {
        if (!stopped) setError(message(err))
      }
      if (!stopped) timer = setTimeout(read, FEED_REFRESH_MS)
    }
    void read()
    return () => {
      stopped = true
      clearTimeout(timer)
    }
  }, [props.tenantId])

  const { type, source } = filters
  const shown = events.filter(
    (event) => (type === '' || event.type.includes(type)) && (source === '' || event.source === source),
  )
  const columns: Column<Static<typeof FeedEvent>>[] = [
    { title: 'Received', cell: (event) => when(event.receivedAt) },
    { title: 'Type', cell: (event) => event.type },
    { title: 'Source', cell: (event) => event.source },
    { title: 'Event id', cell: (event) => <code>{event.id}</code> },
    { title: 'Data', cell: (event) => <code className="data">{summary(event.data)}</code> },
  ]
  return (
    <section aria-label="Event feed">
      <Filters label="Event filters">
        <TextFilter label="Type contains" value={type} onChange={(value) => setFilter('type', value)} />
        <TextFilter label="Source" value={source} onChange={(value) => setFilter('source', value)} />
        <p className="muted">
          Live: the newest {FEED_KEPT} events, refreshed every {FEED_REFRESH_MS / 1000} s.
        </p>
      </Filters>
      <ErrorNote error={error} />
      <DataTable
        caption="Events, newest first"
        columns={columns}
        items={shown}
        rowKey={(event) => `${event.source}/${event.id}`}
        empty="No events yet."
      />
    </section>
  )
}

type LineItem = Static<typeof OrderDetail>['lineItems'][number]

const LINE_ITEM_COLUMNS: Column<LineItem>[] = [
  { title: 'SKU', cell: (item) => item.sku },
  { title: 'Quantity', cell: (item) => item.quantity },
  { title: 'Unit price', cell: (item) => money(item.unitPrice) },
]

function OrderView(props: { tenantId: string; orderId: string; onClose: () => void }) {
  const [order, setOrder] = useState<Static<typeof OrderDetail> | null>(null)
  const [error, setError] = useState<string | null>(null)
  useEffect(() => {
    api<Static<typeof OrderDetail>>(
      'GET',
      `/v1/admin/tenants/${props.tenantId}/orders/${encodeURIComponent(props.orderId)}`,
    )
      .then(setOrder)
      .catch((err: unknown) => setError(message(err)))
  }, [props.tenantId, props.orderId])
  return (
    <section className="card" aria-label={`Order ${props.orderId}`}>
      <h3>Order {props.orderId}</h3>
      <ErrorNote error={error} />
      {order && (
        <>
          <DataTable
            caption="Line items"
            columns={LINE_ITEM_COLUMNS}
            items={order.lineItems}
            // Line items have no id of their own; an order's list never changes order.
            rowKey={(_, index) => String(index)}
          />
          <p>
            Refunded {money(order.refundedTotal)} in {order.refunds.length} refund(s)
            {order.refunds.map((refund) => ` · ${refund.refundId}: ${money(refund.amount)}`).join('')}
          </p>
        </>
      )}
      <button type="button" className="secondary" onClick={props.onClose}>
        Close
      </button>
    </section>
  )
}

export function Orders(props: { tenantId: string }) {
  const [filters, setFilter] = useFilters({ storeId: '', status: '' })
  const [open, setOpen] = useState<string | null>(null)
  const columns: Column<Static<typeof Order>>[] = [
    {
      title: 'Order',
      cell: (order) => (
        <button type="button" className="link" onClick={() => setOpen(order.orderId)}>
          {order.orderId}
        </button>
      ),
    },
    { title: 'Store', cell: (order) => order.storeId },
    { title: 'Status', cell: (order) => order.status },
    { title: 'Total', cell: (order) => money(order.total) },
    { title: 'Updated', cell: (order) => when(order.updatedAt) },
  ]
  return (
    <section aria-label="Orders">
      <Filters label="Order filters">
        <TextFilter label="Store" value={filters.storeId} onChange={(value) => setFilter('storeId', value)} />
        <label>
          Status
          <select value={filters.status} onChange={(event) => setFilter('status', event.target.value)}>
            <option value="">any</option>
            <option value="OPEN">open</option>
            <option value="COMPLETED">completed</option>
            <option value="CANCELED">canceled</option>
          </select>
        </label>
      </Filters>
      {open && <OrderView tenantId={props.tenantId} orderId={open} onClose={() => setOpen(null)} />}
      <PagedTable
        path={`/v1/admin/tenants/${props.tenantId}/orders`}
        filters={filters}
        columns={columns}
        rowKey={(order) => order.orderId}
        caption="Orders"
      />
    </section>
  )
}

export function Inventory(props: { tenantId: string }) {
  const [filters, setFilter] = useFilters({ storeId: '', sku: '' })
  const columns: Column<Static<typeof StockLevel>>[] = [
    { title: 'Store', cell: (level) => level.storeId },
    { title: 'SKU', cell: (level) => level.sku },
    { title: 'On hand', cell: (level) => level.onHand },
    { title: 'Counted', cell: (level) => when(level.countedAt) },
    { title: 'Updated', cell: (level) => when(level.updatedAt) },
  ]
  return (
    <section aria-label="Stock">
      <Filters label="Stock filters">
        <TextFilter label="Store" value={filters.storeId} onChange={(value) => setFilter('storeId', value)} />
        <TextFilter label="SKU" value={filters.sku} onChange={(value) => setFilter('sku', value)} />
      </Filters>
      <PagedTable
        path={`/v1/admin/tenants/${props.tenantId}/inventory`}
        filters={filters}
        columns={columns}
        rowKey={(level) => `${level.storeId}/${level.sku}`}
        caption="Stock by store and SKU"
      />
    </section>
  )
}

export function Products(props: { tenantId: string }) {
  const [filters, setFilter] = useFilters({ sku: '', barcode: '', includeDeleted: false })
  const columns: Column<Static<typeof Product>>[] = [
    { title: 'SKU', cell: (product) => product.sku },
    { title: 'Name', cell: (product) => product.name },
    { title: 'Price', cell: (product) => money(product.price) },
    { title: 'Barcode', cell: (product) => product.barcode ?? '—' },
    { title: 'Deleted', cell: (product) => (product.deleted ? 'yes' : 'no') },
    { title: 'Updated', cell: (product) => when(product.updatedAt) },
  ]
  return (
    <section aria-label="Products">
      <Filters label="Product filters">
        <TextFilter label="SKU" value={filters.sku} onChange={(value) => setFilter('sku', value)} />
        <TextFilter
          label="Barcode"
          value={filters.barcode}
          onChange={(value) => setFilter('barcode', value)}
        />
        <label className="check">
          <input
            type="checkbox"
            checked={filters.includeDeleted}
            onChange={(event) => setFilter('includeDeleted', event.target.checked)}
          />
          Include deleted
        </label>
      </Filters>
      <PagedTable
        path={`/v1/admin/tenants/${props.tenantId}/products`}
        filters={filters}
        columns={columns}
        rowKey={(product) => product.sku}
        caption="Products"
      />
    </section>
  )
}
