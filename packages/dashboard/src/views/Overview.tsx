// The overview: this replica's live figures from GET /v1/admin/stats, refreshed every few seconds.
import type { Stats } from '@pos/contracts/dashboard'
import { useEffect, useState } from 'react'
import { api } from '../api.js'

const REFRESH_MS = 3000

const perSecond = (value: number) => `${value < 10 ? value.toFixed(2) : value.toFixed(0)}/s`
const percent = (value: number | null) => (value === null ? '—' : `${(value * 100).toFixed(1)} %`)

function Figure(props: { label: string; value: string; id: string }) {
  return (
    <div className="figure" data-figure={props.id}>
      <dt>{props.label}</dt>
      <dd>{props.value}</dd>
    </div>
  )
}

export function Overview() {
  const [stats, setStats] = useState<Stats | null>(null)
  const [error, setError] = useState<string | null>(null)

  useEffect(() => {
    let stopped = false
    const refresh = async () => {
      try {
        const next = await api<Stats>('GET', '/v1/admin/stats')
        if (!stopped) {
          setStats(next)
          setError(null)
        }
      } catch (err) {
        if (!stopped) setError(err instanceof Error ? err.message : String(err))
      }
    }
    void refresh()
    const timer = setInterval(refresh, REFRESH_MS)
    return () => {
      stopped = true
      clearInterval(timer)
    }
  }, [])

  return (
    <>
      <h1>Overview</h1>
      {error && (
        <p role="alert" className="error">
          {error}
        </p>
      )}
      {stats === null ? (
        <p>Loading…</p>
      ) : (
        <>
          <p className="muted">
            This replica, over the last {stats.windowSeconds} s; refreshed every {REFRESH_MS / 1000} s.
          </p>
          <section aria-labelledby="ingest-heading" className="card">
            <h2 id="ingest-heading">Ingest</h2>
            <dl className="figures">
              <Figure id="ingest-rps" label="Requests" value={perSecond(stats.ingest.requestsPerSecond)} />
              <Figure id="events-ps" label="Events" value={perSecond(stats.ingest.eventsPerSecond)} />
              <Figure id="dedup" label="Duplicates" value={percent(stats.ingest.dedupRate)} />
              <Figure id="replays" label="Replays" value={perSecond(stats.ingest.replaysPerSecond)} />
              <Figure
                id="group-commit"
                label="Group commit size"
                value={stats.ingest.groupCommitSize === null ? '—' : stats.ingest.groupCommitSize.toFixed(1)}
              />
              <Figure id="events-total" label="Events since start" value={String(stats.totals.events)} />
            </dl>
          </section>
          <section aria-labelledby="http-heading" className="card">
            <h2 id="http-heading">HTTP</h2>
            <dl className="figures">
              <Figure id="rps" label="Requests" value={perSecond(stats.http.requestsPerSecond)} />
              <Figure id="4xx" label="4xx" value={perSecond(stats.http.clientErrorsPerSecond)} />
              <Figure id="5xx" label="5xx" value={perSecond(stats.http.serverErrorsPerSecond)} />
              <Figure id="429" label="Rate limited" value={perSecond(stats.http.rateLimitedPerSecond)} />
              <Figure
                id="p95"
                label="P95 latency"
                value={stats.http.p95LatencyMs === null ? '—' : `≤ ${stats.http.p95LatencyMs} ms`}
              />
              <Figure id="in-flight" label="In flight" value={String(stats.http.inFlight)} />
            </dl>
          </section>
          <section aria-labelledby="health-heading" className="card">
            <h2 id="health-heading">Dependencies</h2>
            <dl className="figures">
              {Object.entries(stats.health).map(([name, check]) => (
                <Figure
                  key={name}
                  id={`health-${name}`}
                  label={name === 'database' ? 'PostgreSQL' : name === 'redis' ? 'Redis' : name}
                  value={`${check.status}${check.error ? ` (${check.error})` : ''} · ${check.latencyMs} ms`}
                />
              ))}
              {!('redis' in stats.health) && (
                <Figure id="health-redis" label="Redis" value="not configured (per-process limits)" />
              )}
            </dl>
          </section>
          <section aria-labelledby="outbound-heading" className="card">
            <h2 id="outbound-heading">Outbound calls and connectors</h2>
            <dl className="figures">
              {Object.entries(stats.outbound.openBreakers).map(([kind, open]) => (
                <Figure
                  key={kind}
                  id={`breakers-${kind}`}
                  label={`Open breakers: ${kind}`}
                  value={String(open)}
                />
              ))}
              {Object.keys(stats.outbound.openBreakers).length === 0 && (
                <Figure id="breakers" label="Open breakers" value="none seen" />
              )}
              {Object.entries(stats.connectors.deadLetters).map(([provider, count]) => (
                <Figure
                  key={provider}
                  id={`dead-letters-${provider}`}
                  label={`Dead letters: ${provider}`}
                  value={String(count)}
                />
              ))}
              {Object.entries(stats.connectors.reconciliationDrift).map(([provider, drift]) => (
                <Figure
                  key={provider}
                  id={`drift-${provider}`}
                  label={`Drift: ${provider}`}
                  value={percent(drift)}
                />
              ))}
            </dl>
          </section>
        </>
      )}
    </>
  )
}
