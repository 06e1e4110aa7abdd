// npm run bench: what ingest and reads cost in the production configuration. One fresh PostgreSQL database, one
// private redis-server; every server under test is a child process of its own, run one after another and
// driven by autocannon with every request new (and signed, for ingest). Modes (--mode, default single):
//   single: single-event ingest on the HTTP ceiling (bench/servers/ceiling.ts), the naive one-INSERT-per-request
//           design we replace (bench/servers/naive.ts), the service with PostgreSQL and Redis (rate limits
//           counted in Redis) and the service without Redis;
//   batch:  500-event batches of mixed types on the ceiling, the naive server and the service with Redis;
//   read:   change-feed pages and order lookups against the service with Redis, under single-event ingest;
//   all:    the three, in that order, in the same process and database.
// Prints each mode's figures and ratios, writes artifacts/bench.json, and checks for each service that it
// stored exactly the events it answered 201 for and that its rate limiter counted every API request in Redis.
// Exits 1 on any non-2xx answer, any connection error, or a failed check. With --webhook-endpoint, the single
// mode's service with Redis has one webhook endpoint subscribed to every event type (a consumer in this
// process answering 200), so its figures can be compared with and without delivery running.
import { randomBytes, randomUUID } from 'node:crypto'
import os from 'node:os'
import { resolve } from 'node:path'
import { parseArgs } from 'node:util'
import type autocannon from 'autocannon'
import pg from 'pg'
import { buildInfo } from '../src/platform/build-info.js'
import { createTestDatabase } from '../test/helpers/database.js'
import { artifactsDir, writeArtifact } from './support/artifacts.js'
import { benchEvent, mixedBatch, orderIdsOf, type PosEvent } from './support/events.js'
import {
  adminPost,
  type IngestCredentials,
  ingestHeaders,
  provisionSignedSource,
} from './support/ingest-client.js'
import { checkStorage, describeStorage, Ledger, type StorageCheck } from './support/ledger.js'
import { drive, figuresOf, fixed, markdownTable, type RunFigures } from './support/load.js'
import { positiveInteger } from './support/options.js'
import { metricsText, sampleValue } from './support/prometheus.js'
import { type RedisProcess, rateLimitCounted, startRedisProcess } from './support/redis-process.js'
import { feedPageRequest, ingestRequest, orderLookupRequest } from './support/requests.js'
import { type ServerProcess, startServerProcess } from './support/server-process.js'
import { measureUsage } from './support/usage.js'
import { BenchConsumer, subscribeEndpoint } from './support/webhook-consumer.js'

const MODES = ['single', 'batch', 'read'] as const
type Mode = (typeof MODES)[number]

/** Events per page of the change feed in read mode. */
const FEED_PAGE_LIMIT = 100
/** Events the read mode stores (in 500-event batches) before it measures, so there are orders to look up. */
const READ_SEED_EVENTS = 10_000
const SEED_BATCH = 500

interface Options {
  readonly modes: readonly Mode[]
  readonly durationS: number
  readonly warmupS: number
  /** Connections of single-event ingest (single and read mode). */
  readonly connections: number
  /** Requests per second across all connections, or undefined for as fast as the server answers. */
  readonly rate: number | undefined
  readonly batchSize: number
  readonly batchConnections: number
  /** Connections of each read load (feed pages, order lookups). */
  readonly readConnections: number
  /** Subscribe a local consumer to every event type of the single mode's tenant (service with Redis). */
  readonly webhookEndpoint: boolean
}

function readOptions(): Options {
  const { values } = parseArgs({
    options: {
      mode: { type: 'string', default: 'single' },
      duration: { type: 'string', default: '10' },
      connections: { type: 'string', default: '50' },
      warmup: { type: 'string', default: '2' },
      // A fixed offered load: every server then sees the same rate, so CPU per request compares like with like.
      rate: { type: 'string' },
      'batch-size': { type: 'string', default: '500' },
      'batch-connections': { type: 'string', default: '10' },
      'read-connections': { type: 'string', default: '10' },
      'webhook-endpoint': { type: 'boolean', default: false },
    },
  })
  const mode = values.mode
  if (mode !== 'all' && !(MODES as readonly string[]).includes(mode))
    throw new Error(`--mode must be one of ${MODES.join(', ')}, all`)
  const batchSize = positiveInteger('batch-size', values['batch-size'])
  if (batchSize > 500) throw new Error('--batch-size must be at most 500 (MAX_EVENTS_PER_REQUEST)')
  return {
    modes: mode === 'all' ? MODES : [mode as Mode],
    durationS: positiveInteger('duration', values.duration),
    connections: positiveInteger('connections', values.connections),
    warmupS: positiveInteger('warmup', values.warmup),
    rate: values.rate === undefined ? undefined : positiveInteger('rate', values.rate),
    batchSize,
    batchConnections: positiveInteger('batch-connections', values['batch-connections']),
    readConnections: positiveInteger('read-connections', values['read-connections']),
    webhookEndpoint: values['webhook-endpoint'],
  }
}

