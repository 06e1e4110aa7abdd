// npm run bench:scale: whether reads and writes stay flat as data grows. Two PostgreSQL databases are seeded
// (support/scale-seed.ts): one whose large tenant holds --base-events events (10 thousand) and one whose large
// tenant holds --events (5 million), each beside --small-tenants small ones. One service process runs on each,
// in the production configuration (PostgreSQL, Redis under a key prefix of its own, rate limiting on), and both
// are measured in alternating rounds, so that whatever else loads the machine falls on both alike: a change
// feed page in the middle of the feed and at its tail, an order looked up by id, a stock level list page, and a
// single-event signed ingest. Both large tenants spread over the same stores and SKUs: only the volume differs.
// Prints P50 and P99 of each at both sizes with the ratio, which must stay within --max-ratio (1.5) for P99:
// exit 1 otherwise. Also the disk each table takes and the cost per million events.
// Writes artifacts/bench-scale.json. --large-database and --base-database reuse databases seeded before
// (npm run bench:seed); --keep keeps the ones this run seeds.
import { randomBytes, randomInt, randomUUID } from 'node:crypto'
import os from 'node:os'
import { resolve } from 'node:path'
import { parseArgs } from 'node:util'
import pg from 'pg'
import { Pool } from 'undici'
import { feedCursor } from '../src/modules/events/service.js'
import { buildInfo } from '../src/platform/build-info.js'
import { CursorSeal, idCursor } from '../src/platform/pagination.js'
import { Secrets } from '../src/platform/secrets.js'
import { TEST_ENCRYPTION_KEY } from '../test/helpers/secrets.js'
import { artifactsDir, writeArtifact } from './support/artifacts.js'
import { benchEvent } from './support/events.js'
import { adminPost, type IngestCredentials, ingestHeaders } from './support/ingest-client.js'
import { positiveInteger } from './support/options.js'
import { createSeededDatabase } from './support/scale-database.js'
import { keySpreadOf } from './support/scale-seed.js'
import { type ServerProcess, startServerProcess } from './support/server-process.js'

interface Options {
  readonly events: number
  readonly baseEvents: number
  readonly smallTenants: number
  readonly smallEvents: number
  readonly rounds: number
  readonly durationS: number
  readonly connections: number
  readonly maxRatio: number
  readonly largeDatabase: string | undefined
  readonly baseDatabase: string | undefined
  readonly keep: boolean
}

function readOptions(): Options {
  const { values } = parseArgs({
    options: {
      events: { type: 'string', default: '5000000' },
      'base-events': { type: 'string', default: '10000' },
      'small-tenants': { type: 'string', default: '1000' },
      'small-events': { type: 'string', default: '50' },
      rounds: { type: 'string', default: '3' },
      duration: { type: 'string', default: '5' },
      connections: { type: 'string', default: '4' },
      'max-ratio': { type: 'string', default: '1.5' },
      'large-database': { type: 'string' },
      'base-database': { type: 'string' },
      keep: { type: 'boolean', default: false },
    },
  })
  const maxRatio = Number(values['max-ratio'])
  if (!(maxRatio >= 1)) throw new Error('--max-ratio must be a number of at least 1')
  return {
    events: positiveInteger('events', values.events),
    baseEvents: positiveInteger('base-events', values['base-events']),
    smallTenants: positiveInteger('small-tenants', values['small-tenants']),
    smallEvents: positiveInteger('small-events', values['small-events']),
    rounds: positiveInteger('rounds', values.rounds),
    durationS: positiveInteger('duration', values.duration),
    connections: positiveInteger('connections', values.connections),
    maxRatio,
    largeDatabase: values['large-database'],
    baseDatabase: values['base-database'],
    keep: values.keep,
  }
}

/** A database to measure: seeded by this run (and dropped after, unless kept) or seeded before. */
interface SizedDatabase {
  readonly label: string
  readonly url: string
  readonly seedSeconds: number | undefined
  drop(): Promise<void>
}

