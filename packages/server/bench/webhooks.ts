// npm run bench:webhooks: what webhook delivery sustains on one replica, in two scenarios, each on a fresh
// PostgreSQL database with the real service as a child process of its own (src/main.ts, Redis for the
// breakers unless --redis none) and, in this process, a consumer endpoint that answers 204 at once, subscribed
// to every event type of the bench tenant:
// - steady: --rate events/s stored through the signed ingest route for --warmup s (not reported) and then
//   --duration s, in requests of --batch events sent on a fixed schedule (open loop: a slow answer does not
//   delay the next request). Prints the ingest and delivery rates and the lag from commit to first attempt
//   (P50, P99, max) of the events of the measured seconds, taken at the consumer from the event's receivedAt,
//   which PostgreSQL stamps in the transaction that stores it.
// - backlog: --backlog events stored while the replica's dispatcher is off (WEBHOOK_DISPATCHER_ENABLED=false);
//   that replica stops, one with the dispatcher on starts, and the bench times it from ready to the last
//   delivery (fan-out included). Prints deliveries/s and the server's CPU per delivery.
// Every event answered 201 must reach the consumer and every sampled signature must verify, else exit 1.
// Writes artifacts/bench-webhooks.json. Figures only; it asserts nothing about timing.
import { randomBytes, randomUUID } from 'node:crypto'
import os from 'node:os'
import { resolve } from 'node:path'
import { monitorEventLoopDelay } from 'node:perf_hooks'
import { setTimeout as sleep } from 'node:timers/promises'
import { parseArgs } from 'node:util'
import { request } from 'undici'
import { buildInfo } from '../src/platform/build-info.js'
import { createTestDatabase, type TestDatabase } from '../test/helpers/database.js'
import { artifactsDir, writeArtifact } from './support/artifacts.js'
import { benchEvent } from './support/events.js'
import { type IngestCredentials, ingestHeaders, provisionSignedSource } from './support/ingest-client.js'
import { positiveInteger } from './support/options.js'
import { metricsText } from './support/prometheus.js'
import { type ServerProcess, startServerProcess } from './support/server-process.js'
import { BenchConsumer, subscribeEndpoint } from './support/webhook-consumer.js'

const SCENARIOS = ['steady', 'backlog'] as const
type Scenario = (typeof SCENARIOS)[number]

interface Options {
  readonly scenarios: readonly Scenario[]
  readonly rate: number
  readonly durationS: number
  readonly warmupS: number
  readonly batch: number
  readonly backlog: number
  readonly backlogBatch: number
  readonly timeoutMs: number
  readonly verifyEvery: number
  readonly redisUrl: string | undefined
}

function readOptions(): Options {
  const { values } = parseArgs({
    options: {
      scenario: { type: 'string', default: 'both' },
      rate: { type: 'string', default: '1000' },
      duration: { type: 'string', default: '30' },
      warmup: { type: 'string', default: '5' },
      batch: { type: 'string', default: '10' },
      backlog: { type: 'string', default: '100000' },
      'backlog-batch': { type: 'string', default: '500' },
      'timeout-s': { type: 'string', default: '300' },
      'verify-every': { type: 'string', default: '100' },
      redis: { type: 'string', default: process.env.TEST_REDIS_URL ?? 'redis://127.0.0.1:6379' },
    },
  })
  const scenario = values.scenario
  if (scenario !== 'both' && !(SCENARIOS as readonly string[]).includes(scenario))
    throw new Error('--scenario must be steady, backlog or both')
  return {
    scenarios: scenario === 'both' ? SCENARIOS : [scenario as Scenario],
    rate: positiveInteger('rate', values.rate),
    durationS: positiveInteger('duration', values.duration),
    warmupS: Number(values.warmup) === 0 ? 0 : positiveInteger('warmup', values.warmup),
    batch: positiveInteger('batch', values.batch),
    backlog: positiveInteger('backlog', values.backlog),
    backlogBatch: positiveInteger('backlog-batch', values['backlog-batch']),
    timeoutMs: positiveInteger('timeout-s', values['timeout-s']) * 1000,
    verifyEvery: positiveInteger('verify-every', values['verify-every']),
    redisUrl: values.redis === 'none' ? undefined : values.redis,
  }
}

