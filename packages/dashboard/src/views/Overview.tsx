// The overview: this replica's live figures from GET /v1/admin/stats, refreshed every few seconds.
import type { Stats } from '@pos/contracts/dashboard'
import { useEffect, useState } from 'react'
import { api } from '../api.js'
import { ErrorNote, message } from './common.js'

const REFRESH_MS = 3000

const perSecond = (value: number) => `${value < 10 ? value.toFixed(2) : value.toFixed(0)}/s`
const percent = (value: number | null) => (value === null ? '—' : `${(value * 100).toFixed(1)} %`)

/** A figure: its id (the page's `data-figure`, which the browser test reads), its label and its value. */
type Figure = readonly [id: string, label: string, value: string]

/** A card of figures under a heading. */
function Figures(props: { id: string; title: string; figures: readonly Figure[] }) {
  return (
    <section aria-labelledby={`${props.id}-heading`} className="card">
      <h2 id={`${props.id}-heading`}>{props.title}</h2>
      <dl className="figures">
        {props.figures.map(([id, label, value]) => (
          <div key={id} className="figure" data-figure={id}>
            <dt>{label}</dt>
            <dd>{value}</dd>
          </div>
        ))}
      </dl>
    </section>
  )
}

const HEALTH_NAMES: Readonly<Record<string, string>> = { database: 'PostgreSQL', redis: 'Redis' }

/** The figures of each card, from one reading of the stats. */
function cards(stats: Stats): { id: string; title: string; figures: Figure[] }[] {
  const { ingest, http, health, outbound, connectors } = stats
  const orDash = (value: number | null, shown: (value: number) => string) =>
    value === null ? '—' : shown(value)
  return [
    {
      id: 'ingest',
      title: 'Ingest',
      figures: [
        ['ingest-rps', 'Requests', perSecond(ingest.requestsPerSecond)],
        ['events-ps', 'Events', perSecond(ingest.eventsPerSecond)],
        ['dedup', 'Duplicates', percent(ingest.dedupRate)],
        ['replays', 'Replays', perSecond(ingest.replaysPerSecond)],
        ['group-commit', 'Group commit size', orDash(ingest.groupCommitSize, (size) => size.toFixed(1))],
        ['events-total', 'Events since start', String(stats.totals.events)],
      ],
    },
    {
      id: 'http',
      title: 'HTTP',
      figures: [
        ['rps', 'Requests', perSecond(http.requestsPerSecond)],
        ['4xx', '4xx', perSecond(http.clientErrorsPerSecond)],
        ['5xx', '5xx', perSecond(http.serverErrorsPerSecond)],
        ['429', 'Rate limited', perSecond(http.rateLimitedPerSecond)],
        ['p95', 'P95 latency', orDash(http.p95LatencyMs, (ms) => `≤ ${ms} ms`)],
        ['in-flight', 'In flight', String(http.inFlight)],
      ],
    },
    {
      id: 'health',
      title: 'Dependencies',
      figures: [
        ...Object.entries(health).map(
          ([name, check]): Figure => [
            `health-${name}`,
            HEALTH_NAMES[name] ?? name,
            `${check.status}${check.error ? ` (${check.error})` : ''} · ${check.latencyMs} ms`,
          ],
        ),
        ...('redis' in health
          ? []
          : [['health-redis', 'Redis', 'not configured (per-process limits)'] as const]),
      ],
    },
    {
      id: 'outbound',
      title: 'Outbound calls and connectors',
      figures: [
        ...Object.entries(outbound.openBreakers).map(
          ([kind, open]): Figure => [`breakers-${kind}`, `Open breakers: ${kind}`, String(open)],
        ),
        ...(Object.keys(outbound.openBreakers).length === 0
          ? [['breakers', 'Open breakers', 'none seen'] as const]
          : []),
        ...Object.entries(connectors.deadLetters).map(
          ([provider, count]): Figure => [
            `dead-letters-${provider}`,
            `Dead letters: ${provider}`,
            String(count),
          ],
        ),
        ...Object.entries(connectors.reconciliationDrift).map(
          ([provider, drift]): Figure => [`drift-${provider}`, `Drift: ${provider}`, percent(drift)],
        ),
      ],
    },
  ]
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
        if (!stopped) setError(message(err))
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
      <ErrorNote error={error} />
      {stats === null ? (
        <p>Loading…</p>
      ) : (
        <>
          <p className="muted">
            This replica, over the last {stats.windowSeconds} s; refreshed every {REFRESH_MS / 1000} s.
          </p>
          {cards(stats).map((card) => (
            <Figures key={card.id} {...card} />
          ))}
        </>
      )}
    </>
  )
}