async function sizedDatabase(
  label: string,
  existing: string | undefined,
  events: number,
  options: Options,
): Promise<SizedDatabase> {
  if (existing !== undefined) return { label, url: existing, seedSeconds: undefined, drop: async () => {} }
  process.stdout.write(`seeding ${label}: ${events} events beside ${options.smallTenants} small tenants\n`)
  const seeded = await createSeededDatabase({
    events,
    smallTenants: options.smallTenants,
    eventsPerSmallTenant: options.smallEvents,
    // Both sizes spread over the same stores and SKUs: only the volume differs.
    spread: keySpreadOf(options.events),
    log: (line) => process.stdout.write(`  ${line}\n`),
  })
  process.stdout.write(`  seeded in ${seeded.seconds.toFixed(0)} s: ${seeded.database.url}\n`)
  return {
    label,
    url: seeded.database.url,
    seedSeconds: seeded.seconds,
    drop: () => (options.keep ? Promise.resolve() : seeded.database.drop()),
  }
}

/** What the bench needs to know of a seeded database, read from it directly. */
interface DatasetFacts {
  readonly tenantId: string
  readonly events: number
  readonly orders: number
  readonly allEvents: number
  /** Feed positions of events in the middle third of the large tenant's feed. */
  readonly middle: readonly { txId: string; seq: number }[]
  /** The position 50 events before the end of the feed as seeded. */
  readonly tail: { txId: string; seq: number }
  readonly stockLevelIds: { readonly min: number; readonly max: number }
  readonly tables: Record<string, number>
  readonly databaseBytes: number
}

async function factsOf(url: string): Promise<DatasetFacts> {
  const client = new pg.Client({ connectionString: url })
  await client.connect()
  try {
    const one = async <Row>(text: string, values: unknown[] = []) =>
      (await client.query(text, values)).rows[0] as Row
    const tenant = await one<{ id: string }>(`SELECT id FROM tenants WHERE name = 'Large tenant'`)
    if (tenant === undefined) throw new Error(`${url} holds no seeded large tenant (npm run bench:seed)`)
    const counts = await one<{ events: string; seq_min: string; seq_max: string; all: string }>(
      `SELECT count(*) FILTER (WHERE tenant_id = $1) AS events, min(seq) FILTER (WHERE tenant_id = $1) AS seq_min,
         max(seq) FILTER (WHERE tenant_id = $1) AS seq_max, count(*) AS all FROM events`,
      [tenant.id],
    )
    const orders = await one<{ n: string }>('SELECT count(*) AS n FROM orders WHERE tenant_id = $1', [
      tenant.id,
    ])
    // The seed appends the large tenant's events after the small tenants', one seq after the other.
    const third = Math.floor((Number(counts.seq_max) - Number(counts.seq_min)) / 3)
    const seqs = Array.from({ length: 200 }, () => Number(counts.seq_min) + third + randomInt(third + 1))
    const middle = await client.query<{ tx_id: string; seq: string }>(
      'SELECT tx_id::text, seq FROM events WHERE tenant_id = $1 AND seq = ANY($2)',
      [tenant.id, seqs],
    )
    const tail = await one<{ tx_id: string; seq: string }>(
      'SELECT tx_id::text, seq FROM events WHERE tenant_id = $1 ORDER BY tx_id DESC, seq DESC OFFSET 50 LIMIT 1',
      [tenant.id],
    )
    const levels = await one<{ min: string; max: string }>(
      'SELECT min(id), max(id) FROM stock_levels WHERE tenant_id = $1',
      [tenant.id],
    )
    const tables = await client.query<{ name: string; bytes: string }>(
      `SELECT relname AS name, pg_total_relation_size(oid) AS bytes FROM pg_class
       WHERE relkind = 'r' AND relnamespace = 'public'::regnamespace ORDER BY pg_total_relation_size(oid) DESC`,
    )
    const size = await one<{ bytes: string }>('SELECT pg_database_size(current_database()) AS bytes')
    return {
      tenantId: tenant.id,
      events: Number(counts.events),
      orders: Number(orders.n),
      allEvents: Number(counts.all),
      middle: middle.rows.map((row) => ({ txId: row.tx_id, seq: Number(row.seq) })),
      tail: { txId: tail.tx_id, seq: Number(tail.seq) },
      stockLevelIds: { min: Number(levels.min), max: Number(levels.max) },
      tables: Object.fromEntries(tables.rows.map((row) => [row.name, Number(row.bytes)])),
      databaseBytes: Number(size.bytes),
    }
  } finally {
    await client.end()
  }
}

