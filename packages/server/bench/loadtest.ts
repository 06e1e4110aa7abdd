// npm run loadtest: exactly-once ingest under concurrent load, against a server that is already running.
// Creates a fresh tenant, API key and signed source through the admin API, then sends --requests signed
// requests over --unique-keys Idempotency-Keys (each key always with the same body, a small till batch), in
// random order and --concurrency at a time, so repeats of a key race its first request. Expected: 201 once
// per key, a replay (201 with Idempotent-Replayed: true and the same body) for every repeat, and ingest_dedup_total of that tenant and source up by the repeats. Writes
// a JSON summary and the /metrics text after the run under artifacts/; exits 1 when anything differs or
// P95 latency exceeds --p95-max seconds. With METRICS_PUSHGATEWAY_URL set, that /metrics text is also pushed
// to the Pushgateway (job pos-integration-service-loadtest); a failed push is reported, never fails the run.
import { randomInt, randomUUID } from 'node:crypto'
import { hostname } from 'node:os'
import { resolve } from 'node:path'
import { performance } from 'node:perf_hooks'
import { parseArgs } from 'node:util'
import { LOADTEST_PUSH_JOB, pushMetrics } from '../src/platform/pushgateway.js'
import { artifactsDir, userPath, writeArtifact } from './support/artifacts.js'
import { tillBatch } from './support/events.js'
import { type IngestCredentials, ingestHeaders, provisionSignedSource } from './support/ingest-client.js'
import { metricsText, sampleValue } from './support/prometheus.js'

interface Options {
  readonly url: string
  readonly adminToken: string
  readonly requests: number
  readonly uniqueKeys: number
  readonly concurrency: number
  readonly p95MaxS: number
  readonly out: string
}

function readOptions(): Options {
  const { values } = parseArgs({
    options: {
      url: { type: 'string', default: 'http://127.0.0.1:3000' },
      'admin-token': { type: 'string' },
      requests: { type: 'string', default: '2000' },
      'unique-keys': { type: 'string', default: '400' },
      concurrency: { type: 'string', default: '75' },
      'p95-max': { type: 'string', default: '1.0' },
      out: { type: 'string' },
    },
  })
  const integer = (name: string, value: string) => {
    const parsed = Number(value)
    if (!Number.isSafeInteger(parsed) || parsed < 1) throw new Error(`--${name} must be a positive integer`)
    return parsed
  }
  const adminToken = values['admin-token'] ?? process.env.ADMIN_TOKEN
  if (adminToken === undefined || adminToken === '') {
    throw new Error('the admin token is required: --admin-token or ADMIN_TOKEN')
  }
  const requests = integer('requests', values.requests)
  const uniqueKeys = integer('unique-keys', values['unique-keys'])
  if (uniqueKeys > requests) throw new Error('--unique-keys cannot exceed --requests')
  const p95MaxS = Number(values['p95-max'])
  if (!(p95MaxS > 0)) throw new Error('--p95-max must be a positive number of seconds')
  const stamp = new Date().toISOString().replace(/[:.]/g, '-')
  return {
    url: values.url,
    adminToken,
    requests,
    uniqueKeys,
    concurrency: integer('concurrency', values.concurrency),
    p95MaxS,
    out: values.out === undefined ? resolve(artifactsDir, `loadtest-${stamp}.json`) : userPath(values.out),
  }
}

interface PlannedRequest {
  readonly idempotencyKey: string
  readonly body: string
  readonly events: number
}

/** Every key once, the rest repeats of keys drawn at random, all shuffled: a repeat may race its first. */
function plan(requests: number, uniqueKeys: number): PlannedRequest[] {
  const firsts = Array.from({ length: uniqueKeys }, (): PlannedRequest => {
    const events = tillBatch()
    return {
      idempotencyKey: `loadtest-${randomUUID()}`,
      body: JSON.stringify({ events }),
      events: events.length,
    }
  })
  const all = [...firsts]
  for (let i = uniqueKeys; i < requests; i++) all.push(firsts[randomInt(uniqueKeys)]!)
  for (let i = all.length - 1; i > 0; i--) {
    const j = randomInt(i + 1)
    ;[all[i], all[j]] = [all[j]!, all[i]!]
  }
  return all
}

interface Outcome {
  readonly status: number | 'error'
  /** Answered as a replay of an earlier request with the same key (Idempotent-Replayed: true). */
  readonly replayed: boolean
  readonly latencyMs: number
  readonly accepted: number
  readonly planned: PlannedRequest
  readonly detail?: string
}