/** One line of a mode's table: one load against one server. */
interface Line {
  readonly mode: Mode
  readonly name: string
  readonly eventsPerRequest: number
  readonly connections: number
  readonly warmup: RunFigures
  readonly measured: RunFigures
}

/** What the service says about its own write path over the measured run, from its /metrics before and after. */
interface WritePath {
  readonly groupCommits: number
  readonly requestsPerCommit: number
  /** Measured seconds over group commits: with one batch written at a time and the write path busy, its time. */
  readonly msPerCommit: number
  /** ingest_duration_seconds: from handing a request to the write path until it is durable. */
  readonly meanWritePathMs: number
}

/** The rate limiter ran for every API request: counted in Redis, or by the per-process fallback. */
interface RateLimitCheck {
  readonly apiRequestsAnswered: number
  readonly countedInRedis: number
  readonly fallbacks: number
  readonly ok: boolean
}

/** One service process: how it ended and the checks made on it. */
interface ServiceReport {
  readonly mode: Mode
  readonly name: string
  readonly redis: boolean
  readonly exitCode: number | null
  readonly writePath: WritePath
  readonly rateLimit: RateLimitCheck | null
  readonly storage: StorageCheck
}

function writePathOf(before: string, after: string, seconds: number): WritePath {
  const delta = (name: string) => sampleValue(after, name) - sampleValue(before, name)
  const groupCommits = delta('ingest_group_commit_requests_count')
  const ingests = delta('ingest_duration_seconds_count')
  return {
    groupCommits,
    requestsPerCommit: groupCommits === 0 ? 0 : delta('ingest_group_commit_requests_sum') / groupCommits,
    msPerCommit: groupCommits === 0 ? 0 : (seconds * 1000) / groupCommits,
    meanWritePathMs: ingests === 0 ? 0 : (delta('ingest_duration_seconds_sum') / ingests) * 1000,
  }
}

/** What the consumer of --webhook-endpoint saw while the service ran, and what the service says it did. */
function webhookFigures(consumer: BenchConsumer, eventsStored: number, metrics: string) {
  const lags = [...consumer.arrivals.values()].map(({ lagMs }) => lagMs).sort((a, b) => a - b)
  const at = (p: number) => Math.round(lags[Math.min(lags.length - 1, Math.floor(p * lags.length))] ?? 0)
  return {
    eventsStored,
    delivered: consumer.arrivals.size,
    attemptsSucceeded: sampleValue(metrics, 'webhook_delivery_attempts_total', { outcome: 'succeeded' }),
    lagMs: { p50: at(0.5), p99: at(0.99), max: at(1) },
    duplicates: consumer.duplicates,
    signaturesVerified: consumer.verified,
    signatureFailures: consumer.signatureFailures.length,
    unreadableBodies: consumer.unreadable.length,
  }
}

/** A service under test, provisioned with a tenant, a signed source and an ingest key. */
interface Service {
  readonly server: ServerProcess
  readonly adminToken: string
  readonly credentials: IngestCredentials
  /** REDIS_KEY_PREFIX, when it runs with Redis. */
  readonly redisKeyPrefix: string | undefined
}

class Bench {
  readonly failures: string[] = []
  readonly lines: Line[] = []
  readonly services: ServiceReport[] = []
  readonly #running = new Set<ServerProcess>()
  /** One key for every service of the run: they share the database, and each checks it reads the secrets. */
  readonly #encryptionKey = randomBytes(32).toString('base64')
  webhook: ReturnType<typeof webhookFigures> | undefined