/** One request of an operation: method, path and, for ingest, body and headers. */
interface BenchRequest {
  readonly method: 'GET' | 'POST'
  readonly path: string
  readonly headers: Record<string, string>
  readonly body?: string
}

const OPERATIONS = [
  'feed page, middle',
  'feed page, tail',
  'order by id',
  'inventory page',
  'ingest, 1 event',
] as const
type Operation = (typeof OPERATIONS)[number]

/** A service on one seeded database, with what it takes to call it. */
interface Target {
  readonly label: string
  readonly server: ServerProcess
  readonly pool: Pool
  readonly facts: DatasetFacts
  readonly requestOf: Record<Operation, () => BenchRequest>
  readonly samples: Record<Operation, number[]>
  readonly cpuSeconds: Record<Operation, number>
}

const PAGE = 100
const REDIS_URL = process.env.TEST_REDIS_URL ?? 'redis://127.0.0.1:6379'

async function startTarget(database: SizedDatabase, facts: DatasetFacts): Promise<Target> {
  const adminToken = randomBytes(24).toString('hex')
  // A fixed key, so that a database seeded once can be measured again: the signed source of an earlier run is
  // still there, and start-up refuses a key that cannot decrypt it.
  const encryptionKey = Buffer.from(TEST_ENCRYPTION_KEY, 'base64')
  const server = await startServerProcess(`service on ${database.label}`, 'src/main.ts', {
    DATABASE_URL: database.url,
    REDIS_URL,
    REDIS_KEY_PREFIX: `bench-scale:${randomUUID()}:`,
    ADMIN_TOKEN: adminToken,
    ENCRYPTION_KEY: encryptionKey.toString('base64'),
    LOG_LEVEL: 'warn',
    SHUTDOWN_READINESS_DELAY_MS: '0',
    // One API key sends every request of the bench: the per-key rate limit must not be what is measured.
    RATE_LIMIT_MAX: '10000000',
  })
  const tenantPath = `/v1/admin/tenants/${facts.tenantId}`
  const apiKey = await adminPost(server.url, adminToken, `${tenantPath}/api-keys`, {
    name: 'bench-scale',
    scopes: ['read', 'ingest'],
  })
  const signingSecret = randomBytes(32).toString('hex')
  const sourceName = `bench-${randomBytes(4).toString('hex')}`
  await adminPost(server.url, adminToken, `${tenantPath}/sources`, {
    name: sourceName,
    kind: 'sdk',
    signingSecret,
  })
  const credentials: IngestCredentials = {
    tenantId: facts.tenantId,
    key: String(apiKey.key),
    sourceName,
    signingSecret,
  }
  // Cursors sealed as the service seals them, so that a page can start anywhere without walking there.
  const seal = CursorSeal.of(new Secrets(encryptionKey))
  const feed = feedCursor(seal)
  const inventory = idCursor('inventory', seal)
  const read = { authorization: `Bearer ${credentials.key}` }
  const get = (path: string): BenchRequest => ({ method: 'GET', path, headers: read })
  const { min, max } = facts.stockLevelIds
  let sequence = 0
  const requestOf: Record<Operation, () => BenchRequest> = {
    'feed page, middle': () =>
      get(`/v1/events?limit=${PAGE}&after=${feed.encode(facts.middle[randomInt(facts.middle.length)]!)}`),
    'feed page, tail': () => get(`/v1/events?limit=${PAGE}&after=${feed.encode(facts.tail)}`),
    'order by id': () => get(`/v1/orders/ord-${randomInt(facts.orders)}`),
    'inventory page': () =>
      get(
        `/v1/inventory?limit=${PAGE}&after=${inventory.encode(min + randomInt(Math.max(1, max - min - PAGE)))}`,
      ),
    'ingest, 1 event': () => {
      const body = JSON.stringify({ events: [benchEvent(sequence++)] })
      return {
        method: 'POST',
        path: `/v1/ingest/${sourceName}`,
        headers: ingestHeaders(credentials, randomUUID(), body),
        body,
      }
    },
  }
  const perOperation = <T>(value: () => T) =>
    Object.fromEntries(OPERATIONS.map((operation) => [operation, value()])) as Record<Operation, T>
  return {
    label: database.label,
    server,
    pool: new Pool(server.url, { connections: 64 }),
    facts,
    requestOf,
    samples: perOperation((): number[] => []),
    cpuSeconds: perOperation(() => 0),
  }
}

