// One tenant: its rate limit, and a tab per thing it owns.
import type { Tenant } from '@pos/contracts/admin'
import { type FormEvent, useState } from 'react'
import { api } from '../api.js'
import { Link } from '../router.js'
import { ErrorNote, message, useResource } from './common.js'
import { EventFeed, Inventory, Orders, Products } from './Data.js'
import { ApiKeys } from './Keys.js'
import { Sources } from './Sources.js'
import { Webhooks } from './Webhooks.js'

const TABS = [
  ['keys', 'API keys'],
  ['sources', 'Sources'],
  ['events', 'Event feed'],
  ['orders', 'Orders'],
  ['inventory', 'Stock'],
  ['products', 'Products'],
  ['webhooks', 'Webhooks'],
] as const

function RateLimit(props: { tenant: Tenant; onChange: () => Promise<void> }) {
  const [max, setMax] = useState(String(props.tenant.rateLimit?.max ?? ''))
  const [windowSeconds, setWindowSeconds] = useState(
    String((props.tenant.rateLimit?.windowMs ?? 60_000) / 1000),
  )
  const [error, setError] = useState<string | null>(null)
  const path = `/v1/admin/tenants/${props.tenant.id}/rate-limit`
  const run = async (change: () => Promise<unknown>) => {
    try {
      await change()
      setError(null)
      await props.onChange()
    } catch (err) {
      setError(message(err))
    }
  }
  const save = (event: FormEvent) => {
    event.preventDefault()
    void run(() => api('PUT', path, { max: Number(max), windowMs: Number(windowSeconds) * 1000 }))
  }
  return (
    <form className="card inline-form" onSubmit={save}>
      <h2>Rate limit per API key</h2>
      <p className="muted">
        {props.tenant.rateLimit === null
          ? "The service's default applies."
          : `${props.tenant.rateLimit.max} requests per ${props.tenant.rateLimit.windowMs / 1000} s.`}
      </p>
      <label>
        Requests
        <input type="number" min={1} required value={max} onChange={(event) => setMax(event.target.value)} />
      </label>
      <label>
        Per seconds
        <input
          type="number"
          min={1}
          required
          value={windowSeconds}
          onChange={(event) => setWindowSeconds(event.target.value)}
        />
      </label>
      <button type="submit">Set limit</button>
      <button type="button" className="secondary" onClick={() => void run(() => api('DELETE', path))}>
        Use the default
      </button>
      <ErrorNote error={error} />
    </form>
  )
}

export function TenantPage(props: { tenantId: string; tab: string }) {
  const { data: tenant, error, reload } = useResource<Tenant>(`/v1/admin/tenants/${props.tenantId}`)
  const base = `/tenants/${props.tenantId}`
  return (
    <>
      <p>
        <Link to="/tenants">← Tenants</Link>
      </p>
      <h1>{tenant?.name ?? 'Tenant'}</h1>
      <ErrorNote error={error} />
      {tenant && (
        <>
          <p className="muted">
            Tenant id <code>{tenant.id}</code>
          </p>
          <RateLimit key={JSON.stringify(tenant.rateLimit)} tenant={tenant} onChange={reload} />
          <nav className="tabs" aria-label="Tenant">
            {TABS.map(([tab, title]) => (
              <Link key={tab} to={`${base}/${tab}`} current={props.tab === tab}>
                {title}
              </Link>
            ))}
          </nav>
          {props.tab === 'keys' && <ApiKeys tenantId={tenant.id} />}
          {props.tab === 'sources' && <Sources tenantId={tenant.id} />}
          {props.tab === 'events' && <EventFeed tenantId={tenant.id} />}
          {props.tab === 'orders' && <Orders tenantId={tenant.id} />}
          {props.tab === 'inventory' && <Inventory tenantId={tenant.id} />}
          {props.tab === 'products' && <Products tenantId={tenant.id} />}
          {props.tab === 'webhooks' && <Webhooks tenantId={tenant.id} />}
        </>
      )}
    </>
  )
}
