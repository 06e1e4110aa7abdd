// The faults the chaos suite injects, one at a time, each lifted before the next: SIGKILL of a replica, a
// PostgreSQL cut and stalls through the proxy, the private Redis stopped, and a rolling SIGTERM restart. Each
// measures how long the fleet took to be ready again and checks what must hold while it is on.
import { setTimeout as sleep } from 'node:timers/promises'
import { metricsText, sampleValue } from '../bench/support/prometheus.js'
import type { StallProxy } from '../test/helpers/stall-proxy.js'
import { waitFor } from '../test/helpers/wait.js'
import type { FaultRecord } from './checker.js'
import { type Fleet, READINESS_TIMEOUT_MS, REPLICAS } from './fleet.js'

/** How long the fleet may take to be ready again after a fault before the suite calls it unrecovered. */
const RECOVERY_DEADLINE_MS = 120_000
/** Scheduling slack on a loaded machine, on top of the readiness timeout, before a probe counts as hung. */
const PROBE_SLACK_MS = 1000

/** A tenant with a small rate limit of its own and a read key, for the fleet limit check after Redis is back. */
export interface LimitProbe {
  readonly key: string
  readonly limit: number
}

interface Readiness {
  readonly status: number | 'error'
  readonly latencyMs: number
  readonly redis: string | undefined
}

async function readiness(url: string): Promise<Readiness> {
  const started = Date.now()
  try {
    const response = await fetch(`${url}/readyz`, { signal: AbortSignal.timeout(30_000) })
    const body = (await response.json()) as { checks?: { redis?: { status?: string } } }
    return { status: response.status, latencyMs: Date.now() - started, redis: body.checks?.redis?.status }
  } catch {
    return { status: 'error', latencyMs: Date.now() - started, redis: undefined }
  }
}

/**
 * Ms from `since` until every replica's readiness passes `ready`; null when one never did, and then `notes`
 * gets what the last check saw, replica by replica.
 */
async function recovery(
  fleet: Fleet,
  since: number,
  ready: (r: Readiness) => boolean,
  notes: string[],
): Promise<number | null> {
  let seen = ''
  try {
    await waitFor(
      async () => {
        const urls = fleet.urls
        const states = await Promise.all(urls.map(readiness))
        seen = `${urls.length} replicas up; ${states.map((r) => `${r.status} redis ${r.redis}`).join(', ')}`
        return urls.length === REPLICAS && states.every(ready)
      },
      { description: 'every replica to be ready again', timeoutMs: RECOVERY_DEADLINE_MS, intervalMs: 100 },
    )
    return Date.now() - since
  } catch {
    notes.push(`not recovered: ${seen}`)
    return null
  }
}

const readyAndRedisOk = (r: Readiness) => r.status === 200 && r.redis === 'ok'

export async function killReplica(fleet: Fleet, slot: number): Promise<FaultRecord> {
  const startedAt = Date.now()
  await fleet.kill(slot)
  const endedAt = Date.now()
  const violations: string[] = []
  const notes = ['recovery: from the kill until the new process and the fleet are ready']
  let recoveryMs: number | null = null
  try {
    await fleet.start(slot)
    recoveryMs = await recovery(fleet, startedAt, readyAndRedisOk, notes)
  } catch (err) {
    violations.push(`the replica did not start again: ${(err as Error).message.split('\n')[0]}`)
  }
  return {
    kind: 'kill',
    label: `SIGKILL replica ${slot}, restart`,
    startedAt,
    endedAt,
    recoveryMs,
    notes,
    violations,
  }
}

/** What a fault saw while it was on, for its record. */
interface FaultSeen {
  readonly notes: string[]
  readonly violations: string[]
}

/**
 * A PostgreSQL fault through the proxy: `inject` turns it on at `startedAt` and lifts it; the fleet must then
 * be ready again by itself.
 */
async function postgresFault(
  fleet: Fleet,
  fault: Pick<FaultRecord, 'kind' | 'label'>,
  inject: (proxy: StallProxy, startedAt: number) => Promise<FaultSeen>,
): Promise<FaultRecord> {
  const startedAt = Date.now()
  const { notes, violations } = await inject(fleet.environment.proxy, startedAt)
  const endedAt = Date.now()
  const recoveryMs = await recovery(fleet, endedAt, (r) => r.status === 200, notes)
  return { ...fault, startedAt, endedAt, recoveryMs, notes, violations }
}

