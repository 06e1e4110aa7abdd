// npm run bench: what the ingest path costs. One fresh PostgreSQL database; three servers, each its own child
// process, run one after another and driven with the same load by autocannon (single-event batches, every
// request new and signed): the HTTP ceiling (bench/servers/ceiling.ts), the naive one-INSERT-per-request
// design we replace (bench/servers/naive.ts) and the real service. Prints requests/s and latency of each with
// the ratios, writes artifacts/bench.json, and checks that the service stored exactly the events it answered
// 201 for. Exits 1 on any non-2xx answer, any connection error, or a failed check. With --webhook-endpoint,
// the bench tenant has one webhook endpoint subscribed to every event type before the runs (a consumer in this
// process answering 200), so the service's figures can be compared with and without delivery running.
import { randomBytes, randomUUID } from 'node:crypto'
import os from 'node:os'
import { resolve } from 'node:path'
import { parseArgs } from 'node:util'
import autocannon from 'autocannon'
import pg from 'pg'
import { buildInfo } from '../src/platform/build-info.js'
import { createTestDatabase } from '../test/helpers/database.js'
import { artifactsDir, writeArtifact } from './support/artifacts.js'
import { benchEvent } from './support/events.js'
import { type IngestCredentials, ingestHeaders, provisionSignedSource } from './support/ingest-client.js'
import { positiveInteger } from './support/options.js'
import { histogramMean, metricsText, sampleValue } from './support/prometheus.js'
import { type ServerProcess, startServerProcess } from './support/server-process.js'
import { BenchConsumer, subscribeEndpoint } from './support/webhook-consumer.js'

type ServerName = 'ceiling' | 'naive' | 'ingest'

interface Options {
  readonly durationS: number
  readonly connections: number
  readonly warmupS: number
  /** Requests per second across all connections, or undefined for as fast as the server answers. */
  readonly rate: number | undefined
  /** Subscribe a local consumer to every event type of the bench tenant, so delivery runs beside ingest. */
  readonly webhookEndpoint: boolean
}

function readOptions(): Options {
  const { values } = parseArgs({
    options: {
      duration: { type: 'string', default: '10' },
      connections: { type: 'string', default: '50' },
      warmup: { type: 'string', default: '2' },
      // A fixed offered load: every server then sees the same rate, so CPU per request compares like with like.
      rate: { type: 'string' },
      'webhook-endpoint': { type: 'boolean', default: false },
    },
  })
  return {
    durationS: positiveInteger('duration', values.duration),
    connections: positiveInteger('connections', values.connections),
    warmupS: positiveInteger('warmup', values.warmup),
    rate: values.rate === undefined ? undefined : positiveInteger('rate', values.rate),
    webhookEndpoint: values['webhook-endpoint'],
  }
}

/**
 * Every event sent to one server and every event it answered 201 for. autocannon drops the requests still in
 * flight when its time is up, so "sent but never answered" is how many the database may hold unconfirmed.
 */
class Ledger {
  readonly sent = new Set<string>()
  readonly confirmed = new Set<string>()
  answered = 0

  get cutOff(): number {
    return this.sent.size - this.answered
  }
}

interface RunFigures {
  readonly requestsPerSecond: number
  readonly latencyMs: {
    readonly p50: number
    readonly p99: number
    readonly mean: number
    readonly max: number
  }
  readonly responses: number
  readonly statusCodes: Record<string, number>
  readonly non2xx: number
  readonly errors: number
  readonly timeouts: number
  readonly durationS: number
  /** CPU time of the server process per response, in microseconds (its own user and system time). */
  readonly cpuUsPerResponse: number
}

interface ServerFigures {
  readonly server: ServerName
  readonly warmup: RunFigures
  readonly measured: RunFigures
  readonly exitCode: number | null
}

/** What the service says about its own write path, read from its /metrics after the runs. */
interface IngestInternals {
  readonly meanRequestsPerCommit: number
  readonly meanIngestMs: number
}

function figuresOf(result: autocannon.Result, cpuSeconds: number): RunFigures {
  const statusCodes: Record<string, number> = {}
  for (const [code, stats] of Object.entries(result.statusCodeStats ?? {}))
    statusCodes[code] = stats.count ?? 0
  return {
    requestsPerSecond: result.requests.average,
    latencyMs: {
      p50: result.latency.p50,
      p99: result.latency.p99,
      mean: result.latency.average,
      max: result.latency.max,
    },
    responses: result['1xx'] + result['2xx'] + result['3xx'] + result['4xx'] + result['5xx'],
    statusCodes,
    non2xx: result.non2xx,
    errors: result.errors,
    timeouts: result.timeouts,
    durationS: result.duration,
    cpuUsPerResponse: (cpuSeconds * 1e6) / Math.max(1, result['2xx'] + result['4xx'] + result['5xx']),
  }
}

