// The process's one Prometheus registry and every metric the service exports. Metrics are created here, at
// module load, exactly once per process: building the app any number of times reuses them.
import { Counter, collectDefaultMetrics, Gauge, Histogram, Registry } from 'prom-client'
import { buildInfo } from './build-info.js'

export const registry = new Registry()
collectDefaultMetrics({ register: registry })

const registers = [registry]

export const httpRequestDuration = new Histogram({
  name: 'http_request_duration_seconds',
  help: 'HTTP request duration by route pattern',
  labelNames: ['method', 'route', 'status_code'] as const,
  buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
  registers,
})

export const httpRequestsTotal = new Counter({
  name: 'http_requests_total',
  help: 'HTTP requests answered, by route pattern',
  labelNames: ['method', 'route', 'status_code'] as const,
  registers,
})

export const httpRequestsInFlight = new Gauge({
  name: 'http_requests_in_flight',
  help: 'HTTP requests received and not yet answered',
  registers,
})

export const dbQueryDuration = new Histogram({
  name: 'db_query_duration_seconds',
  help: 'Database query duration by repository operation',
  labelNames: ['operation'] as const,
  buckets: [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5],
  registers,
})

export const ingestEventsTotal = new Counter({
  name: 'ingest_events_total',
  help: 'Events received on ingest, by outcome: accepted, duplicate or rejected',
  labelNames: ['source', 'type', 'outcome'] as const,
  registers,
})

export const ingestDedupTotal = new Counter({
  name: 'ingest_dedup_total',
  help: 'Ingest requests answered as replays of an earlier request with the same Idempotency-Key',
  labelNames: ['tenant', 'source'] as const,
  registers,
})

export const ingestBatchSize = new Histogram({
  name: 'ingest_batch_size',
  help: 'Events per ingest request',
  buckets: [1, 2, 5, 10, 25, 50, 100, 250, 500],
  registers,
})

export const ingestDuration = new Histogram({
  name: 'ingest_duration_seconds',
  help: 'Time from an ingest request being handed to the write path until its data is durable',
  buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5],
  registers,
})

export const groupCommitSize = new Histogram({
  name: 'ingest_group_commit_requests',
  help: 'Requests that shared one transaction and commit',
  buckets: [1, 2, 4, 8, 16, 32, 64, 128, 256],
  registers,
})

export const rateLimitExceededTotal = new Counter({
  name: 'rate_limit_exceeded_total',
  help: 'Requests refused with 429, by tenant (none for anonymous and admin traffic)',
  labelNames: ['tenant'] as const,
  registers,
})

export const rateLimitBackendErrorsTotal = new Counter({
  name: 'rate_limit_backend_errors_total',
  help: 'Rate limit checks that fell back to the per-process limiter because Redis failed or was slow',
  registers,
})

// Outbound calls (platform/outbound). Labels are bounded by construction: `target_kind` is one of the layer's
// TARGET_KINDS, never a URL or an endpoint id; `outcome`, `reason`, `from` and `to` are small fixed sets.
export const outboundRequestsTotal = new Counter({
  name: 'outbound_requests_total',
  help: 'Outbound HTTP attempts by outcome (2xx, 3xx, 4xx, 429, 5xx, timeout, network), and calls an open breaker refused (breaker-open)',
  labelNames: ['target_kind', 'outcome'] as const,
  registers,
})

export const outboundRequestDuration = new Histogram({
  name: 'outbound_request_duration_seconds',
  help: 'Duration of one outbound HTTP attempt, until its bounded body is read or it failed',
  labelNames: ['target_kind'] as const,
  buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30],
  registers,
})

export const retryAttemptsTotal = new Counter({
  name: 'retry_attempts_total',
  help: 'Outbound retries made, by what the previous attempt ran into: network, timeout, 5xx or 429',
  labelNames: ['target_kind', 'reason'] as const,
  registers,
})