  constructor(
    readonly options: Options,
    readonly databaseUrl: string,
    readonly sql: pg.Client,
    readonly redis: RedisProcess,
    readonly consumer: BenchConsumer | undefined,
  ) {}

  async #start(name: string, script: string, env: Record<string, string>): Promise<ServerProcess> {
    const server = await startServerProcess(name, script, { DATABASE_URL: this.databaseUrl, ...env })
    this.#running.add(server)
    return server
  }

  /** SIGTERM; the server must exit 0. */
  async #stop(server: ServerProcess): Promise<number | null> {
    const exitCode = await server.stop()
    this.#running.delete(server)
    if (exitCode !== 0) {
      this.failures.push(`${server.name}: exited ${exitCode} after SIGTERM`)
      process.stderr.write(`--- ${server.name} output ---\n${server.output()}\n`)
    }
    return exitCode
  }

  async stopAll(): Promise<void> {
    for (const server of this.#running) {
      process.stderr.write(`--- ${server.name} output ---\n${server.output()}\n`)
      await server.stop().catch(() => undefined)
    }
  }

  #fail(line: string, figures: RunFigures): void {
    if (figures.non2xx > 0)
      this.failures.push(`${line}: ${figures.non2xx} non-2xx answers ${JSON.stringify(figures.statusCodes)}`)
    if (figures.errors > 0) this.failures.push(`${line}: ${figures.errors} connection errors or timeouts`)
  }

  #record(line: Line): Line {
    this.#fail(`${line.mode} ${line.name} (warm-up)`, line.warmup)
    this.#fail(`${line.mode} ${line.name}`, line.measured)
    this.lines.push(line)
    return line
  }

  /** Warm-up (not measured), then the measured run, of one load against one server. */
  async #warmAndMeasure(
    server: ServerProcess,
    request: autocannon.Request,
    connections: number,
    eventsPerRequest: number,
    betweenRuns?: () => Promise<void>,
  ): Promise<{ warmup: RunFigures; measured: RunFigures }> {
    const { warmupS, durationS, rate } = this.options
    const run = async (seconds: number) => {
      const { result, usage } = await measureUsage(this.sql, server.cpuSeconds, () =>
        drive({ url: server.url, seconds, connections, rate, requests: [request] }),
      )
      return figuresOf(result, usage, eventsPerRequest)
    }
    const warmup = await run(warmupS)
    await betweenRuns?.()
    const measured = await run(durationS)
    return { warmup, measured }
  }

  /** The ceiling or the naive server, under single events or batches. */
  async benchPlain(mode: Mode, name: 'ceiling' | 'naive', batch: () => PosEvent[]) {
    const { eventsPerRequest, connections } = this.#shape(mode)
    // They check no credentials; they get the same kind of headers all the same.
    const unchecked: IngestCredentials = {
      tenantId: randomUUID(),
      key: `pos_${randomBytes(24).toString('base64url')}`,
      sourceName: 'pos',
      signingSecret: randomBytes(32).toString('hex'),
    }
    this.#announce(mode, name)
    const server = await this.#start(
      `${mode} ${name}`,
      `bench/servers/${name}.ts`,
      name === 'naive' ? { NAIVE_TENANT_ID: unchecked.tenantId } : {},
    )
    const request = ingestRequest(unchecked, new Ledger(), batch)
    const runs = await this.#warmAndMeasure(server, request, connections, eventsPerRequest)
    await this.#stop(server)
    this.#done(runs.measured, eventsPerRequest)
    return this.#record({ mode, name, eventsPerRequest, connections, ...runs })
  }

  #shape(mode: Mode): { eventsPerRequest: number; connections: number } {
    return mode === 'batch'
      ? { eventsPerRequest: this.options.batchSize, connections: this.options.batchConnections }
      : { eventsPerRequest: 1, connections: this.options.connections }
  }

  #announce(mode: Mode, name: string): void {
    const { warmupS, durationS } = this.options
    process.stdout.write(`${mode} ${name}: ${warmupS} s warm-up, ${durationS} s measured ... `)
  }

  #done(measured: RunFigures, eventsPerRequest: number): void {
    process.stdout.write(
      eventsPerRequest === 1
        ? `${Math.round(measured.requestsPerSecond)} req/s\n`
        : `${Math.round(measured.eventsPerSecond)} events/s\n`,
    )
  }

  /** The real service, with Redis (rate limits counted there) or without. */
  async #startService(label: string, withRedis: boolean): Promise<Service> {
    const adminToken = randomBytes(24).toString('hex')
    const redisKeyPrefix = withRedis ? `bench-${label}:` : undefined
    const consumer = label === 'single-redis' ? this.consumer : undefined
    const server = await this.#start(`service ${label}`, 'src/main.ts', {
      ADMIN_TOKEN: adminToken,
      ENCRYPTION_KEY: this.#encryptionKey,
      LOG_LEVEL: 'warn',
      SHUTDOWN_READINESS_DELAY_MS: '0',
      // One API key sends every request of a load: the limiter runs for each, but its limit must not be what
      // is measured. One window for the whole bench, so Redis holds every request's count at the end.
      RATE_LIMIT_MAX: '10000000',
      RATE_LIMIT_WINDOW_MS: String(24 * 3600 * 1000),
      ...(redisKeyPrefix === undefined
        ? {}
        : { REDIS_URL: this.redis.url, REDIS_KEY_PREFIX: redisKeyPrefix }),
      // The consumer listens on this machine, over plain HTTP.
      ...(consumer === undefined
        ? {}
        : { WEBHOOK_ALLOW_HTTP: 'true', WEBHOOK_ALLOW_PRIVATE_TARGETS: 'true' }),
      // Tuning knobs of the write path and of delivery pass through, to compare settings run against run.
      ...Object.fromEntries(
        Object.entries(process.env).filter(
          ([name]) => name.startsWith('INGEST_') || name.startsWith('WEBHOOK_'),
        ) as [string, string][],
      ),
    })
    const credentials = await provisionSignedSource(server.url, adminToken, {
      tenant: `Bench ${label}`,
      source: 'pos',
    })
    if (consumer !== undefined) {
      const endpoint = await subscribeEndpoint(server.url, adminToken, credentials.tenantId, consumer.url)
      consumer.secret = endpoint.secret
    }
    return { server, adminToken, credentials, redisKeyPrefix }
  }

  /** Stops the service and checks what it stored and what its limiter counted. */
  async #finishService(
    mode: Mode,
    name: string,
    service: Service,
    ledger: Ledger,
    metrics: { before: string; after: string },
    apiRequestsAnswered: number,
  ): Promise<ServiceReport> {
    const exitCode = await this.#stop(service.server)
    const slug = `${mode}-${service.redisKeyPrefix === undefined ? 'no-redis' : 'redis'}`
    await writeArtifact(resolve(artifactsDir, `metrics-after-bench-${slug}.prom`), metrics.after)
    const storage = await checkStorage(this.sql, service.credentials.tenantId, ledger)
    if (!storage.ok) this.failures.push(`${mode} ${name}: the stored events do not match the 201 answers`)
    let rateLimit: RateLimitCheck | null = null
    if (service.redisKeyPrefix !== undefined) {
      const countedInRedis = await rateLimitCounted(this.redis.client, service.redisKeyPrefix)
      const fallbacks = sampleValue(metrics.after, 'rate_limit_backend_errors_total')
      rateLimit = {
        apiRequestsAnswered,
        countedInRedis,
        fallbacks,
        ok: countedInRedis > 0 && countedInRedis + fallbacks >= apiRequestsAnswered,
      }
      if (!rateLimit.ok)
        this.failures.push(
          `${mode} ${name}: the rate limiter did not count every request (the integer counters under ` +
            `${service.redisKeyPrefix}rl:*key:* in Redis, plus rate_limit_backend_errors_total) ` +
            JSON.stringify(rateLimit),
        )
    }
    const report: ServiceReport = {
      mode,
      name,
      redis: service.redisKeyPrefix !== undefined,
      exitCode,
      writePath: writePathOf(metrics.before, metrics.after, this.options.durationS),
      rateLimit,
      storage,
    }
    this.services.push(report)
    return report
  }

  /** The service under single events (single mode) or batches (batch mode). */
  async benchService(mode: Mode, withRedis: boolean, batch: () => PosEvent[]) {
    const { eventsPerRequest, connections } = this.#shape(mode)
    const name = withRedis ? 'ingest+redis' : 'ingest (no redis)'
    this.#announce(mode, name)
    const service = await this.#startService(`${mode}-${withRedis ? 'redis' : 'no-redis'}`, withRedis)
    const ledger = new Ledger()
    const request = ingestRequest(service.credentials, ledger, batch)
    const metrics = { before: '', after: '' }
    const runs = await this.#warmAndMeasure(
      service.server,
      request,
      connections,
      eventsPerRequest,
      async () => {
        metrics.before = await metricsText(service.server.url)
      },
    )
    metrics.after = await metricsText(service.server.url)
    this.#done(runs.measured, eventsPerRequest)
    // Every answered request went through the limiter, the warm-up's included.
    const answered = runs.warmup.responses + runs.measured.responses
    const report = await this.#finishService(mode, name, service, ledger, metrics, answered)
    if (this.consumer !== undefined && mode === 'single' && withRedis) {
      this.webhook = webhookFigures(this.consumer, report.storage.stored, metrics.after)
      if (this.webhook.signatureFailures > 0 || this.webhook.unreadableBodies > 0)
        this.failures.push(`webhook endpoint: deliveries that do not verify ${JSON.stringify(this.webhook)}`)
    }
    return this.#record({ mode, name, eventsPerRequest, connections, ...runs })
  }

  /**
   * Read mode: the service with Redis, seeded with READ_SEED_EVENTS events, then feed pages, order lookups
   * and single-event ingest at the same time, each on connections of its own.
   */
  async benchRead() {
    const { connections, readConnections, warmupS, durationS, rate } = this.options
    process.stdout.write(
      `read: seeding ${READ_SEED_EVENTS} events, then ${warmupS} s warm-up, ${durationS} s measured ... `,
    )
    const service = await this.#startService('read-redis', true)
    const { server, credentials, adminToken } = service
    const ledger = new Ledger()
    const orderIds = await seed(server.url, credentials, ledger, READ_SEED_EVENTS)
    const readKey = await adminPost(
      server.url,
      adminToken,
      `/v1/admin/tenants/${credentials.tenantId}/api-keys`,
      { name: 'bench-read', scopes: ['read'] },
    )
    const loads = [
      {
        name: 'feed page',
        request: feedPageRequest(String(readKey.key), FEED_PAGE_LIMIT),
        connections: readConnections,
      },
      {
        name: 'order lookup',
        request: orderLookupRequest(String(readKey.key), orderIds),
        connections: readConnections,
      },
      { name: 'ingest', request: ingestRequest(credentials, ledger, singleEvents()), connections },
    ]
    const runAll = async (seconds: number) => {
      const { result: results, usage } = await measureUsage(this.sql, server.cpuSeconds, () =>
        Promise.all(
          loads.map((load) =>
            drive({
              url: server.url,
              seconds,
              connections: load.connections,
              rate,
              requests: [load.request],
            }),
          ),
        ),
      )
      return results.map((result, i) =>
        figuresOf(
          result,
          usage,
          1,
          results.filter((_, j) => j !== i),
        ),
      )
    }
    const warmup = await runAll(warmupS)
    const metrics = { before: await metricsText(server.url), after: '' }
    const measured = await runAll(durationS)
    metrics.after = await metricsText(server.url)
    process.stdout.write(
      `${measured.map((m, i) => `${loads[i]!.name} ${Math.round(m.requestsPerSecond)}/s`).join(', ')}\n`,
    )
    // Every answered request went through the limiter, the seeding's and the warm-up's included.
    const answered = [...warmup, ...measured].reduce(
      (sum, m) => sum + m.responses,
      Math.ceil(READ_SEED_EVENTS / SEED_BATCH),
    )
    await this.#finishService('read', 'ingest+redis', service, ledger, metrics, answered)
    return loads.map((load, i) =>
      this.#record({
        mode: 'read',
        name: load.name,
        eventsPerRequest: 1,
        connections: load.connections,
        warmup: warmup[i]!,
        measured: measured[i]!,
      }),
    )
  }
}