/** Drives one server for `seconds`: every request a new single-event batch, Idempotency-Key and signature. */
async function drive(
  server: ServerProcess,
  credentials: IngestCredentials,
  ledger: Ledger,
  seconds: number,
  connections: number,
  rate: number | undefined,
): Promise<RunFigures> {
  let sequence = 0
  const cpuBefore = server.cpuSeconds()
  const result = await autocannon({
    url: server.url,
    connections,
    duration: seconds,
    ...(rate === undefined ? {} : { overallRate: rate }),
    requests: [
      {
        setupRequest: (request) => {
          const event = benchEvent(sequence++)
          const body = JSON.stringify({ events: [event] })
          ledger.sent.add(event.id)
          return {
            ...request,
            method: 'POST',
            path: `/v1/ingest/${credentials.sourceName}`,
            headers: ingestHeaders(credentials, randomUUID(), body),
            body,
          }
        },
        onResponse: (status, body) => {
          ledger.answered++
          if (status !== 201) return
          for (const id of (JSON.parse(body) as { eventIds: string[] }).eventIds) ledger.confirmed.add(id)
        },
      },
    ],
  })
  return figuresOf(result, server.cpuSeconds() - cpuBefore)
}

/** Warm-up (not measured), then the measured run, then SIGTERM; the server must exit 0. */
async function benchServer(
  name: ServerName,
  server: ServerProcess,
  credentials: IngestCredentials,
  ledger: Ledger,
  options: Options,
  beforeStop?: () => Promise<void>,
): Promise<ServerFigures> {
  process.stdout.write(`${name}: ${options.warmupS} s warm-up, ${options.durationS} s measured ... `)
  const { warmupS, durationS, connections, rate } = options
  const warmup = await drive(server, credentials, ledger, warmupS, connections, rate)
  const measured = await drive(server, credentials, ledger, durationS, connections, rate)
  await beforeStop?.()
  const exitCode = await server.stop()
  process.stdout.write(`${Math.round(measured.requestsPerSecond)} req/s\n`)
  if (exitCode !== 0) process.stderr.write(`--- ${name} output ---\n${server.output()}\n`)
  return { server: name, warmup, measured, exitCode }
}

interface StorageCheck {
  readonly answered201: number
  readonly stored: number
  readonly storedUnanswered: number
  readonly cutOffInFlight: number
  readonly confirmedButMissing: number
  readonly storedButNeverSent: number
  readonly ok: boolean
}

/** After the service drained: every event answered 201 is stored, and nothing else but cut-off requests. */
async function checkStorage(sql: pg.Client, tenantId: string, ledger: Ledger): Promise<StorageCheck> {
  const { rows } = await sql.query<{ event_id: string }>('SELECT event_id FROM events WHERE tenant_id = $1', [
    tenantId,
  ])
  const stored = new Set(rows.map((row) => row.event_id))
  let confirmedButMissing = 0
  for (const id of ledger.confirmed) if (!stored.has(id)) confirmedButMissing++
  let storedButNeverSent = 0
  let storedUnanswered = 0
  for (const id of stored) {
    if (!ledger.sent.has(id)) storedButNeverSent++
    else if (!ledger.confirmed.has(id)) storedUnanswered++
  }
  return {
    answered201: ledger.confirmed.size,
    stored: rows.length,
    storedUnanswered,
    cutOffInFlight: ledger.cutOff,
    confirmedButMissing,
    storedButNeverSent,
    ok:
      rows.length === stored.size &&
      confirmedButMissing === 0 &&
      storedButNeverSent === 0 &&
      storedUnanswered <= ledger.cutOff &&
      rows.length === ledger.confirmed.size + storedUnanswered,
  }
}

const fixed = (value: number, digits = 1) => value.toFixed(digits)

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

function table(figures: readonly ServerFigures[]): string {
  const head = ['server', 'req/s', 'P50 ms', 'P99 ms', 'CPU µs/req', 'responses', 'non-2xx', 'errors']
  const rows = figures.map(({ server, measured: m }) => [
    server,
    fixed(m.requestsPerSecond),
    // autocannon records latency in whole milliseconds.
    String(m.latencyMs.p50),
    String(m.latencyMs.p99),
    fixed(m.cpuUsPerResponse, 0),
    String(m.responses),
    String(m.non2xx),
    String(m.errors),
  ])
  const widths = head.map((h, i) => Math.max(h.length, ...rows.map((row) => row[i]!.length)))
  const line = (cells: string[]) =>
    `| ${cells.map((cell, i) => (i === 0 ? cell.padEnd(widths[i]!) : cell.padStart(widths[i]!))).join(' | ')} |`
  const rule = `|${widths.map((w, i) => (i === 0 ? '-'.repeat(w + 2) : `${'-'.repeat(w + 1)}:`)).join('|')}|`
  return [line(head), rule, ...rows.map(line)].join('\n')
}