async function send(
  baseUrl: string,
  credentials: IngestCredentials,
  planned: PlannedRequest,
): Promise<Outcome> {
  const started = performance.now()
  try {
    const response = await fetch(new URL(`/v1/ingest/${credentials.sourceName}`, baseUrl), {
      method: 'POST',
      headers: ingestHeaders(credentials, planned.idempotencyKey, planned.body),
      body: planned.body,
    })
    const text = await response.text()
    const latencyMs = performance.now() - started
    const replayed = response.headers.get('idempotent-replayed') === 'true'
    const accepted = response.status === 201 ? (JSON.parse(text) as { accepted: number }).accepted : 0
    const detail = response.status === 201 ? undefined : text.slice(0, 500)
    return { status: response.status, replayed, latencyMs, accepted, planned, ...(detail && { detail }) }
  } catch (err) {
    const detail = err instanceof Error ? `${err.message} ${String(err.cause ?? '')}` : String(err)
    return {
      status: 'error',
      replayed: false,
      latencyMs: performance.now() - started,
      accepted: 0,
      planned,
      detail,
    }
  }
}

/** Sends every planned request, `concurrency` at a time. */
async function runPool(
  baseUrl: string,
  credentials: IngestCredentials,
  planned: readonly PlannedRequest[],
  concurrency: number,
): Promise<Outcome[]> {
  const outcomes: Outcome[] = []
  let next = 0
  const worker = async () => {
    while (next < planned.length) outcomes.push(await send(baseUrl, credentials, planned[next++]!))
  }
  await Promise.all(Array.from({ length: Math.min(concurrency, planned.length) }, worker))
  return outcomes
}

/** Nearest-rank percentile of ascending values. */
function percentile(sorted: readonly number[], p: number): number {
  return sorted[Math.max(0, Math.ceil((p / 100) * sorted.length) - 1)] ?? 0
}

const round = (value: number, digits = 1) => Number(value.toFixed(digits))

