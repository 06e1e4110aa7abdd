// npm run bench:write-path: what the batch write path can store on this machine with nothing in front of it.
// No HTTP, no signatures, no load generator: this process builds 500-event requests of mixed types (the batch
// mode's), validates them as the route does, then measures only while clients hand them to the service's own
// IngestService (group committer, batch writer, projections) on a fresh PostgreSQL database. Each line runs
// with one INGEST_WRITE_CONCURRENCY value; a `naive` line stores the same kind of events with the naive
// server's statement (one multi-row INSERT of raw events per request), for the floor of a durable write.
//
// Whatever HTTP adds only costs more, so the write path's events/s here bound the batch mode's from above; the
// `cores allow` column divides the machine's cores by the CPU per event (this process and PostgreSQL), the
// rate the write path could not pass even with every core its own. Lines alternate over --rounds. Prints
// figures only; exits 1 if the events stored differ from the events sent.
import { randomBytes, randomUUID } from 'node:crypto'
import os from 'node:os'
import { parseArgs } from 'node:util'
import type { IngestBody } from '@pos/contracts/events'
import pg from 'pg'
import { validateEventData } from '../src/modules/ingest/events.js'
import { type IngestRequest, IngestService } from '../src/modules/ingest/service.js'
import { type DatabaseHandle, openDatabase } from '../src/platform/database.js'
import { createLogger } from '../src/platform/logger.js'
import { migrate } from '../src/platform/migrations.js'
import { createTestDatabase } from '../test/helpers/database.js'
import { createTenant } from '../test/helpers/tenants.js'
import { mixedBatch } from './support/events.js'
import { fixed, markdownTable } from './support/load.js'
import { positiveInteger } from './support/options.js'
import { measureUsage, type Usage } from './support/usage.js'

/** Events that must wait before a second commit starts beside one being written: INGEST_WRITE_OVERLAP_EVENTS's default. */
const OVERLAP_EVENTS = 1000

interface Options {
  readonly events: number
  readonly batchSize: number
  readonly clients: number
  readonly concurrencies: readonly number[]
  readonly rounds: number
}

function readOptions(): Options {
  const { values } = parseArgs({
    options: {
      events: { type: 'string', default: '150000' },
      'batch-size': { type: 'string', default: '500' },
      clients: { type: 'string', default: '10' },
      concurrency: { type: 'string', default: '1,2' },
      rounds: { type: 'string', default: '2' },
    },
  })
  return {
    events: positiveInteger('events', values.events),
    batchSize: positiveInteger('batch-size', values['batch-size']),
    clients: positiveInteger('clients', values.clients),
    concurrencies: values.concurrency.split(',').map((value) => positiveInteger('concurrency', value)),
    rounds: positiveInteger('rounds', values.rounds),
  }
}

interface Tenant {
  readonly tenantId: string
  readonly sourceId: string
  readonly sourceName: string
}

interface LineResult {
  readonly line: string
  readonly events: number
  readonly seconds: number
  readonly usage: Usage
}

/** `count` requests of `size` new events each, validated as the ingest route validates a body. */
function buildRequests(tenant: Tenant, count: number, size: number): IngestRequest[] {
  return Array.from({ length: count }, () => {
    const validated = validateEventData(mixedBatch(size) as IngestBody['events'])
    if ('issue' in validated) throw new Error(`a generated event is invalid: ${validated.issue.message}`)
    return {
      ...tenant,
      idempotencyKey: randomUUID(),
      fingerprint: randomBytes(32).toString('hex'),
      events: validated.events,
    }
  })
}

/** Runs `clients` loops that each take the next request and wait for it to be stored. */
async function drain<T>(items: readonly T[], clients: number, store: (item: T) => Promise<void>) {
  let next = 0
  const client = async () => {
    while (next < items.length) await store(items[next++]!)
  }
  await Promise.all(Array.from({ length: clients }, client))
}

const processCpuSeconds = () => {
  const { user, system } = process.cpuUsage()
  return (user + system) / 1e6
}

async function timed(sql: pg.Client, run: () => Promise<void>): Promise<{ seconds: number; usage: Usage }> {
  const started = performance.now()
  const { usage } = await measureUsage(sql, processCpuSeconds, run)
  return { seconds: (performance.now() - started) / 1000, usage }
}

async function ingestLine(
  handle: DatabaseHandle,
  sql: pg.Client,
  requests: readonly IngestRequest[],
  options: Options,
  concurrency: number,
): Promise<LineResult> {
  const log = createLogger({ level: 'warn' })
  const service = new IngestService(handle, log, { concurrency, overlapEvents: OVERLAP_EVENTS })
  const { seconds, usage } = await timed(sql, () =>
    drain(requests, options.clients, async (request) => {
      const result = await service.record(request)
      if (result.kind !== 'created' || result.duplicateIds.length > 0) {
        throw new Error(`a request of new events was answered ${result.kind}`)
      }
    }),
  )
  const events = requests.reduce((sum, request) => sum + request.events.length, 0)
  return { line: `ingest, concurrency ${concurrency}`, events, seconds, usage }
}