/** Sends one operation's requests from `connections` loops for `seconds`, recording each latency in ms. */
async function measure(
  target: Target,
  operation: Operation,
  seconds: number,
  connections: number,
): Promise<void> {
  const deadline = performance.now() + seconds * 1000
  const cpuBefore = target.server.cpuSeconds()
  const loop = async () => {
    while (performance.now() < deadline) {
      const request = target.requestOf[operation]()
      const started = performance.now()
      const response = await target.pool.request({
        method: request.method,
        path: request.path,
        headers: request.headers,
        ...(request.body === undefined ? {} : { body: request.body }),
      })
      const text = await response.body.text()
      const elapsed = performance.now() - started
      const expected = request.method === 'POST' ? 201 : 200
      if (response.statusCode !== expected) {
        throw new Error(
          `${target.label}: ${operation} ${request.path} answered ${response.statusCode}: ${text}`,
        )
      }
      target.samples[operation].push(elapsed)
    }
  }
  await Promise.all(Array.from({ length: connections }, loop))
  target.cpuSeconds[operation] += target.server.cpuSeconds() - cpuBefore
}

function percentile(sorted: readonly number[], p: number): number {
  if (sorted.length === 0) return Number.NaN
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)]!
}

interface OperationFigures {
  readonly requests: number
  readonly p50Ms: number
  readonly p99Ms: number
  /** CPU time of the service process per request, in microseconds. */
  readonly cpuUsPerRequest: number
}

function figuresOf(target: Target, operation: Operation): OperationFigures {
  const sorted = [...target.samples[operation]].sort((a, b) => a - b)
  return {
    requests: sorted.length,
    p50Ms: percentile(sorted, 50),
    p99Ms: percentile(sorted, 99),
    cpuUsPerRequest: (target.cpuSeconds[operation] * 1e6) / Math.max(1, sorted.length),
  }
}

const mib = (bytes: number) => bytes / 2 ** 20
const pad = (text: string, width: number) => text.padEnd(width)
const num = (value: number, digits = 2) => value.toFixed(digits).padStart(8)