async function main(): Promise<number> {
  const options = readOptions()
  const ready = await fetch(new URL('/startupz', options.url)).then(
    async (response) => {
      await response.arrayBuffer()
      return response.status
    },
    (err: unknown) => {
      throw new Error(`cannot reach ${options.url}: ${err instanceof Error ? err.message : String(err)}`)
    },
  )
  if (ready !== 200) throw new Error(`${options.url}/startupz answers ${ready}: the server has not started`)

  const credentials = await provisionSignedSource(options.url, options.adminToken, {
    tenant: `Load test ${new Date().toISOString()}`,
    source: 'pos-loadtest',
  })
  const planned = plan(options.requests, options.uniqueKeys)
  const series = { tenant: credentials.tenantId, source: credentials.sourceName }
  const dedupBefore = sampleValue(await metricsText(options.url), 'ingest_dedup_total', series)

  process.stdout.write(
    `load test: ${options.requests} requests over ${options.uniqueKeys} Idempotency-Keys, ` +
      `${options.concurrency} at a time, against ${options.url} (tenant ${credentials.tenantId})\n`,
  )
  const started = performance.now()
  const outcomes = await runPool(options.url, credentials, planned, options.concurrency)
  const elapsedS = (performance.now() - started) / 1000

  const metricsAfter = await metricsText(options.url)
  const dedupAfter = sampleValue(metricsAfter, 'ingest_dedup_total', series)

  const byStatus = { created: 0, replayed: 0, other: 0 }
  const others = new Map<string, number>()
  for (const outcome of outcomes) {
    if (outcome.status === 201 && !outcome.replayed) byStatus.created++
    else if (outcome.status === 201) byStatus.replayed++
    else {
      byStatus.other++
      const key = String(outcome.status)
      others.set(key, (others.get(key) ?? 0) + 1)
    }
  }
  const latencies = outcomes.map((o) => o.latencyMs).sort((a, b) => a - b)
  const latencyMs = {
    p50: round(percentile(latencies, 50)),
    p95: round(percentile(latencies, 95)),
    p99: round(percentile(latencies, 99)),
    max: round(latencies.at(-1) ?? 0),
  }
  const duplicatesSent = options.requests - options.uniqueKeys
  const eventsPlanned = [...new Set(planned)].reduce((sum, request) => sum + request.events, 0)
  const eventsAccepted = outcomes.reduce((sum, o) => sum + (o.replayed ? 0 : o.accepted), 0)
  // A replay answers what its original stored: the same number of accepted events.
  const acceptedByKey = new Map(
    outcomes.filter((o) => !o.replayed).map((o) => [o.planned.idempotencyKey, o.accepted]),
  )
  const checks = {
    onlyCreatedOrReplayed: byStatus.other === 0,
    createdOncePerKey: byStatus.created === options.uniqueKeys,
    replayedForEveryRepeat: byStatus.replayed === duplicatesSent,
    replaysMatchOriginals: outcomes.every(
      (o) => !o.replayed || acceptedByKey.get(o.planned.idempotencyKey) === o.accepted,
    ),
    everyEventAccepted: eventsAccepted === eventsPlanned,
    dedupMetricMatches: dedupAfter - dedupBefore === duplicatesSent,
    p95WithinLimit: latencyMs.p95 / 1000 <= options.p95MaxS,
  }
  const ok = Object.values(checks).every(Boolean)
  const summary = {
    date: new Date().toISOString(),
    url: options.url,
    tenantId: credentials.tenantId,
    source: credentials.sourceName,
    requests: options.requests,
    uniqueKeys: options.uniqueKeys,
    concurrency: options.concurrency,
    elapsedS: round(elapsedS, 2),
    requestsPerSecond: round(options.requests / elapsedS),
    byStatus,
    otherStatuses: Object.fromEntries(others),
    otherExamples: outcomes
      .filter((o) => o.detail !== undefined)
      .slice(0, 5)
      .map((o) => ({ status: o.status, idempotencyKey: o.planned.idempotencyKey, detail: o.detail })),
    events: { planned: eventsPlanned, accepted: eventsAccepted },
    latencyMs,
    p95MaxS: options.p95MaxS,
    dedup: {
      metric: 'ingest_dedup_total',
      labels: series,
      before: dedupBefore,
      after: dedupAfter,
      increase: dedupAfter - dedupBefore,
      duplicatesSent,
    },
    checks,
    ok,
    metricsAfter,
  }

  const latest = resolve(artifactsDir, 'loadtest.json')
  await writeArtifact(options.out, summary)
  if (options.out !== latest) await writeArtifact(latest, summary)
  await writeArtifact(resolve(artifactsDir, 'metrics-after-loadtest.prom'), metricsAfter)
  await pushSnapshot(metricsAfter)

  const failed = Object.entries(checks)
    .filter(([, passed]) => !passed)
    .map(([name]) => name)
  process.stdout.write(
    `status: 201 created ${byStatus.created} (expected ${options.uniqueKeys}), 201 replayed ${byStatus.replayed} ` +
      `(expected ${duplicatesSent}), other ${byStatus.other}${others.size > 0 ? ` ${JSON.stringify(Object.fromEntries(others))}` : ''}\n` +
      `events accepted: ${eventsAccepted} of ${eventsPlanned} in the ${options.uniqueKeys} distinct bodies\n` +
      `latency: P50 ${latencyMs.p50} ms, P95 ${latencyMs.p95} ms (limit ${options.p95MaxS * 1000} ms), ` +
      `P99 ${latencyMs.p99} ms, max ${latencyMs.max} ms\n` +
      `throughput: ${summary.requestsPerSecond} requests/s (${summary.elapsedS} s)\n` +
      `ingest_dedup_total{tenant,source}: ${dedupBefore} -> ${dedupAfter}, +${dedupAfter - dedupBefore} ` +
      `(expected +${duplicatesSent})\n` +
      `written: ${options.out}, ${latest}, ${resolve(artifactsDir, 'metrics-after-loadtest.prom')}\n` +
      (ok ? 'load test passed\n' : `load test FAILED: ${failed.join(', ')}\n`),
  )
  for (const example of summary.otherExamples) process.stderr.write(`${JSON.stringify(example)}\n`)
  return ok ? 0 : 1
}

/** With METRICS_PUSHGATEWAY_URL set, the server's metrics after the run go to the Pushgateway too. */
async function pushSnapshot(text: string): Promise<void> {
  const url = process.env.METRICS_PUSHGATEWAY_URL?.trim()
  if (url === undefined || url === '') return
  const outcome = await pushMetrics({ url, job: LOADTEST_PUSH_JOB, instance: hostname() }, text)
  if (outcome.pushed) process.stdout.write(`metrics pushed: ${outcome.url}\n`)
  else process.stderr.write(`could not push the metrics to ${outcome.url}: ${outcome.error}\n`)
}

try {
  process.exitCode = await main()
} catch (err) {
  process.stderr.write(`load test failed: ${err instanceof Error ? err.message : String(err)}\n`)
  process.exitCode = 1
}
