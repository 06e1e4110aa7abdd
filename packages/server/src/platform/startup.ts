// Start-up: what must be true before /startupz turns 200. Pending migrations are applied (or, with
// MIGRATE_ON_START=false, waited for until someone else applies them), the encryption key is checked against
// the stored secrets (a wrong key is a ConfigError: fatal, not retried), and every dependency has answered once.
//
// A dependency that cannot be reached yet (PostgreSQL or Redis still starting, a DNS name not yet resolvable,
// a network not yet up) is retried with capped exponential backoff, each attempt logged, while the listener
// already answers probes: /livez and /healthz 200, /startupz and /readyz 503 saying what start-up waits for.
// The process stays up rather than exiting, so both dependencies behave the same and an orchestrator's
// restart loop is not needed for the ordinary case of starting before them. What retrying cannot fix (a
// wrong password, a database that does not exist, an edited migration, a failing migration) is thrown, and
// the process exits 1. Embedded PGlite runs through the same path; it opens locally and answers at once.
import { setTimeout as sleep } from 'node:timers/promises'
import { migrate, migrationStatus } from './migrations.js'
import type { Platform } from './platform.js'
import { prepareStoredSecrets } from './secrets.js'

const PENDING_POLL_MS = 2000
const FIRST_RETRY_DELAY_MS = 250
const MAX_RETRY_DELAY_MS = 10_000

type Dependency = 'database' | 'redis'

/** How long to wait after the failed attempt `attempt` (1-based): 250 ms doubling up to 10 s. */
export function retryDelayMs(attempt: number): number {
  return Math.min(FIRST_RETRY_DELAY_MS * 2 ** Math.min(attempt - 1, 16), MAX_RETRY_DELAY_MS)
}

/** The innermost error's code and message: enough to tell why, never a connection string or a query. */
function reasonOf(err: unknown): { code?: string; message: string } {
  let e: unknown = err
  for (let depth = 0; e instanceof Error && e.cause instanceof Error && depth < 5; depth++) e = e.cause
  if (!(e instanceof Error)) return { message: String(e) }
  const code = (e as { code?: unknown }).code
  return typeof code === 'string' ? { code, message: e.message } : { message: e.message }
}

export async function completeStartup(platform: Platform, shutdown?: AbortSignal): Promise<void> {
  const { config, database, redis, lifecycle, log } = platform
  // Start-up stops on shutdown, and one dependency's fatal error stops the other's retries.
  const failed = new AbortController()
  const signal = shutdown ? AbortSignal.any([shutdown, failed.signal]) : failed.signal
  // What each dependency's part of start-up is doing, joined for /startupz; an entry goes once it is done.
  const waiting = new Map<Dependency, string>()
  const waitFor = (dependency: Dependency, what: string | undefined) => {
    if (what === undefined) waiting.delete(dependency)
    else waiting.set(dependency, what)
    if (waiting.size > 0) lifecycle.waitFor([...waiting.values()].join('; '))
  }

  /** Runs `attempt` until it succeeds, retrying while `dependency` is unreachable; other errors are thrown. */
  async function untilAnswered<T>(
    dependency: Dependency,
    doing: string,
    isUnreachable: (err: unknown) => boolean,
    attempt: () => Promise<T>,
  ): Promise<T> {
    for (let n = 1; ; n++) {
      signal.throwIfAborted()
      waitFor(dependency, n === 1 ? doing : `${doing} (${dependency} unreachable, attempt ${n})`)
      try {
        return await attempt()
      } catch (err) {
        if (!isUnreachable(err)) throw err
        const nextAttemptInMs = retryDelayMs(n)
        log.warn(
          { dependency, attempt: n, nextAttemptInMs, reason: reasonOf(err) },
          `${dependency} unreachable; retrying`,
        )
        await sleep(nextAttemptInMs, undefined, { signal })
      }
    }
  }

  async function prepareDatabase(): Promise<void> {
    const unreachable = (err: unknown) => database.isUnreachable(err)
    if (config.migrateOnStart) {
      const applied = await untilAnswered('database', 'applying migrations', unreachable, () =>
        migrate(database.db),
      )
      log.info({ applied }, applied.length > 0 ? 'migrations applied' : 'schema is up to date')
    }
    for (;;) {
      const status = await untilAnswered('database', 'checking migrations', unreachable, () =>
        migrationStatus(database.db),
      )
      if (status.modified.length > 0) {
        throw new Error(`applied migrations were modified since: ${status.modified.join(', ')}`)
      }
      if (status.pending.length === 0) break
      waitFor('database', `migrations pending: ${status.pending.join(', ')}`)
      log.warn({ pending: status.pending }, 'migrations pending and MIGRATE_ON_START=false; waiting for them')
      await sleep(PENDING_POLL_MS, undefined, { signal })
    }
    await untilAnswered('database', 'checking the encryption key', unreachable, () =>
      prepareStoredSecrets(database.db, platform.secrets, log),
    )
    waitFor('database', undefined)
  }

  async function reachRedis(): Promise<void> {
    if (!redis) return
    await untilAnswered(
      'redis',
      'connecting to redis',
      (err) => redis.isUnreachable(err),
      () => redis.reach(),
    )
    waitFor('redis', undefined)
  }

  // Both at once, so /startupz and the log name every dependency that is missing, not only the first.
  await Promise.all(
    [prepareDatabase(), reachRedis()].map((part) =>
      part.catch((err: unknown) => {
        failed.abort(err)
        throw err
      }),
    ),
  )
  // An attempt that was under way when shutdown began may still have succeeded: a stopping process stays so.
  signal.throwIfAborted()
  lifecycle.markStarted()
  log.info('start-up complete')
}