async function main(): Promise<number> {
  const options = readOptions()
  const startedAt = new Date()
  const loadBefore = os.loadavg()
  const databases: SizedDatabase[] = []
  const targets: Target[] = []
  try {
    databases.push(await sizedDatabase('base', options.baseDatabase, options.baseEvents, options))
    databases.push(await sizedDatabase('large', options.largeDatabase, options.events, options))
    const facts = await Promise.all(databases.map((database) => factsOf(database.url)))
    for (let i = 0; i < databases.length; i++) targets.push(await startTarget(databases[i]!, facts[i]!))
    const [base, large] = targets as [Target, Target]
    process.stdout.write(
      `measuring: ${options.rounds} rounds of ${options.durationS} s per operation and size, ` +
        `${options.connections} connections; large tenant of ${base.facts.events} and of ${large.facts.events} events\n`,
    )
    // A short warm-up of each operation on each service, not measured: connections, prepared statements, caches.
    for (const target of targets) {
      for (const operation of OPERATIONS) await measure(target, operation, 1, options.connections)
      for (const operation of OPERATIONS) {
        target.samples[operation].length = 0
        target.cpuSeconds[operation] = 0
      }
    }
    for (let round = 1; round <= options.rounds; round++) {
      for (const operation of OPERATIONS) {
        // Alternate which size goes first, so that neither always follows the other.
        const order = round % 2 === 1 ? [base, large] : [large, base]
        for (const target of order) await measure(target, operation, options.durationS, options.connections)
      }
      process.stdout.write(`  round ${round} of ${options.rounds} done\n`)
    }
    const loadAfter = os.loadavg()

    const rows = OPERATIONS.map((operation) => {
      const small = figuresOf(base, operation)
      const big = figuresOf(large, operation)
      return {
        operation,
        base: small,
        large: big,
        p50Ratio: big.p50Ms / small.p50Ms,
        p99Ratio: big.p99Ms / small.p99Ms,
      }
    })
    const failures = rows.filter((row) => !(row.p99Ratio <= options.maxRatio))
    const title = (n: number) =>
      n >= 1e6
        ? `${(n / 1e6).toLocaleString('en', { maximumFractionDigits: 2 })}M events`
        : `${(n / 1e3).toLocaleString('en', { maximumFractionDigits: 1 })}k events`
    process.stdout.write(
      `\n${pad('operation', 20)} | ${pad(`P50 / P99 ms at ${title(base.facts.events)}`, 30)} | ` +
        `${pad(`P50 / P99 ms at ${title(large.facts.events)}`, 30)} | P99 ratio | CPU us/req (base, large)\n`,
    )
    for (const row of rows) {
      process.stdout.write(
        `${pad(row.operation, 20)} | ${num(row.base.p50Ms)} / ${num(row.base.p99Ms)}            | ` +
          `${num(row.large.p50Ms)} / ${num(row.large.p99Ms)}            | ${num(row.p99Ratio)}  | ` +
          `${row.base.cpuUsPerRequest.toFixed(0)}, ${row.large.cpuUsPerRequest.toFixed(0)}\n`,
      )
    }

    // The disk the large tenant's events cost: what the large database holds beyond the base one, per million
    // events more, so that the small tenants and the empty tables count in neither.
    const extraEvents = large.facts.allEvents - base.facts.allEvents
    const perMillion = (bytesLarge: number, bytesBase: number) =>
      extraEvents > 0 ? ((bytesLarge - bytesBase) * 1e6) / extraEvents : Number.NaN
    const tables = Object.keys(large.facts.tables)
      .map((name) => ({
        table: name,
        baseBytes: base.facts.tables[name] ?? 0,
        largeBytes: large.facts.tables[name]!,
        bytesPerMillionEvents: perMillion(large.facts.tables[name]!, base.facts.tables[name] ?? 0),
      }))
      .filter((row) => row.largeBytes > 64 * 1024)
    const database = {
      baseBytes: base.facts.databaseBytes,
      largeBytes: large.facts.databaseBytes,
      bytesPerMillionEvents: perMillion(large.facts.databaseBytes, base.facts.databaseBytes),
    }
    process.stdout.write(
      `\n${pad('disk', 20)} | ${pad('base MiB', 10)} | ${pad('large MiB', 10)} | MiB per million events\n`,
    )
    for (const row of [...tables, { table: 'whole database', ...database }]) {
      process.stdout.write(
        `${pad(row.table, 20)} | ${num(mib(row.baseBytes), 1)}   | ${num(mib(row.largeBytes), 1)}   | ` +
          `${num(mib(row.bytesPerMillionEvents), 1)}\n`,
      )
    }
    process.stdout.write(
      `\nload average ${loadBefore.map((n) => n.toFixed(2)).join(' ')} before, ` +
        `${loadAfter.map((n) => n.toFixed(2)).join(' ')} after; ${os.cpus().length} cores\n`,
    )
    const path = resolve(artifactsDir, 'bench-scale.json')
    await writeArtifact(path, {
      startedAt: startedAt.toISOString(),
      build: buildInfo,
      node: process.version,
      machine: { cores: os.cpus().length, loadAverageBefore: loadBefore, loadAverageAfter: loadAfter },
      options: { ...options, largeDatabase: undefined, baseDatabase: undefined },
      sizes: targets.map((target, i) => ({
        label: target.label,
        largeTenantEvents: target.facts.events,
        largeTenantOrders: target.facts.orders,
        allEvents: target.facts.allEvents,
        seedSeconds: databases[i]!.seedSeconds ?? null,
      })),
      operations: rows,
      disk: { tables, database },
      maxRatio: options.maxRatio,
      passed: failures.length === 0,
    })
    process.stdout.write(`figures written to ${path}\n`)
    for (const row of failures) {
      process.stdout.write(
        `FAIL: ${row.operation} P99 grew ${row.p99Ratio.toFixed(2)}x from ${title(base.facts.events)} to ` +
          `${title(large.facts.events)} (at most ${options.maxRatio}x)\n`,
      )
    }
    return failures.length === 0 ? 0 : 1
  } finally {
    for (const target of targets) {
      await target.pool.close()
      const code = await target.server.stop().catch((err: unknown) => String(err))
      if (code !== 0)
        process.stderr.write(`${target.server.name} exited with ${code}:\n${target.server.output()}\n`)
    }
    for (const database of databases) await database.drop()
  }
}

process.exitCode = await main()