/** Stores `events` events in batches of SEED_BATCH through the service; answers the order ids among them. */
async function seed(
  url: string,
  credentials: IngestCredentials,
  ledger: Ledger,
  events: number,
): Promise<string[]> {
  const orderIds: string[] = []
  for (let stored = 0; stored < events; stored += SEED_BATCH) {
    const batch = mixedBatch(SEED_BATCH)
    const body = JSON.stringify({ events: batch })
    for (const event of batch) ledger.sent.add(event.id)
    const response = await fetch(new URL(`/v1/ingest/${credentials.sourceName}`, url), {
      method: 'POST',
      headers: ingestHeaders(credentials, randomUUID(), body),
      body,
    })
    const text = await response.text()
    if (response.status !== 201) throw new Error(`seeding: ingest answered ${response.status}: ${text}`)
    ledger.answeredRequests++
    ledger.answeredEvents += batch.length
    for (const id of (JSON.parse(text) as { eventIds: string[] }).eventIds) ledger.confirmed.add(id)
    orderIds.push(...orderIdsOf(batch))
  }
  return orderIds
}

/** Single-event batches: a product.upserted or an inventory.adjusted in turn. */
function singleEvents(): () => PosEvent[] {
  let sequence = 0
  return () => [benchEvent(sequence++)]
}