/** What one scenario found, whatever its figures: the checks that make the bench fail. */
interface Checks {
  readonly requestsSent: number
  readonly non201: Record<string, number>
  readonly requestErrors: number
  readonly eventsStored: number
  readonly delivered: number
  readonly missing: number
  readonly duplicates: number
  readonly unreadableBodies: number
  readonly signaturesVerified: number
  readonly signatureFailures: readonly string[]
  readonly serverExitCodes: readonly (number | null)[]
}

/** The events answered 201, and what went wrong with the requests. */
class IngestLedger {
  readonly stored = new Set<string>()
  /** The events stored by requests of the measured period (steady: after the warm-up). */
  readonly measured = new Set<string>()
  readonly non201: Record<string, number> = {}
  readonly latenciesMs: number[] = []
  sent = 0
  errors = 0
  lastAnswerAt = 0
  #events = 0

  async send(
    server: ServerProcess,
    credentials: IngestCredentials,
    count: number,
    measured = true,
  ): Promise<void> {
    const events = Array.from({ length: count }, () => benchEvent(this.#events++))
    const body = JSON.stringify({ events })
    this.sent++
    const started = performance.now()
    try {
      // undici's request rather than fetch: the bench shares the cores with what it measures.
      const response = await request(`${server.url}/v1/ingest/${credentials.sourceName}`, {
        method: 'POST',
        headers: ingestHeaders(credentials, randomUUID(), body),
        body,
      })
      const text = await response.body.text()
      if (measured) this.latenciesMs.push(performance.now() - started)
      this.lastAnswerAt = Date.now()
      if (response.statusCode !== 201) {
        this.non201[response.statusCode] = (this.non201[response.statusCode] ?? 0) + 1
        return
      }
      for (const id of (JSON.parse(text) as { eventIds: string[] }).eventIds) {
        this.stored.add(id)
        if (measured) this.measured.add(id)
      }
    } catch {
      this.errors++
    }
  }
}

const percentile = (sorted: readonly number[], p: number): number =>
  Math.round(sorted[Math.min(sorted.length - 1, Math.floor(p * sorted.length))] ?? 0)

function distribution(values: readonly number[]): { p50: number; p99: number; max: number } {
  const sorted = [...values].sort((a, b) => a - b)
  return { p50: percentile(sorted, 0.5), p99: percentile(sorted, 0.99), max: percentile(sorted, 1) }
}

/** Waits until `done` holds or the deadline passes; answers whether it held. */
async function waitUntil(done: () => boolean, timeoutMs: number): Promise<boolean> {
  const deadline = Date.now() + timeoutMs
  while (!done()) {
    if (Date.now() > deadline) return false
    await sleep(100)
  }
  return true
}

/** One scenario's servers, database and consumer, and the checks common to both scenarios. */
class Run {
  readonly adminToken = randomBytes(24).toString('hex')
  readonly encryptionKey = randomBytes(32).toString('base64')
  readonly ledger = new IngestLedger()
  readonly exitCodes: (number | null)[] = []
  readonly #running = new Set<ServerProcess>()

  private constructor(
    readonly options: Options,
    readonly database: TestDatabase,
    readonly consumer: BenchConsumer,
  ) {}

  static async open(options: Options): Promise<Run> {
    const database = await createTestDatabase()
    const consumer = await BenchConsumer.start({ status: 204, verifyEvery: options.verifyEvery })
    return new Run(options, database, consumer)
  }

  async start(name: string, env: Record<string, string> = {}): Promise<ServerProcess> {
    const { redisUrl } = this.options
    const server = await startServerProcess(name, 'src/main.ts', {
      DATABASE_URL: this.database.url,
      ADMIN_TOKEN: this.adminToken,
      ENCRYPTION_KEY: this.encryptionKey,
      LOG_LEVEL: 'warn',
      SHUTDOWN_READINESS_DELAY_MS: '0',
      // One API key sends every request of the bench: the per-key rate limit must not be what is measured.
      RATE_LIMIT_MAX: '10000000',
      WEBHOOK_ALLOW_HTTP: 'true',
      WEBHOOK_ALLOW_PRIVATE_TARGETS: 'true',
      ...(redisUrl === undefined
        ? {}
        : { REDIS_URL: redisUrl, REDIS_KEY_PREFIX: `bench:${this.database.name}:` }),
      // Tuning knobs pass through, to compare settings run against run.
      ...Object.fromEntries(
        Object.entries(process.env).filter(([key]) => /^(WEBHOOK|OUTBOUND|INGEST)_/.test(key)),
      ),
      ...env,
    })
    this.#running.add(server)
    return server
  }

  async stop(server: ServerProcess): Promise<void> {
    this.#running.delete(server)
    const code = await server.stop()
    this.exitCodes.push(code)
    if (code !== 0) process.stderr.write(`--- ${server.name} output ---\n${server.output()}\n`)
  }

  /** The tenant, its signed source, and the consumer subscribed to every event type. */
  async provision(server: ServerProcess): Promise<IngestCredentials> {
    const credentials = await provisionSignedSource(server.url, this.adminToken, {
      tenant: 'Bench webhooks',
      source: 'pos',
    })
    const endpoint = await subscribeEndpoint(
      server.url,
      this.adminToken,
      credentials.tenantId,
      this.consumer.url,
    )
    this.consumer.secret = endpoint.secret
    return credentials
  }

  /** Waits until every stored event arrived at the consumer, or the timeout. */
  allDelivered(): Promise<boolean> {
    const expected = this.ledger.stored.size
    return waitUntil(() => this.consumer.arrivals.size >= expected, this.options.timeoutMs)
  }

  checks(): Checks {
    const { ledger, consumer } = this
    return {
      requestsSent: ledger.sent,
      non201: ledger.non201,
      requestErrors: ledger.errors,
      eventsStored: ledger.stored.size,
      delivered: consumer.arrivals.size,
      missing: consumer.missing(ledger.stored),
      duplicates: consumer.duplicates,
      unreadableBodies: consumer.unreadable.length,
      signaturesVerified: consumer.verified,
      signatureFailures: consumer.signatureFailures.slice(0, 10),
      serverExitCodes: this.exitCodes,
    }
  }

  async close(): Promise<void> {
    for (const server of this.#running) await server.stop().catch(() => undefined)
    await this.consumer.close()
    await this.database.drop()
  }

  /** Servers still running when a scenario failed: their output says why. */
  printOutputs(): void {
    for (const server of this.#running)
      process.stderr.write(`--- ${server.name} output ---\n${server.output()}\n`)
  }
}

function failuresOf(scenario: Scenario, checks: Checks): string[] {
  const failures: string[] = []
  const non201 = Object.values(checks.non201).reduce((sum, n) => sum + n, 0)
  if (non201 > 0)
    failures.push(`${scenario}: ${non201} ingest answers not 201 ${JSON.stringify(checks.non201)}`)
  if (checks.requestErrors > 0) failures.push(`${scenario}: ${checks.requestErrors} ingest requests failed`)
  if (checks.missing > 0)
    failures.push(`${scenario}: ${checks.missing} of ${checks.eventsStored} stored events never arrived`)
  if (checks.unreadableBodies > 0) failures.push(`${scenario}: ${checks.unreadableBodies} unreadable bodies`)
  if (checks.signatureFailures.length > 0)
    failures.push(`${scenario}: signatures did not verify: ${checks.signatureFailures.join('; ')}`)
  if (checks.delivered > 0 && checks.signaturesVerified === 0)
    failures.push(`${scenario}: no signature was verified`)
  if (checks.serverExitCodes.some((code) => code !== 0))
    failures.push(`${scenario}: a server exited ${checks.serverExitCodes.join(', ')} after SIGTERM`)
  return failures
}

const loadAverage = () => os.loadavg().map((value) => Number(value.toFixed(2)))

interface SteadyFigures {
  readonly offeredEventsPerSecond: number
  readonly ingestedEventsPerSecond: number
  readonly ingestLatencyMs: { p50: number; p99: number; max: number }
  /** Requests sent more than 100 ms after their slot (the bench itself fell behind). */
  readonly lateRequests: number
  readonly deliveriesPerSecond: number
  /** From the last ingest answer to the last first delivery. */
  readonly drainAfterIngestMs: number
  /** From the event's commit (its receivedAt) to its first attempt reaching the consumer. */
  readonly lagMs: { p50: number; p99: number; max: number }
  readonly serverCpuUsPerEvent: number
  /** This process (load generator and consumer): its CPU per event and its event loop's delay. */
  readonly benchCpuUsPerEvent: number
  readonly benchEventLoopDelayMs: { p50: number; p99: number; max: number }
}

async function steady(run: Run): Promise<{ figures: SteadyFigures; metrics: string }> {
  const { options, ledger, consumer } = run
  const server = await run.start('steady')
  const credentials = await run.provision(server)
  const intervalMs = (1000 * options.batch) / options.rate
  const warmupRequests = Math.round((options.rate * options.warmupS) / options.batch)
  const requests =
    warmupRequests + Math.max(1, Math.round((options.rate * options.durationS) / options.batch))
  process.stdout.write(
    `steady: ${options.rate} events/s, ${options.warmupS} s warm-up and ${options.durationS} s measured, ` +
      `requests of ${options.batch} ... `,
  )
  const loopDelay = monitorEventLoopDelay({ resolution: 10 })
  const startedAt = performance.now()
  const inFlight: Promise<void>[] = []
  let lateRequests = 0
  let measuredFrom = Date.now()
  let cpuBefore = server.cpuSeconds()
  let benchCpuBefore = process.cpuUsage()
  for (let i = 0; i < requests; i++) {
    const measured = i >= warmupRequests
    if (i === warmupRequests) {
      measuredFrom = Date.now()
      cpuBefore = server.cpuSeconds()
      benchCpuBefore = process.cpuUsage()
      loopDelay.enable()
    }
    const wait = startedAt + i * intervalMs - performance.now()
    if (wait > 1) await sleep(wait)
    else if (wait < -100 && measured) lateRequests++
    inFlight.push(ledger.send(server, credentials, options.batch, measured))
  }
  await Promise.all(inFlight)
  await run.allDelivered()
  loopDelay.disable()
  const benchCpu = process.cpuUsage(benchCpuBefore)
  const serverCpu = server.cpuSeconds() - cpuBefore
  const measured = [...ledger.measured].flatMap((id) => consumer.arrivals.get(id) ?? [])
  const lastArrival = measured.reduce((latest, { at }) => Math.max(latest, at), 0)
  let deliveredSince = 0
  for (const { at } of consumer.arrivals.values()) if (at >= measuredFrom) deliveredSince++
  const figures: SteadyFigures = {
    offeredEventsPerSecond: options.rate,
    ingestedEventsPerSecond: Math.round((ledger.measured.size / (ledger.lastAnswerAt - measuredFrom)) * 1000),
    ingestLatencyMs: distribution(ledger.latenciesMs),
    lateRequests,
    deliveriesPerSecond: Math.round((measured.length / (lastArrival - measuredFrom)) * 1000),
    drainAfterIngestMs: Math.max(0, lastArrival - ledger.lastAnswerAt),
    lagMs: distribution(measured.map(({ lagMs }) => lagMs)),
    serverCpuUsPerEvent: Math.round((serverCpu * 1e6) / Math.max(1, deliveredSince)),
    benchCpuUsPerEvent: Math.round((benchCpu.user + benchCpu.system) / Math.max(1, deliveredSince)),
    benchEventLoopDelayMs: {
      p50: Math.round(loopDelay.percentile(50) / 1e6),
      p99: Math.round(loopDelay.percentile(99) / 1e6),
      max: Math.round(loopDelay.max / 1e6),
    },
  }
  const metrics = await metricsText(server.url)
  await run.stop(server)
  process.stdout.write(`P99 lag ${figures.lagMs.p99} ms\n`)
  return { figures, metrics }
}

interface BacklogFigures {
  readonly events: number
  /** Ingest rate while no dispatcher ran (batches of --backlog-batch, 4 requests at a time). */
  readonly ingestedEventsPerSecond: number
  /** From the delivering replica being ready (or its first delivery, if sooner) to the last delivery. */
  readonly drainMs: number
  readonly deliveriesPerSecond: number
  readonly serverCpuUsPerDelivery: number
}

const BACKLOG_SENDERS = 4

async function backlog(run: Run): Promise<{ figures: BacklogFigures; metrics: string }> {
  const { options, ledger, consumer } = run
  process.stdout.write(`backlog: ${options.backlog} events stored with no dispatcher running ... `)
  const storing = await run.start('backlog-ingest', { WEBHOOK_DISPATCHER_ENABLED: 'false' })
  const credentials = await run.provision(storing)
  const requests = Math.ceil(options.backlog / options.backlogBatch)
  const started = Date.now()
  let next = 0
  await Promise.all(
    Array.from({ length: BACKLOG_SENDERS }, async () => {
      while (next < requests) {
        const i = next++
        const count = Math.min(options.backlogBatch, options.backlog - i * options.backlogBatch)
        await ledger.send(storing, credentials, count)
      }
    }),
  )
  const ingestedEventsPerSecond = Math.round((ledger.stored.size / (Date.now() - started)) * 1000)
  await run.stop(storing)
  process.stdout.write(`${ingestedEventsPerSecond} events/s; draining ... `)

  const delivering = await run.start('backlog-deliver')
  const readyAt = Date.now()
  const cpuBefore = delivering.cpuSeconds()
  await run.allDelivered()
  const cpuSeconds = delivering.cpuSeconds() - cpuBefore
  const arrivals = [...consumer.arrivals.values()]
  const first = arrivals.reduce((earliest, { at }) => Math.min(earliest, at), readyAt)
  const last = arrivals.reduce((latest, { at }) => Math.max(latest, at), 0)
  const drainMs = last - first
  const figures: BacklogFigures = {
    events: ledger.stored.size,
    ingestedEventsPerSecond,
    drainMs,
    deliveriesPerSecond: Math.round((arrivals.length / drainMs) * 1000),
    serverCpuUsPerDelivery: Math.round((cpuSeconds * 1e6) / Math.max(1, arrivals.length)),
  }
  const metrics = await metricsText(delivering.url)
  await run.stop(delivering)
  process.stdout.write(`${figures.deliveriesPerSecond} deliveries/s\n`)
  return { figures, metrics }
}

interface ScenarioResult {
  readonly scenario: Scenario
  readonly loadAverageBefore: number[]
  readonly figures?: SteadyFigures | BacklogFigures
  readonly checks?: Checks
}

async function main(): Promise<number> {
  const options = readOptions()
  const failures: string[] = []
  const results: ScenarioResult[] = []
  process.stdout.write(
    `machine: ${os.cpus().length} cores, load average ${loadAverage().join(' ')}; commit ${buildInfo.commit}; ` +
      `breakers ${options.redisUrl === undefined ? 'in process' : 'in redis'}\n`,
  )
  for (const scenario of options.scenarios) {
    const loadAverageBefore = loadAverage()
    const run = await Run.open(options)
    try {
      const { figures, metrics } = scenario === 'steady' ? await steady(run) : await backlog(run)
      await writeArtifact(resolve(artifactsDir, `metrics-after-bench-webhooks-${scenario}.prom`), metrics)
      const checks = run.checks()
      failures.push(...failuresOf(scenario, checks))
      results.push({ scenario, loadAverageBefore, figures, checks })
    } catch (err) {
      failures.push(`${scenario}: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}`)
      run.printOutputs()
      results.push({ scenario, loadAverageBefore })
    } finally {
      await run.close()
    }
  }

  for (const { scenario, loadAverageBefore, figures, checks } of results) {
    if (figures === undefined || checks === undefined) continue
    process.stdout.write(
      `\n${scenario} (load average before ${loadAverageBefore.join(' ')}):\n` +
        Object.entries(figures)
          .map(([name, value]) => `  ${name}: ${typeof value === 'object' ? JSON.stringify(value) : value}`)
          .join('\n') +
        `\n  check: ${checks.eventsStored} events stored, ${checks.delivered} delivered, ${checks.missing} ` +
        `missing, ${checks.duplicates} duplicates, ${checks.signaturesVerified} signatures verified, ` +
        `${checks.signatureFailures.length} failed\n`,
    )
  }
  const cpus = os.cpus()
  const artifact = resolve(artifactsDir, 'bench-webhooks.json')
  await writeArtifact(artifact, {
    date: new Date().toISOString(),
    // The working tree may differ from the commit: it is what HEAD was when the bench ran.
    commit: buildInfo.commit,
    machine: {
      cpus: cpus.length,
      cpuModel: cpus[0]?.model,
      memoryGiB: Math.round(os.totalmem() / 2 ** 30),
      node: process.version,
      loadAverageAfter: loadAverage(),
      note: 'bench, consumer, server and PostgreSQL share the same cores',
    },
    options: { ...options, redisUrl: options.redisUrl === undefined ? 'none' : 'set' },
    results,
    failures,
  })
  process.stdout.write(`written: ${artifact}\n`)
  for (const failure of failures) process.stderr.write(`FAILED: ${failure}\n`)
  return failures.length === 0 ? 0 : 1
}

process.exitCode = await main()
