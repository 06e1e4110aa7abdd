// A tenant's webhook endpoints: each one's circuit breaker, its deliveries with their attempts, and the dead
// letters (deliveries that failed for good), which can be replayed.
import type { WebhookDelivery, WebhookEndpoint, WebhookEndpointDetail } from '@pos/contracts/webhook'
import { useMemo, useState } from 'react'
import type { Static } from 'typebox'
import { api, type Page } from '../api.js'
import { type Column, DataTable, ErrorNote, message, PagedTable, useResource, when } from './common.js'

type Delivery = Static<typeof WebhookDelivery>

function lastAttempt(delivery: Delivery): string {
  const attempt = delivery.attempts.at(-1)
  if (attempt === undefined) return 'not attempted yet'
  const outcome = attempt.statusCode === null ? (attempt.error ?? 'no answer') : `HTTP ${attempt.statusCode}`
  return `${outcome}, ${attempt.durationMs} ms, ${when(attempt.attemptedAt)}`
}

function Endpoint(props: { path: string }) {
  const { data: endpoint, error } = useResource<WebhookEndpointDetail>(props.path)
  const [status, setStatus] = useState('failed')
  const [version, setVersion] = useState(0)
  const [actionError, setActionError] = useState<string | null>(null)
  const filters = useMemo(() => ({ status }), [status])

  const replay = async (delivery: Delivery) => {
    try {
      await api('POST', `${props.path}/deliveries/${delivery.id}/retry`)
      setActionError(null)
      setVersion(version + 1)
    } catch (err) {
      setActionError(message(err))
    }
  }

  const columns: Column<Delivery>[] = [
    { title: 'Delivery', cell: (delivery) => <code>{delivery.id}</code> },
    { title: 'Event', cell: (delivery) => `${delivery.eventType} ${delivery.eventId}` },
    { title: 'Status', cell: (delivery) => delivery.status },
    { title: 'Attempts', cell: (delivery) => delivery.attempts.length },
    { title: 'Last attempt', cell: lastAttempt },
    {
      title: 'Replay',
      cell: (delivery) =>
        delivery.status === 'failed' ? (
          <button type="button" className="secondary" onClick={() => void replay(delivery)}>
            Replay
          </button>
        ) : (
          '—'
        ),
    },
  ]

  return (
    <article className="card">
      <ErrorNote error={error ?? actionError} />
      {endpoint && (
        <>
          <h3>{endpoint.url}</h3>
          <p>
            {endpoint.enabled ? 'Enabled' : `Disabled (${endpoint.disabledReason ?? 'by hand'})`}. Circuit
            breaker: <strong>{endpoint.circuitBreaker.state}</strong>
            {endpoint.circuitBreaker.retryAt && `, probing from ${when(endpoint.circuitBreaker.retryAt)}`}.
            {endpoint.failingSince && ` Failing since ${when(endpoint.failingSince)}.`}
          </p>
        </>
      )}
      <label>
        Deliveries
        <select value={status} onChange={(event) => setStatus(event.target.value)}>
          <option value="failed">dead letters (failed)</option>
          <option value="pending">pending</option>
          <option value="succeeded">succeeded</option>
          <option value="">all</option>
        </select>
      </label>
      <PagedTable
        key={version}
        path={`${props.path}/deliveries`}
        filters={filters}
        columns={columns}
        rowKey={(delivery) => delivery.id}
        caption="Deliveries, newest first"
      />
    </article>
  )
}

export function Webhooks(props: { tenantId: string }) {
  const path = `/v1/admin/tenants/${props.tenantId}/webhook-endpoints`
  const { data, error } = useResource<Page<Static<typeof WebhookEndpoint>>>(`${path}?limit=100`)
  const [open, setOpen] = useState<string | null>(null)
  const columns: Column<Static<typeof WebhookEndpoint>>[] = [
    {
      title: 'URL',
      cell: (endpoint) => (
        <button type="button" className="link" onClick={() => setOpen(endpoint.id)}>
          {endpoint.url}
        </button>
      ),
    },
    { title: 'Events', cell: (endpoint) => endpoint.eventTypes.join(', ') },
    { title: 'State', cell: (endpoint) => (endpoint.enabled ? 'enabled' : 'disabled') },
    { title: 'Created', cell: (endpoint) => when(endpoint.createdAt) },
  ]
  return (
    <section aria-label="Webhooks">
      <p className="muted">Endpoints are created by the tenant with an API key holding the webhooks scope.</p>
      <ErrorNote error={error} />
      <DataTable
        caption="Webhook endpoints"
        columns={columns}
        items={data?.data}
        rowKey={(endpoint) => endpoint.id}
        empty="No webhook endpoints."
      />
      {open && <Endpoint key={open} path={`${path}/${open}`} />}
    </section>
  )
}
