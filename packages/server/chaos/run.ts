// npm run chaos: the service's guarantees under faults, one at a time, while tills send signed ingest load.
// Three real replicas on one fresh database (through a proxy the suite cuts and stalls) and a private Redis
// (which it stops); replicas are SIGKILLed and restarted, and finally restarted one by one with SIGTERM. Then
// the tills' ledgers are checked against the database and the webhook consumers: nothing told stored may be
// missing, nothing may be stored or counted twice. Prints the table, writes artifacts/chaos.json, and exits 1
// on any violation. Options: --duration <s> (the least time under load), --seed <n> (every random choice of
// the run: the fault schedule, the events, the tills' replays and regroups), --short (the CI run: about a
// minute, every fault kind once, shorter outages), --out <file>. What it checks: docs/reliability.md.
import { randomInt } from 'node:crypto'
import { dirname, resolve } from 'node:path'
import { setTimeout as sleep } from 'node:timers/promises'
import { parseArgs } from 'node:util'
import { artifactsDir, userPath, writeArtifact } from '../bench/support/artifacts.js'
import { adminPost, provisionSignedSource } from '../bench/support/ingest-client.js'
import { positiveInteger } from '../bench/support/options.js'
import { type Random, seededRandom } from '../bench/support/random.js'
import { BenchConsumer, subscribeEndpoint } from '../bench/support/webhook-consumer.js'
import { waitFor } from '../test/helpers/wait.js'
import { type ChaosVerdict, checkChaos, type FaultRecord } from './checker.js'
import { DatabaseReader } from './facts.js'
import {
  cutPostgres,
  killReplica,
  type LimitProbe,
  rollingRestart,
  stallPostgres,
  stopRedis,
} from './faults.js'
import { Fleet, READINESS_TIMEOUT_MS, REPLICAS } from './fleet.js'
import { Till } from './load.js'
import { formatVerdict, sameRunAgain } from './table.js'

interface Plan {
  readonly short: boolean
  readonly seed: number
  readonly durationMs: number
  readonly tills: number
  readonly kills: number
  readonly outageMs: number
  readonly stallMs: number
  readonly stalls: number
  /** Load between two faults. */
  readonly gapMs: number
  /** How long webhook deliveries may take to catch up once the load stops. */
  readonly drainMs: number
  readonly out: string
}

function readPlan(): Plan {
  const { values } = parseArgs({
    options: {
      duration: { type: 'string' },
      seed: { type: 'string' },
      short: { type: 'boolean', default: false },
      out: { type: 'string' },
    },
  })
  const short = values.short
  const seed = values.seed === undefined ? randomInt(2 ** 31) : Number(values.seed)
  // The generator keeps 32 bits of its seed: a larger one would silently replay a smaller one's run.
  if (!Number.isSafeInteger(seed) || seed < 0 || seed >= 2 ** 32)
    throw new Error('--seed must be an integer from 0 to 4294967295')
  const durationS =
    values.duration === undefined ? (short ? 60 : 300) : positiveInteger('duration', values.duration)
  return {
    short,
    seed,
    durationMs: durationS * 1000,
    tills: short ? 4 : 6,
    kills: short ? 1 : 5,
    outageMs: short ? 5000 : 10_000,
    stallMs: 3000,
    stalls: short ? 1 : 3,
    gapMs: short ? 3000 : 10_000,
    drainMs: short ? 60_000 : 120_000,
    out: values.out === undefined ? resolve(artifactsDir, 'chaos.json') : userPath(values.out),
  }
}

type Fault = (fleet: Fleet) => Promise<FaultRecord>

/** The schedule: kills (each replica at least once when there are three or more) between the other faults. */
function schedule(plan: Plan, random: Random, probe: LimitProbe): Fault[] {
  const slots = random.shuffled([0, 1, 2])
  const kills: Fault[] = Array.from({ length: plan.kills }, (_, i) => {
    const slot = i < REPLICAS ? slots[i]! : random.below(REPLICAS)
    return (fleet) => killReplica(fleet, slot)
  })
  const others: Fault[] = [
    (fleet) => cutPostgres(fleet, plan.outageMs),
    (fleet) => stopRedis(fleet, plan.outageMs, probe),
    ...Array.from({ length: plan.stalls }, (): Fault => (fleet) => stallPostgres(fleet, plan.stallMs)),
  ]
  const interleaved: Fault[] = []
  while (kills.length > 0 || others.length > 0) {
    const kill = kills.shift()
    if (kill) interleaved.push(kill)
    const other = others.shift()
    if (other) interleaved.push(other)
  }
  return [...interleaved, (fleet) => rollingRestart(fleet)]
}

