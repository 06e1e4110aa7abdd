// The live figures of the dashboard's overview, read from the process's Prometheus registry (platform/metrics.ts)
// so they can never disagree with /metrics. Counters only ever grow, so a rate is the difference between now
// and an earlier sample of them: each read keeps a sample (at most one a second, for a minute), and rates are
// taken over the last WINDOW_MS, or since the process started while it is younger than that. The figures are
// this replica's, like its /metrics; a fleet-wide view is Prometheus's job.
import type { Stats } from '@pos/contracts/dashboard'
import type { MetricValue } from 'prom-client'
import { registry } from '../../platform/metrics.js'

const WINDOW_MS = 10_000
const KEEP_MS = 60_000
const MIN_SAMPLE_SPACING_MS = 1000
const INGEST_ROUTE = '/v1/ingest/:source'

/** Cumulative values of the counters the overview shows. */
interface Sample {
  readonly at: number
  readonly requests: number
  readonly ingestRequests: number
  readonly clientErrors: number
  readonly serverErrors: number
  readonly rateLimited: number
  readonly events: number
  readonly duplicates: number
  readonly replays: number
  readonly groupCommits: number
  readonly groupCommitRequests: number
  readonly requestCount: number
  /** Requests per latency bucket (upper bound in seconds), cumulative as Prometheus counts them. */
  readonly latencyBuckets: ReadonlyMap<number, number>
}

type Values = MetricValue<string>[]

async function valuesOf(name: string): Promise<Values> {
  const metric = registry.getSingleMetric(name)
  return metric === undefined ? [] : (await metric.get()).values
}

/** A gauge's values by one label, e.g. open breakers by target kind. */
async function byLabel(name: string, label: string): Promise<Record<string, number>> {
  const values: Record<string, number> = {}
  for (const value of await valuesOf(name)) {
    const key = String(value.labels[label] ?? '')
    values[key] = (values[key] ?? 0) + value.value
  }
  return values
}

function sum(values: Values, keep: (value: MetricValue<string>) => boolean = () => true): number {
  let total = 0
  for (const value of values) if (keep(value)) total += value.value
  return total
}

const named = (suffix: string) => (value: MetricValue<string>) =>
  (value as { metricName?: string }).metricName?.endsWith(suffix) === true

async function takeSample(at: number): Promise<Sample> {
  const [requests, durations, events, replays, groupCommits] = await Promise.all([
    valuesOf('http_requests_total'),
    valuesOf('http_request_duration_seconds'),
    valuesOf('ingest_events_total'),
    valuesOf('ingest_dedup_total'),
    valuesOf('ingest_group_commit_requests'),
  ])
  const status = (value: MetricValue<string>) => Number(value.labels.status_code)
  const latencyBuckets = new Map<number, number>()
  for (const value of durations) {
    if (!named('_bucket')(value)) continue
    const le = value.labels.le === '+Inf' ? Number.POSITIVE_INFINITY : Number(value.labels.le)
    latencyBuckets.set(le, (latencyBuckets.get(le) ?? 0) + value.value)
  }
  return {
    at,
    requests: sum(requests),
    ingestRequests: sum(requests, (value) => value.labels.route === INGEST_ROUTE),
    clientErrors: sum(requests, (value) => status(value) >= 400 && status(value) < 500),
    serverErrors: sum(requests, (value) => status(value) >= 500),
    rateLimited: sum(requests, (value) => status(value) === 429),
    events: sum(events),
    duplicates: sum(events, (value) => value.labels.outcome === 'duplicate'),
    replays: sum(replays),
    groupCommits: sum(groupCommits, named('_count')),
    groupCommitRequests: sum(groupCommits, named('_sum')),
    requestCount: sum(durations, named('_count')),
    latencyBuckets,
  }
}