export const circuitBreakerTransitionsTotal = new Counter({
  name: 'circuit_breaker_transitions_total',
  help: 'Breaker state changes this replica made (the fleet total is the sum over replicas)',
  labelNames: ['target_kind', 'from', 'to'] as const,
  registers,
})

export const circuitBreakersOpen = new Gauge({
  name: 'circuit_breakers_open',
  help: 'Targets whose breaker this replica last saw open or half-open',
  labelNames: ['target_kind'] as const,
  registers,
})

export const outboundStateBackendErrorsTotal = new Counter({
  name: 'outbound_state_backend_errors_total',
  help: 'Breaker or retry budget operations that fell back to the per-process state because Redis failed or was slow',
  registers,
})

const buildInfoGauge = new Gauge({
  name: 'build_info',
  help: 'Build of the running service; the value is always 1',
  labelNames: ['version', 'commit', 'node_version'] as const,
  registers,
})
buildInfoGauge.set({ version: buildInfo.version, commit: buildInfo.commit, node_version: process.version }, 1)

/** Runs one repository query and records how long it took under `operation`. */
export async function timedQuery<T>(operation: string, run: () => Promise<T>): Promise<T> {
  const end = dbQueryDuration.startTimer({ operation })
  try {
    return await run()
  } finally {
    end()
  }
}

// Outbound webhooks (modules/webhooks). `outcome` is a small fixed set; never an endpoint id or a URL.
export const webhookDeliveriesTotal = new Counter({
  name: 'webhook_delivery_attempts_total',
  help: 'Webhook delivery attempts by outcome: succeeded, failed (will retry), dead (last attempt failed), gone (410), refused (forbidden target), postponed (no attempt spent: a half-open breaker probing, or shutdown)',
  labelNames: ['outcome'] as const,
  registers,
})

export const webhookDeliveryWindow = new Gauge({
  name: 'webhook_delivery_window',
  help: 'Webhook attempts this replica may have in flight now: WEBHOOK_CONCURRENCY, lower while delivery yields to API requests waiting on a saturated event loop (never below WEBHOOK_MIN_CONCURRENCY)',
  registers,
})

export const webhookDeadLettersTotal = new Counter({
  name: 'webhook_dead_letters_total',
  help: 'Webhook deliveries marked failed after their last attempt (replayable through the API)',
  registers,
})

export const webhookFanOutTotal = new Counter({
  name: 'webhook_fanout_events_total',
  help: 'Events the webhook fan-out read from the log',
  registers,
})

// Set from the table by every replica (modules/webhooks/backlog.ts): fleet-wide values, read with max().
export const webhookDeliveriesPending = new Gauge({
  name: 'webhook_deliveries_pending',
  help: 'Webhook deliveries still owed to enabled endpoints (due now or waiting for a retry), fleet-wide',
  registers,
})

export const webhookOldestDueSeconds = new Gauge({
  name: 'webhook_oldest_due_delivery_seconds',
  help: 'How long the oldest due webhook delivery to an enabled endpoint has been waiting for an attempt, fleet-wide',
  registers,
})

// POS connectors (modules/connectors). `provider` is square or shopify; never a source id.
export const connectorDeadLetters = new Gauge({
  name: 'connector_dead_letters',
  help: 'Provider webhooks in the dead letters (verified, but not fetched or mapped), fleet-wide, by provider',
  labelNames: ['provider'] as const,
  registers,
})

export const connectorWebhooksTotal = new Counter({
  name: 'connector_webhooks_processed_total',
  help: 'Provider webhooks processed from the inbox by outcome: done, dead, postponed, failed (will retry)',
  labelNames: ['provider', 'outcome'] as const,
  registers,
})

export const reconciliationDriftRatio = new Gauge({
  name: 'reconciliation_drift_ratio',
  help: 'Share of the objects the last completed reconciliation found that webhooks had not delivered',
  labelNames: ['provider'] as const,
  registers,
})