/** A tenant of its own with a small rate limit and a read key. */
async function provisionLimitProbe(url: string, adminToken: string): Promise<LimitProbe> {
  const limit = 10
  const tenant = await adminPost(url, adminToken, '/v1/admin/tenants', { name: 'chaos fleet limit' })
  const key = await adminPost(url, adminToken, `/v1/admin/tenants/${String(tenant.id)}/api-keys`, {
    name: 'chaos-limit',
    scopes: ['read'],
  })
  const response = await fetch(`${url}/v1/admin/tenants/${String(tenant.id)}/rate-limit`, {
    method: 'PUT',
    headers: { authorization: `Bearer ${adminToken}`, 'content-type': 'application/json' },
    body: JSON.stringify({ max: limit, windowMs: 60_000 }),
  })
  if (response.status !== 200)
    throw new Error(`PUT rate-limit answered ${response.status}: ${await response.text()}`)
  return { key: String(key.key), limit }
}

const processStartedAt = Date.now()
/** A line of progress, stamped with the seconds since the suite started. */
const progress = (line: string) =>
  process.stdout.write(`[${((Date.now() - processStartedAt) / 1000).toFixed(1).padStart(6)} s] ${line}\n`)
const say = (line: string) => process.stdout.write(`${line}\n`)

async function main(): Promise<number> {
  const plan = readPlan()
  const random = seededRandom(plan.seed)
  progress(
    `chaos: seed ${plan.seed}, ${plan.short ? 'short' : 'full'} run, at least ${plan.durationMs / 1000} s of load`,
  )
  const runStartedAt = Date.now()
  const fleet = await Fleet.start()
  const consumers: BenchConsumer[] = []
  // Ctrl-C (or CI's timeout) must not leave replicas running or the database behind.
  const interrupted = (signal: NodeJS.Signals) => {
    progress(`${signal}: stopping the replicas and dropping the database`)
    void fleet.close().finally(() => process.exit(130))
  }
  process.once('SIGINT', interrupted).once('SIGTERM', interrupted)
  try {
    const { adminToken } = fleet.environment
    const adminUrl = fleet.urls[0]!
    progress(
      `three replicas ready in ${((Date.now() - runStartedAt) / 1000).toFixed(1)} s: ${fleet.urls.join(' ')}, ` +
        `database ${fleet.environment.database.name}`,
    )
    const tills: Till[] = []
    for (let i = 0; i < plan.tills; i++) {
      const credentials = await provisionSignedSource(adminUrl, adminToken, {
        tenant: `chaos till ${i}`,
        source: 'till',
      })
      const consumer = await BenchConsumer.start({ status: 200, verifyEvery: 10 })
      consumers.push(consumer)
      consumer.secret = (
        await subscribeEndpoint(adminUrl, adminToken, credentials.tenantId, consumer.url)
      ).secret
      tills.push(
        new Till(`till-${i}`, i, random.below(2 ** 31), credentials, fleet, {
          maxAttempts: 60,
          attemptTimeoutMs: 30_000,
          thinkMs: 200,
          replayShare: 0.1,
          regroupShare: 0.1,
        }),
      )
    }
    const probe = await provisionLimitProbe(adminUrl, adminToken)

    let loading = true
    const loadStartedAt = Date.now()
    const load = Promise.all(tills.map((till) => till.run(() => loading)))
    const faults: FaultRecord[] = []
    for (const fault of schedule(plan, random, probe)) {
      await sleep(plan.gapMs)
      const record = await fault(fleet)
      faults.push(record)
      const recovered = record.recoveryMs === null ? 'never' : `${(record.recoveryMs / 1000).toFixed(1)} s`
      progress(
        `${record.label}: recovery ${recovered}${record.violations.length > 0 ? `; ${record.violations.join('; ')}` : ''}`,
      )
    }
    await sleep(Math.max(plan.gapMs, loadStartedAt + plan.durationMs - Date.now()))
    loading = false
    await load
    const loadMs = Date.now() - loadStartedAt
    progress(`load stopped after ${(loadMs / 1000).toFixed(1)} s; waiting for webhook deliveries`)

    const tenantIds = tills.map((till) => till.ledger.tenantId)
    const reader = await DatabaseReader.open(fleet.environment.database.url)
    try {
      const drainStartedAt = Date.now()
      await waitFor(
        async () => {
          const stored = await reader.eventIds(tenantIds)
          return tenantIds.every((tenantId, i) => consumers[i]!.missing(stored.get(tenantId) ?? []) === 0)
        },
        { description: 'every stored event delivered', timeoutMs: plan.drainMs, intervalMs: 500 },
      ).catch(() => undefined)
      const drainMs = Date.now() - drainStartedAt
      const stored = await reader.facts(tenantIds)
      const verdict = checkChaos({
        runStartedAt,
        ledgers: tills.map((till) => till.ledger),
        stored,
        faults,
        delivered: new Map(tenantIds.map((id, i) => [id, new Set(consumers[i]!.arrivals.keys())])),
        hangLimitMs: READINESS_TIMEOUT_MS,
        unexpectedExits: await keepUnexpectedExits(fleet, plan, runStartedAt),
      })
      await report(plan, verdict, { loadMs, drainMs, consumers })
      return verdict.ok ? 0 : 1
    } finally {
      await reader.close()
    }
  } finally {
    progress('stopping the replicas, dropping the database')
    await fleet.close()
    await Promise.all(consumers.map((consumer) => consumer.close()))
    progress('done')
  }
}