const ms = (value: number) => String(value) // autocannon records latency in whole milliseconds.
const count = (value: number) => String(Math.round(value))
const idle = (m: RunFigures) => fixed(m.machineIdle * 100, 0)

function modeTable(mode: Mode, lines: readonly Line[]): string {
  const answers = (m: RunFigures) => [count(m.responses), count(m.non2xx), count(m.errors)]
  if (mode === 'batch') {
    return markdownTable(
      [
        'server',
        'events/s',
        'req/s',
        'P50 ms',
        'P99 ms',
        'CPU µs/event',
        'PG CPU µs/event',
        'idle %',
        'responses',
        'non-2xx',
        'errors',
      ],
      lines.map(({ name, eventsPerRequest, measured: m }) => [
        name,
        count(m.eventsPerSecond),
        fixed(m.requestsPerSecond),
        ms(m.latencyMs.p50),
        ms(m.latencyMs.p99),
        fixed(m.cpuUsPerEvent, 1),
        fixed(m.databaseCpuUsPerResponse / eventsPerRequest, 1),
        idle(m),
        ...answers(m),
      ]),
    )
  }
  return markdownTable(
    [
      mode === 'read' ? 'load' : 'server',
      'req/s',
      'P50 ms',
      'P99 ms',
      'CPU µs/req',
      'PG CPU µs/req',
      'idle %',
      'responses',
      'non-2xx',
      'errors',
    ],
    lines.map(({ name, measured: m }) => [
      name,
      fixed(m.requestsPerSecond),
      ms(m.latencyMs.p50),
      ms(m.latencyMs.p99),
      fixed(m.cpuUsPerResponse, 0),
      fixed(m.databaseCpuUsPerResponse, 0),
      idle(m),
      ...answers(m),
    ]),
  )
}

