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