/** Each replica that exited on its own, in words; its last output goes to artifacts/ beside the summary. */
async function keepUnexpectedExits(fleet: Fleet, plan: Plan, runStartedAt: number): Promise<string[]> {
  const described: string[] = []
  for (const exit of fleet.unexpectedExits) {
    const file = resolve(dirname(plan.out), `chaos-${exit.name}.log`)
    await writeArtifact(file, exit.output)
    described.push(
      `${exit.name} exited ${exit.code} at ${((exit.at - runStartedAt) / 1000).toFixed(1)} s (output: ${file})`,
    )
  }
  return described
}

async function report(
  plan: Plan,
  verdict: ChaosVerdict,
  run: { loadMs: number; drainMs: number; consumers: readonly BenchConsumer[] },
): Promise<void> {
  const webhooks = {
    received: run.consumers.reduce((sum, c) => sum + c.received, 0),
    redeliveries: run.consumers.reduce((sum, c) => sum + c.duplicates, 0),
    signaturesVerified: run.consumers.reduce((sum, c) => sum + c.verified, 0),
    signatureFailures: run.consumers.flatMap((c) => c.signatureFailures).slice(0, 5),
  }
  const signaturesOk = webhooks.signatureFailures.length === 0
  const ok = verdict.ok && signaturesOk
  say('')
  say(formatVerdict(verdict, plan))
  say(
    `webhooks: ${webhooks.received} deliveries (${webhooks.redeliveries} again), ${webhooks.signaturesVerified} signatures verified, ` +
      `${webhooks.signatureFailures.length} failed; drain ${(run.drainMs / 1000).toFixed(1)} s`,
  )
  await writeArtifact(plan.out, {
    date: new Date().toISOString(),
    seed: plan.seed,
    short: plan.short,
    again: sameRunAgain(plan),
    loadS: Math.round(run.loadMs / 100) / 10,
    plan,
    ...verdict,
    webhooks,
    ok,
  })
  progress(`written: ${plan.out}`)
  if (!signaturesOk)
    say(`chaos suite FAILED: webhook signatures did not verify: ${webhooks.signatureFailures.join(', ')}`)
}

try {
  process.exitCode = await main()
} catch (err) {
  process.stderr.write(
    `chaos suite failed: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`,
  )
  process.exitCode = 1
}