/** The upper bound (ms) of the bucket holding the 95th percentile of the requests between two samples. */
function p95Ms(from: Sample, to: Sample): number | null {
  const count = to.requestCount - from.requestCount
  if (count <= 0) return null
  const bounds = [...to.latencyBuckets.keys()].sort((a, b) => a - b)
  let lastFinite: number | null = null
  for (const le of bounds) {
    if (Number.isFinite(le)) lastFinite = le
    const inBucket = (to.latencyBuckets.get(le) ?? 0) - (from.latencyBuckets.get(le) ?? 0)
    if (inBucket >= 0.95 * count) return Number.isFinite(le) ? le * 1000 : (lastFinite ?? 0) * 1000
  }
  return null
}

export class StatsSampler {
  readonly #samples: Sample[] = []
  readonly #started: number

  constructor(processStartedAt = Date.now() - process.uptime() * 1000) {
    this.#started = processStartedAt
  }

  /** The figures now, given the dependencies' health and the in-flight gauge read by the caller. */
  async read(health: Stats['health'], now = Date.now()): Promise<Stats> {
    const current = await takeSample(now)
    const base = this.#baseline(now)
    this.#keep(current)
    const seconds = Math.max(0.001, (now - base.at) / 1000)
    const perSecond = (key: keyof Omit<Sample, 'at' | 'latencyBuckets'>) =>
      Math.max(0, (current[key] - base[key]) / seconds)
    const events = current.events - base.events
    const commits = current.groupCommits - base.groupCommits
    const [inFlight, openBreakers, deadLetters, reconciliationDrift] = await Promise.all([
      valuesOf('http_requests_in_flight').then((values) => sum(values)),
      byLabel('circuit_breakers_open', 'target_kind'),
      byLabel('connector_dead_letters', 'provider'),
      byLabel('reconciliation_drift_ratio', 'provider'),
    ])
    return {
      at: new Date(now).toISOString(),
      windowSeconds: Math.round(seconds * 10) / 10,
      ingest: {
        requestsPerSecond: perSecond('ingestRequests'),
        eventsPerSecond: perSecond('events'),
        dedupRate: events > 0 ? (current.duplicates - base.duplicates) / events : null,
        replaysPerSecond: perSecond('replays'),
        groupCommitSize:
          commits > 0 ? (current.groupCommitRequests - base.groupCommitRequests) / commits : null,
      },
      http: {
        requestsPerSecond: perSecond('requests'),
        clientErrorsPerSecond: perSecond('clientErrors'),
        serverErrorsPerSecond: perSecond('serverErrors'),
        rateLimitedPerSecond: perSecond('rateLimited'),
        p95LatencyMs: p95Ms(base, current),
        inFlight: Math.max(0, Math.round(inFlight)),
      },
      totals: {
        requests: current.requests,
        ingestRequests: current.ingestRequests,
        events: current.events,
        duplicates: current.duplicates,
      },
      health,
      outbound: { openBreakers },
      connectors: { deadLetters, reconciliationDrift },
    }
  }

  /** The latest sample at least WINDOW_MS old, else the oldest kept, else the process's start (all zero). */
  #baseline(now: number): Sample {
    let base: Sample | undefined
    for (const sample of this.#samples) {
      if (sample.at <= now - WINDOW_MS) base = sample
      else break
    }
    base ??= this.#samples.find((sample) => sample.at < now - MIN_SAMPLE_SPACING_MS / 2)
    return base ?? zeroSample(this.#started)
  }

  #keep(sample: Sample): void {
    const last = this.#samples.at(-1)
    if (last !== undefined && sample.at - last.at < MIN_SAMPLE_SPACING_MS) return
    this.#samples.push(sample)
    while ((this.#samples[0]?.at ?? sample.at) < sample.at - KEEP_MS) this.#samples.shift()
  }
}

function zeroSample(at: number): Sample {
  return {
    at,
    requests: 0,
    ingestRequests: 0,
    clientErrors: 0,
    serverErrors: 0,
    rateLimited: 0,
    events: 0,
    duplicates: 0,
    replays: 0,
    groupCommits: 0,
    groupCommitRequests: 0,
    requestCount: 0,
    latencyBuckets: new Map(),
  }
}