function describeService(report: ServiceReport): string {
  const { writePath: w, rateLimit: r } = report
  const lines = [
    `write path, ${report.mode} ${report.name} (measured run): ${count(w.groupCommits)} group commits, ` +
      `${fixed(w.requestsPerCommit, 2)} requests per commit, ${fixed(w.msPerCommit, 2)} ms per commit ` +
      `(measured seconds / commits), ${fixed(w.meanWritePathMs)} ms mean write path per request ` +
      `(ingest_duration_seconds)`,
  ]
  if (r !== null)
    lines.push(
      `rate limit, ${report.mode} ${report.name}: ${r.countedInRedis} counted in Redis (a request each, or ` +
        `the tokens a process leased), ${r.fallbacks} checks by the per-process fallback, for ` +
        `${r.apiRequestsAnswered} API requests answered: ` +
        `${r.ok ? 'OK' : 'FAILED'}` +
        (r.fallbacks === 0
          ? ''
          : ` (Redis answered later than RATE_LIMIT_REDIS_TIMEOUT_MS for ${r.fallbacks}: these figures are ` +
            'not all of the Redis path)'),
    )
  lines.push(describeStorage(`${report.mode} ${report.name}`, report.storage))
  return lines.join('\n')
}

/**
 * The rate a line's CPU per event allows once every core is busy: the machine's whole CPU (servers, PostgreSQL,
 * Redis and the load generator alike) over the events it answered. A line that left cores idle waited on
 * something else (a commit, a round trip); this is what it could reach if it did not, at the same cost.
 */
function rateAtFullUse(m: RunFigures): number {
  const machineUsPerEvent = ((1 - m.machineIdle) * os.cpus().length * 1e6) / m.eventsPerSecond
  return (os.cpus().length * 1e6) / machineUsPerEvent
}

