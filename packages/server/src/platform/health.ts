// Dependency checks for readiness. Each check runs under its own timeout, and the timer is cleared as soon
// as the check settles, whichever way: a readiness probe leaves nothing pending behind it.
import type { DatabaseHandle } from './database.js'
import { TIMED_OUT, withDeadline } from './deadline.js'
import type { RedisHandle } from './redis.js'

export interface HealthCheck {
  readonly name: string
  /** A failed critical check makes the service not ready; any other failure only degrades it. */
  readonly critical: boolean
  run(): Promise<void>
}

export interface CheckResult {
  readonly status: 'ok' | 'failed' | 'degraded'
  readonly latencyMs: number
  /** Why it failed, in words safe to show to anyone: probes are public, so no host names or addresses. */
  readonly error?: 'timeout' | 'unavailable'
  /** The underlying error, for the log only. */
  readonly cause?: unknown
}

/** The service's dependencies: PostgreSQL (or PGlite) is critical; Redis, when configured, is not. */
export function dependencyChecks(database: DatabaseHandle, redis: RedisHandle | undefined): HealthCheck[] {
  const checks: HealthCheck[] = [{ name: 'database', critical: true, run: () => database.ping() }]
  // Redis holds only shared counters and caches; without it the per-process fallbacks take over.
  if (redis) checks.push({ name: 'redis', critical: false, run: () => redis.ping() })
  return checks
}

export async function runCheck(check: HealthCheck, timeoutMs: number): Promise<CheckResult> {
  const started = performance.now()
  const failed = check.critical ? 'failed' : 'degraded'
  try {
    const outcome = await withDeadline(check.run(), timeoutMs)
    if (outcome === TIMED_OUT) return { status: failed, latencyMs: elapsedMs(started), error: 'timeout' }
    return { status: 'ok', latencyMs: elapsedMs(started) }
  } catch (err) {
    return { status: failed, latencyMs: elapsedMs(started), error: 'unavailable', cause: err }
  }
}

export async function runChecks(
  checks: readonly HealthCheck[],
  timeoutMs: number,
): Promise<Record<string, CheckResult>> {
  const results = await Promise.all(checks.map((check) => runCheck(check, timeoutMs)))
  return Object.fromEntries(checks.map((check, i) => [check.name, results[i]!]))
}

function elapsedMs(started: number): number {
  return Math.round((performance.now() - started) * 100) / 100
}

/** The results as a client may see them: the underlying errors stay in the log. */
export function shownResults(
  results: Record<string, CheckResult>,
): Record<string, Omit<CheckResult, 'cause'>> {
  return Object.fromEntries(
    Object.entries(results).map(([name, { cause: _cause, ...shown }]) => [name, shown]),
  )
}