/** PostgreSQL unreachable: every connection through the proxy cut, new ones closed, for `outageMs`. */
export function cutPostgres(fleet: Fleet, outageMs: number): Promise<FaultRecord> {
  const fault = { kind: 'postgres-cut', label: `PostgreSQL cut ${outageMs / 1000} s` } as const
  return postgresFault(fleet, fault, async (proxy, startedAt) => {
    proxy.cut()
    const violations: string[] = []
    // Halfway through, every replica's readiness must say 503, and within its timeout: no hang.
    await sleep(outageMs / 2)
    const probes = await Promise.all(fleet.urls.map(readiness))
    for (const probe of probes) {
      if (probe.status !== 503) violations.push(`/readyz answered ${probe.status} while PostgreSQL was cut`)
      if (probe.latencyMs > READINESS_TIMEOUT_MS + PROBE_SLACK_MS)
        violations.push(`/readyz took ${probe.latencyMs} ms while PostgreSQL was cut`)
    }
    await sleep(Math.max(0, startedAt + outageMs - Date.now()))
    proxy.restore()
    const notes = [
      `/readyz during the cut: ${probes.map((p) => `${p.status} in ${p.latencyMs} ms`).join(', ')}`,
    ]
    return { notes, violations }
  })
}

/** The proxy holds PostgreSQL's answers for `stallMs`, then lets them through. */
export function stallPostgres(fleet: Fleet, stallMs: number): Promise<FaultRecord> {
  const fault = { kind: 'postgres-stall', label: `PostgreSQL stalled ${stallMs / 1000} s` } as const
  return postgresFault(fleet, fault, async (proxy) => {
    proxy.stall()
    await sleep(stallMs)
    const held = proxy.held
    proxy.release()
    return { notes: [`${held} answers from PostgreSQL held`], violations: [] }
  })
}

async function backendErrors(urls: readonly string[]): Promise<number[]> {
  return Promise.all(
    urls.map(async (url) => sampleValue(await metricsText(url), 'rate_limit_backend_errors_total')),
  )
}

/**
 * The fleet limit after Redis is back: three times the limit of a tenant of its own, sent round robin to the
 * three replicas three at a time; together they must accept at most the limit in its window.
 */
async function fleetLimitAccepted(fleet: Fleet, probe: LimitProbe): Promise<number> {
  let accepted = 0
  const urls = fleet.urls
  for (let round = 0; round < probe.limit; round++) {
    const answers = await Promise.all(
      urls.map((url) =>
        fetch(`${url}/v1/products?limit=1`, { headers: { authorization: `Bearer ${probe.key}` } }),
      ),
    )
    for (const answer of answers) {
      await answer.arrayBuffer()
      if (answer.status === 200) accepted++
    }
  }
  return accepted
}

/** The private Redis stopped for `outageMs`: the insurance limiter must take over, and no request may fail. */
export async function stopRedis(fleet: Fleet, outageMs: number, probe: LimitProbe): Promise<FaultRecord> {
  const { redis } = fleet.environment
  const before = await backendErrors(fleet.urls)
  const startedAt = Date.now()
  await redis.stop()
  await sleep(outageMs)
  const during = await backendErrors(fleet.urls)
  await redis.start()
  const endedAt = Date.now()
  const violations: string[] = []
  const fallbacks = during.reduce((sum, value, i) => sum + value - (before[i] ?? 0), 0)
  if (!(fallbacks > 0)) violations.push('rate_limit_backend_errors_total did not move: no insurance limiter')
  const notes = [`rate_limit_backend_errors_total +${fallbacks}`]
  const recoveryMs = await recovery(fleet, endedAt, readyAndRedisOk, notes)
  const accepted = await fleetLimitAccepted(fleet, probe)
  if (accepted > probe.limit || accepted === 0)
    violations.push(`the fleet accepted ${accepted} requests of a key limited to ${probe.limit}`)
  notes.push(
    `fleet limit after: ${accepted} of ${probe.limit * fleet.urls.length} accepted, limit ${probe.limit}`,
  )
  return {
    kind: 'redis-stop',
    label: `Redis stopped ${outageMs / 1000} s`,
    startedAt,
    endedAt,
    recoveryMs,
    notes,
    violations,
  }
}

/** SIGTERM to each replica in turn, under load; each must drain and exit 0, and is replaced before the next. */
export async function rollingRestart(fleet: Fleet): Promise<FaultRecord> {
  const startedAt = Date.now()
  const violations: string[] = []
  const notes: string[] = []
  let longestDownMs = 0
  for (let slot = 0; slot < REPLICAS; slot++) {
    const down = Date.now()
    const code = await fleet.terminate(slot).catch((err: unknown) => (err as Error).message)
    if (code !== 0) violations.push(`replica ${slot} exited ${code} after SIGTERM`)
    try {
      await fleet.start(slot)
    } catch (err) {
      violations.push(`replica ${slot} did not start again: ${(err as Error).message.split('\n')[0]}`)
    }
    const downMs = Date.now() - down
    longestDownMs = Math.max(longestDownMs, downMs)
    notes.push(`replica ${slot}: exit ${code}, replaced in ${(downMs / 1000).toFixed(1)} s`)
  }
  const endedAt = Date.now()
  const settled = await recovery(fleet, endedAt, readyAndRedisOk, notes)
  return {
    kind: 'rolling-restart',
    label: 'SIGTERM rolling restart',
    startedAt,
    endedAt,
    // The longest a slot was without a ready replica, SIGTERM to the replacement's readiness.
    recoveryMs: settled === null ? null : longestDownMs,
    notes,
    violations,
  }
}