/** The ratios the issue's targets are stated in, of the lines that ran. */
function ratiosOf(lines: readonly Line[]) {
  const figures = (mode: Mode, name: string) =>
    lines.find((l) => l.mode === mode && l.name === name)?.measured
  const rate = (mode: Mode, name: string) => figures(mode, name)?.eventsPerSecond
  const atFullUse = (mode: Mode, name: string) => {
    const m = figures(mode, name)
    return m === undefined ? undefined : rateAtFullUse(m)
  }
  const ratio = (a: number | undefined, b: number | undefined) =>
    a === undefined || b === undefined ? null : a / b
  return {
    single: {
      redisToNaive: ratio(rate('single', 'ingest+redis'), rate('single', 'naive')),
      redisToCeiling: ratio(rate('single', 'ingest+redis'), rate('single', 'ceiling')),
      noRedisToNaive: ratio(rate('single', 'ingest (no redis)'), rate('single', 'naive')),
      redisToNoRedis: ratio(rate('single', 'ingest+redis'), rate('single', 'ingest (no redis)')),
      redisToNaiveAtFullUse: ratio(atFullUse('single', 'ingest+redis'), atFullUse('single', 'naive')),
    },
    batch: {
      redisToNaive: ratio(rate('batch', 'ingest+redis'), rate('batch', 'naive')),
      redisToCeiling: ratio(rate('batch', 'ingest+redis'), rate('batch', 'ceiling')),
      redisAtFullUse: atFullUse('batch', 'ingest+redis') ?? null,
    },
  }
}

function describeRatios(mode: Mode, ratios: ReturnType<typeof ratiosOf>): string {
  const r = (value: number | null) => (value === null ? '-' : fixed(value, 2))
  if (mode === 'single')
    return (
      `ingest+redis/naive ${r(ratios.single.redisToNaive)}, ingest+redis/ceiling ${r(ratios.single.redisToCeiling)}, ` +
      `ingest (no redis)/naive ${r(ratios.single.noRedisToNaive)}, ingest+redis/ingest (no redis) ` +
      `${r(ratios.single.redisToNoRedis)} (req/s); with every core busy at the same CPU per request ` +
      `(every process's), ingest+redis/naive would be ${r(ratios.single.redisToNaiveAtFullUse)}`
    )
  if (mode === 'batch')
    return (
      `ingest+redis/naive ${r(ratios.batch.redisToNaive)}, ingest+redis/ceiling ${r(ratios.batch.redisToCeiling)} ` +
      `(events/s); with every core busy at the same CPU per event (every process's), ingest+redis would ` +
      `reach ${ratios.batch.redisAtFullUse === null ? '-' : fixed(ratios.batch.redisAtFullUse, 0)} events/s`
    )
  return 'CPU µs/req of the read loads is the service process CPU over all responses of the three loads'
}

