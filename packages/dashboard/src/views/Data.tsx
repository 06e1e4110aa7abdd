// A tenant's data as the admin API reads it: the live event feed, orders (with line items and refunds), stock
// by store and SKU, and products, each filterable and paginated.
import type { FeedEvent, FeedPage } from '@pos/contracts/events'
import type { StockLevel } from '@pos/contracts/inventory'
import type { Money } from '@pos/contracts/money'
import type { Order, OrderDetail } from '@pos/contracts/order'
import type { Product } from '@pos/contracts/product'
import { useEffect, useMemo, useState } from 'react'
import type { Static } from 'typebox'
import { api, query } from '../api.js'
import { type Column, ErrorNote, message, PagedTable, when } from './common.js'

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
  const [type, setType] = useState('')
  const [source, setSource] = useState('')

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

  const shown = events.filter(
    (event) => (type === '' || event.type.includes(type)) && (source === '' || event.source === source),
  )
  return (
    <section aria-label="Event feed">
      <form className="card inline-form" onSubmit={(event) => event.preventDefault()}>
        <label>
          Type contains
          <input value={type} onChange={(event) => setType(event.target.value)} />
        </label>
        <label>
          Source
          <input value={source} onChange={(event) => setSource(event.target.value)} />
        </label>
        <p className="muted">
          Live: the newest {FEED_KEPT} events, refreshed every {FEED_REFRESH_MS / 1000} s.
        </p>
      </form>
      <ErrorNote error={error} />
      <div className="table-scroll">
        <table data-feed>
          <caption>Events, newest first</caption>
          <thead>
            <tr>
              <th scope="col">Received</th>
              <th scope="col">Type</th>
              <th scope="col">Source</th>
              <th scope="col">Event id</th>
              <th scope="col">Data</th>
            </tr>
          </thead>
          <tbody>
            {shown.map((event) => (
              <tr key={`${event.source}/${event.id}`}>
                <td>{when(event.receivedAt)}</td>
                <td>{event.type}</td>
                <td>{event.source}</td>
                <td>
                  <code>{event.id}</code>
                </td>
                <td>
                  <code className="data">{summary(event.data)}</code>
                </td>
              </tr>
            ))}
            {shown.length === 0 && (
              <tr>
                <td colSpan={5}>No events yet.</td>
              </tr>
            )}
          </tbody>
        </table>
      </div>
    </section>
  )
}

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
          <div className="table-scroll">
            <table>
              <caption>Line items</caption>
              <thead>
                <tr>
                  <th scope="col">SKU</th>
                  <th scope="col">Quantity</th>
                  <th scope="col">Unit price</th>
                </tr>
              </thead>
              <tbody>
                {order.lineItems.map((item, index) => (
                  // biome-ignore lint/suspicious/noArrayIndexKey: line items have no id of their own
                  <tr key={index}>
                    <td>{item.sku}</td>
                    <td>{item.quantity}</td>
                    <td>{money(item.unitPrice)}</td>
                  </tr>
                ))}
              </tbody>
            </table>
          </div>
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
  const [storeId, setStoreId] = useState('')
  const [status, setStatus] = useState('')
  const [open, setOpen] = useState<string | null>(null)
  const filters = useMemo(() => ({ storeId, status }), [storeId, status])
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
      <form className="card inline-form" onSubmit={(event) => event.preventDefault()}>
        <label>
          Store
          <input value={storeId} onChange={(event) => setStoreId(event.target.value)} />
        </label>
        <label>
          Status
          <select value={status} onChange={(event) => setStatus(event.target.value)}>
            <option value="">any</option>
            <option value="OPEN">open</option>
            <option value="COMPLETED">completed</option>
            <option value="CANCELED">canceled</option>
          </select>
        </label>
      </form>
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
  const [storeId, setStoreId] = useState('')
  const [sku, setSku] = useState('')
  const filters = useMemo(() => ({ storeId, sku }), [storeId, sku])
  const columns: Column<Static<typeof StockLevel>>[] = [
    { title: 'Store', cell: (level) => level.storeId },
    { title: 'SKU', cell: (level) => level.sku },
    { title: 'On hand', cell: (level) => level.onHand },
    { title: 'Counted', cell: (level) => when(level.countedAt) },
    { title: 'Updated', cell: (level) => when(level.updatedAt) },
  ]
  return (
    <section aria-label="Stock">
      <form className="card inline-form" onSubmit={(event) => event.preventDefault()}>
        <label>
          Store
          <input value={storeId} onChange={(event) => setStoreId(event.target.value)} />
        </label>
        <label>
          SKU
          <input value={sku} onChange={(event) => setSku(event.target.value)} />
        </label>
      </form>
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
  const [sku, setSku] = useState('')
  const [barcode, setBarcode] = useState('')
  const [includeDeleted, setIncludeDeleted] = useState(false)
  const filters = useMemo(() => ({ sku, barcode, includeDeleted }), [sku, barcode, includeDeleted])
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
      <form className="card inline-form" onSubmit={(event) => event.preventDefault()}>
        <label>
          SKU
          <input value={sku} onChange={(event) => setSku(event.target.value)} />
        </label>
        <label>
          Barcode
          <input value={barcode} onChange={(event) => setBarcode(event.target.value)} />
        </label>
        <label className="check">
          <input
            type="checkbox"
            checked={includeDeleted}
            onChange={(event) => setIncludeDeleted(event.target.checked)}
          />
          Include deleted
        </label>
      </form>
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