async function naiveLine(
  url: string,
  sql: pg.Client,
  requests: readonly IngestRequest[],
  options: Options,
): Promise<LineResult> {
  const pool = new pg.Pool({ connectionString: url, max: options.clients })
  try {
    // The naive server's statement (bench/servers/naive.ts), its parameters built the same way.
    const { seconds, usage } = await timed(sql, () =>
      drain(requests, options.clients, async (request) => {
        const params: unknown[] = [request.tenantId]
        const rows = request.events.map((event) => {
          params.push(event.id, JSON.stringify(event))
          return `($1, $${params.length - 1}, $${params.length})`
        })
        await pool.query(
          `INSERT INTO naive_events (tenant_id, event_id, payload) VALUES ${rows.join(', ')}
           ON CONFLICT DO NOTHING RETURNING event_id`,
          params,
        )
      }),
    )
    const events = requests.reduce((sum, request) => sum + request.events.length, 0)
    return { line: 'naive', events, seconds, usage }
  } finally {
    await pool.end()
  }
}

function tableOf(results: readonly LineResult[]): string {
  const cores = os.cpus().length
  const rows = results.map(({ line, events, seconds, usage }) => {
    const serviceUs = (usage.serverS * 1e6) / events
    const databaseUs = (usage.databaseS * 1e6) / events
    return [
      line,
      fixed(events / seconds, 0),
      fixed(serviceUs),
      fixed(databaseUs),
      fixed(usage.machineIdle * 100, 0),
      fixed((cores * 1e6) / (serviceUs + databaseUs), 0),
    ]
  })
  const head = ['line', 'events/s', 'CPU µs/event', 'PG CPU µs/event', 'idle %', 'cores allow, events/s']
  return markdownTable(head, rows)
}

async function main(): Promise<void> {
  const options = readOptions()
  const database = await createTestDatabase()
  const log = createLogger({ level: 'warn' })
  const poolSize = Math.max(...options.concurrencies) + 2
  const handle = await openDatabase({ databaseUrl: database.url, dataDir: '', log, poolSize })
  const sql = new pg.Client({ connectionString: database.url, application_name: 'pos-bench-write-path' })
  let failed = false
  try {
    await migrate(handle.db)
    await sql.connect()
    await sql.query(
      `CREATE TABLE naive_events (
         tenant_id uuid NOT NULL, event_id text NOT NULL, payload jsonb NOT NULL,
         PRIMARY KEY (tenant_id, event_id))`,
    )
    const fixture = await createTenant(handle.db, { name: 'Bench write path' })
    const { rows } = await sql.query<{ id: string }>(
      'SELECT id FROM sources WHERE tenant_id = $1 AND name = $2',
      [fixture.tenantId, fixture.sourceName],
    )
    const tenant: Tenant = {
      tenantId: fixture.tenantId,
      sourceId: rows[0]!.id,
      sourceName: fixture.sourceName,
    }
    const requestsPerLine = Math.ceil(options.events / options.batchSize)
    const { rows: version } = await sql.query<{ server_version: string }>('SHOW server_version')
    process.stdout.write(
      `database ${database.name}: PostgreSQL ${version[0]!.server_version}; ${os.cpus().length} cores, ` +
        `load average before the run ${os
          .loadavg()
          .map((value) => fixed(value, 2))
          .join(' ')}; node ${process.version}\n` +
        `${requestsPerLine} requests of ${options.batchSize} mixed events per line, ${options.clients} clients, ` +
        `${options.rounds} rounds\n`,
    )

    // A warm-up: connections opened, statements prepared, the catalogue's and stores' rows created.
    await ingestLine(handle, sql, buildRequests(tenant, options.clients * 2, options.batchSize), options, 1)
    await naiveLine(database.url, sql, buildRequests(tenant, options.clients, options.batchSize), options)

    const results: LineResult[] = []
    let sent = 0
    let sentNaive = 0
    for (let round = 1; round <= options.rounds; round++) {
      for (const concurrency of options.concurrencies) {
        const requests = buildRequests(tenant, requestsPerLine, options.batchSize)
        const result = await ingestLine(handle, sql, requests, options, concurrency)
        sent += result.events
        results.push(result)
        process.stdout.write(
          `round ${round}: ${result.line}: ${fixed(result.events / result.seconds, 0)} events/s\n`,
        )
      }
      const requests = buildRequests(tenant, requestsPerLine, options.batchSize)
      const result = await naiveLine(database.url, sql, requests, options)
      sentNaive += result.events
      results.push(result)
      process.stdout.write(`round ${round}: naive: ${fixed(result.events / result.seconds, 0)} events/s\n`)
    }

    // Every event was new: each must be stored exactly once (warm-up included).
    const warmUp = options.clients * 2 * options.batchSize
    const [{ rows: stored }, { rows: storedNaive }] = await Promise.all([
      sql.query<{ n: number }>('SELECT count(*)::int AS n FROM events WHERE tenant_id = $1', [
        tenant.tenantId,
      ]),
      sql.query<{ n: number }>('SELECT count(*)::int AS n FROM naive_events'),
    ])
    const expected = sent + warmUp
    const expectedNaive = sentNaive + options.clients * options.batchSize
    failed = stored[0]!.n !== expected || storedNaive[0]!.n !== expectedNaive
    process.stdout.write(
      `\n${tableOf(results)}\n\nstorage check: events ${stored[0]!.n} stored of ${expected} sent, ` +
        `naive ${storedNaive[0]!.n} of ${expectedNaive}: ${failed ? 'FAILED' : 'OK'}\n`,
    )
  } finally {
    await sql.end().catch(() => undefined)
    await handle.close()
    await database.drop()
  }
  if (failed) process.exitCode = 1
}

await main()