async function main(): Promise<number> {
  const options = readOptions()
  const database = await createTestDatabase()
  const sql = new pg.Client({ connectionString: database.url })
  const consumer = options.webhookEndpoint
    ? await BenchConsumer.start({ status: 200, verifyEvery: 100 })
    : undefined
  let redis: RedisProcess | undefined
  let bench: Bench | undefined
  const failures: string[] = []
  try {
    await sql.connect()
    redis = await startRedisProcess()
    bench = new Bench(options, database.url, sql, redis, consumer)
    const synchronousCommit = (await sql.query<{ synchronous_commit: string }>('SHOW synchronous_commit'))
      .rows[0]!.synchronous_commit
    const postgresVersion = (await sql.query<{ server_version: string }>('SHOW server_version')).rows[0]!
      .server_version
    const redisVersion = /redis_version:(\S+)/.exec(await redis.client.info('server'))?.[1] ?? 'unknown'
    if (synchronousCommit !== 'on') bench.failures.push(`synchronous_commit is ${synchronousCommit}, not on`)
    await sql.query(
      `CREATE TABLE naive_events (
         tenant_id uuid NOT NULL, event_id text NOT NULL, payload jsonb NOT NULL,
         PRIMARY KEY (tenant_id, event_id))`,
    )
    const loadAverage = os.loadavg().map((value) => fixed(value, 2))
    process.stdout.write(
      `database ${database.name}: PostgreSQL ${postgresVersion}, synchronous_commit=${synchronousCommit}; ` +
        `private redis-server ${redisVersion}\n` +
        `machine: ${os.cpus().length} cores, load average before the run ${loadAverage.join(' ')}; ` +
        `commit ${buildInfo.commit}; node ${process.version}\n` +
        `modes: ${options.modes.join(', ')}; ${options.rate === undefined ? 'as fast as answered' : `${options.rate} requests/s per load`}; ` +
        `${consumer === undefined ? 'no webhook endpoint' : 'one webhook endpoint subscribed to every event type (single, ingest+redis)'}\n`,
    )

    for (const mode of options.modes) {
      if (mode === 'single') {
        process.stdout.write(`\nsingle: single-event batches, ${options.connections} connections\n`)
        await bench.benchPlain(mode, 'ceiling', singleEvents())
        await bench.benchPlain(mode, 'naive', singleEvents())
        await bench.benchService(mode, true, singleEvents())
        await bench.benchService(mode, false, singleEvents())
      } else if (mode === 'batch') {
        const batch = () => mixedBatch(options.batchSize)
        process.stdout.write(
          `\nbatch: ${options.batchSize}-event batches of mixed types, ${options.batchConnections} connections\n`,
        )
        await bench.benchPlain(mode, 'ceiling', batch)
        await bench.benchPlain(mode, 'naive', batch)
        await bench.benchService(mode, true, batch)
      } else {
        process.stdout.write(
          `\nread: feed pages of ${FEED_PAGE_LIMIT} and order lookups (${options.readConnections} connections ` +
            `each) beside single-event ingest (${options.connections} connections)\n`,
        )
        await bench.benchRead()
      }
    }

    const ratios = ratiosOf(bench.lines)
    for (const mode of options.modes) {
      process.stdout.write(
        `\n## ${mode}\n\n${modeTable(
          mode,
          bench.lines.filter((line) => line.mode === mode),
        )}\n\n${describeRatios(mode, ratios)}\n`,
      )
      for (const report of bench.services.filter((s) => s.mode === mode))
        process.stdout.write(`${describeService(report)}\n`)
    }
    const webhook = bench.webhook
    if (webhook !== undefined)
      process.stdout.write(
        `webhook endpoint: ${webhook.delivered} of ${webhook.eventsStored} events delivered before the ` +
          `service stopped (${webhook.attemptsSucceeded} attempts succeeded by its own count), lag from ` +
          `commit P50 ${webhook.lagMs.p50} ms, P99 ${webhook.lagMs.p99} ms; ${webhook.duplicates} duplicates, ` +
          `${webhook.signaturesVerified} signatures verified, ${webhook.signatureFailures} failed\n`,
      )

    const cpus = os.cpus()
    await writeArtifact(resolve(artifactsDir, 'bench.json'), {
      date: new Date().toISOString(),
      // The working tree may differ from the commit: it is what HEAD was when the bench ran.
      commit: buildInfo.commit,
      machine: {
        cpus: cpus.length,
        cpuModel: cpus[0]?.model,
        memoryGiB: Math.round(os.totalmem() / 2 ** 30),
        node: process.version,
        postgres: postgresVersion,
        redis: redisVersion,
        synchronousCommit,
        loadAverageBefore: loadAverage,
        loadAverageAfter: os.loadavg().map((value) => fixed(value, 2)),
        note: 'load generator, servers, PostgreSQL and Redis share the same cores',
      },
      options: { ...options, feedPageLimit: FEED_PAGE_LIMIT, readSeedEvents: READ_SEED_EVENTS },
      // One entry per line of the printed tables.
      results: bench.lines,
      ratios,
      services: bench.services,
      webhookEndpoint: webhook ?? null,
      failures: bench.failures,
    })
    process.stdout.write(`\nwritten: ${resolve(artifactsDir, 'bench.json')}\n`)
  } catch (err) {
    failures.push(err instanceof Error ? (err.stack ?? err.message) : String(err))
    await bench?.stopAll()
  } finally {
    await sql.end().catch(() => undefined)
    await consumer?.close()
    await redis?.stop()
    await database.drop()
  }
  failures.unshift(...(bench?.failures ?? []))
  for (const failure of failures) process.stderr.write(`FAILED: ${failure}\n`)
  return failures.length === 0 ? 0 : 1
}

process.exitCode = await main()