async function main(): Promise<number> {
  const options = readOptions()
  const database = await createTestDatabase()
  const sql = new pg.Client({ connectionString: database.url })
  const running = new Set<ServerProcess>()
  const start = async (name: ServerName, script: string, env: Record<string, string>) => {
    const server = await startServerProcess(name, script, { DATABASE_URL: database.url, ...env })
    running.add(server)
    return server
  }
  const failures: string[] = []
  const consumer = options.webhookEndpoint
    ? await BenchConsumer.start({ status: 200, verifyEvery: 100 })
    : undefined
  try {
    await sql.connect()
    const synchronousCommit = (await sql.query<{ synchronous_commit: string }>('SHOW synchronous_commit'))
      .rows[0]!.synchronous_commit
    const postgresVersion = (await sql.query<{ server_version: string }>('SHOW server_version')).rows[0]!
      .server_version
    if (synchronousCommit !== 'on') failures.push(`synchronous_commit is ${synchronousCommit}, not on`)
    await sql.query(
      `CREATE TABLE naive_events (
         tenant_id uuid NOT NULL, event_id text NOT NULL, payload jsonb NOT NULL,
         PRIMARY KEY (tenant_id, event_id))`,
    )
    const loadAverage = os.loadavg().map((value) => fixed(value, 2))
    process.stdout.write(
      `database ${database.name}: PostgreSQL ${postgresVersion}, synchronous_commit=${synchronousCommit}\n` +
        `machine: ${os.cpus().length} cores, load average before the run ${loadAverage.join(' ')}; ` +
        `commit ${buildInfo.commit}\n` +
        `load: ${options.connections} connections${options.rate === undefined ? '' : ` at ${options.rate} requests/s`}, ` +
        `single-event batches, every request new and signed; ` +
        `${consumer === undefined ? 'no webhook endpoint' : 'one webhook endpoint subscribed to every event type'}\n`,
    )

    // The ceiling and the naive server check no credentials; they get the same kind of headers all the same.
    const unchecked: IngestCredentials = {
      tenantId: randomUUID(),
      key: `pos_${randomBytes(24).toString('base64url')}`,
      sourceName: 'pos',
      signingSecret: randomBytes(32).toString('hex'),
    }
    const figures: ServerFigures[] = []
    const ceiling = await start('ceiling', 'bench/servers/ceiling.ts', {})
    figures.push(await benchServer('ceiling', ceiling, unchecked, new Ledger(), options))
    running.delete(ceiling)
    const naive = await start('naive', 'bench/servers/naive.ts', { NAIVE_TENANT_ID: unchecked.tenantId })
    figures.push(await benchServer('naive', naive, unchecked, new Ledger(), options))
    running.delete(naive)

    const adminToken = randomBytes(24).toString('hex')
    const ingest = await start('ingest', 'src/main.ts', {
      ADMIN_TOKEN: adminToken,
      ENCRYPTION_KEY: randomBytes(32).toString('base64'),
      LOG_LEVEL: 'warn',
      SHUTDOWN_READINESS_DELAY_MS: '0',
      // One API key sends every request of the bench: the per-key rate limit must not be what is measured.
      RATE_LIMIT_MAX: '10000000',
      // The consumer listens on this machine, over plain HTTP.
      ...(consumer === undefined
        ? {}
        : { WEBHOOK_ALLOW_HTTP: 'true', WEBHOOK_ALLOW_PRIVATE_TARGETS: 'true' }),
      // Tuning knobs of the write path and of delivery pass through, to compare settings run against run.
      ...Object.fromEntries(
        Object.entries(process.env).filter(
          ([name]) => name.startsWith('INGEST_') || name.startsWith('WEBHOOK_'),
        ),
      ),
    })
    const credentials = await provisionSignedSource(ingest.url, adminToken, {
      tenant: 'Bench',
      source: 'pos',
    })
    if (consumer !== undefined) {
      const endpoint = await subscribeEndpoint(ingest.url, adminToken, credentials.tenantId, consumer.url)
      consumer.secret = endpoint.secret
    }
    const ledger = new Ledger()
    let metrics = ''
    figures.push(
      await benchServer('ingest', ingest, credentials, ledger, options, async () => {
        metrics = await metricsText(ingest.url)
      }),
    )
    running.delete(ingest)
    await writeArtifact(resolve(artifactsDir, 'metrics-after-bench.prom'), metrics)
    const internals: IngestInternals = {
      meanRequestsPerCommit: histogramMean(metrics, 'ingest_group_commit_requests'),
      meanIngestMs: histogramMean(metrics, 'ingest_duration_seconds') * 1000,
    }
    const storage = await checkStorage(sql, credentials.tenantId, ledger)

    for (const { server, warmup, measured, exitCode } of figures) {
      const bad = warmup.non2xx + measured.non2xx
      const errors = warmup.errors + measured.errors
      if (bad > 0) failures.push(`${server}: ${bad} non-2xx answers ${JSON.stringify(measured.statusCodes)}`)
      if (errors > 0) failures.push(`${server}: ${errors} connection errors or timeouts`)
      if (exitCode !== 0) failures.push(`${server}: exited ${exitCode} after SIGTERM`)
    }
    if (!storage.ok) failures.push(`ingest: the stored events do not match the 201 answers`)
    const webhook = consumer && webhookFigures(consumer, storage.stored, metrics)
    if (webhook !== undefined && (webhook.signatureFailures > 0 || webhook.unreadableBodies > 0))
      failures.push(`webhook endpoint: deliveries that do not verify ${JSON.stringify(webhook)}`)

    const rps = (name: ServerName) => figures.find((f) => f.server === name)!.measured.requestsPerSecond
    const cpu = (name: ServerName) => figures.find((f) => f.server === name)!.measured.cpuUsPerResponse
    const ratios = {
      ingestToNaive: rps('ingest') / rps('naive'),
      ingestToCeiling: rps('ingest') / rps('ceiling'),
    }
    process.stdout.write(
      `\n${table(figures)}\n\n` +
        `ingest/naive ${fixed(ratios.ingestToNaive, 2)}, ingest/ceiling ${fixed(ratios.ingestToCeiling, 2)} (req/s)\n` +
        `server CPU per request: ingest ${fixed(cpu('ingest'), 0)} µs, naive ${fixed(cpu('naive'), 0)} µs, ` +
        `ceiling ${fixed(cpu('ceiling'), 0)} µs (the process's own user and system time)\n` +
        `synchronous_commit: ${synchronousCommit}\n` +
        `ingest internals (warm-up and measured): ${fixed(internals.meanRequestsPerCommit, 2)} requests per ` +
        `group commit, ${fixed(internals.meanIngestMs)} ms mean write path (ingest_duration_seconds)\n` +
        `storage check: ${storage.answered201} answered 201 (warm-up and measured), ${storage.stored} events ` +
        `stored = ${storage.answered201} + ${storage.storedUnanswered} whose request was still in flight when a ` +
        `run stopped (${storage.cutOffInFlight} were); answered 201 but not stored: ${storage.confirmedButMissing}; ` +
        `stored but never sent: ${storage.storedButNeverSent}: ${storage.ok ? 'OK' : 'FAILED'}\n` +
        (webhook === undefined
          ? ''
          : `webhook endpoint: ${webhook.delivered} of ${webhook.eventsStored} events delivered before the ` +
            `service stopped (${webhook.attemptsSucceeded} attempts succeeded by its own count), lag from ` +
            `commit P50 ${webhook.lagMs.p50} ms, P99 ${webhook.lagMs.p99} ms; ${webhook.duplicates} duplicates, ` +
            `${webhook.signaturesVerified} signatures verified, ${webhook.signatureFailures} failed\n`),
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
        synchronousCommit,
        loadAverageBefore: loadAverage,
        note: 'load generator, servers and PostgreSQL share the same cores',
      },
      load: {
        connections: options.connections,
        durationS: options.durationS,
        warmupS: options.warmupS,
        eventsPerRequest: 1,
        eventTypes: ['product.upserted', 'inventory.adjusted'],
      },
      results: figures,
      ratios,
      ingestInternals: internals,
      storageCheck: storage,
      webhookEndpoint: webhook ?? null,
      failures,
    })
    process.stdout.write(`written: ${resolve(artifactsDir, 'bench.json')}\n`)
  } catch (err) {
    failures.push(err instanceof Error ? (err.stack ?? err.message) : String(err))
    for (const server of running) process.stderr.write(`--- ${server.name} output ---\n${server.output()}\n`)
  } finally {
    for (const server of running) await server.stop().catch(() => undefined)
    await sql.end().catch(() => undefined)
    await consumer?.close()
    await database.drop()
  }
  for (const failure of failures) process.stderr.write(`FAILED: ${failure}\n`)
  return failures.length === 0 ? 0 : 1
}

process.exitCode = await main()
