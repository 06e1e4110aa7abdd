// Process entry: read the config, open the database and Redis, build the app, listen, finish start-up, and
// shut down gracefully on SIGTERM or SIGINT (a second Ctrl-C exits at once, with 130). Everything here is about
// the process, nothing about features.
// The listener is up before start-up reaches the dependencies, so probes answer while it waits for them
// (platform/startup.ts); only what retrying cannot fix ends the process with exit code 1.
import { writeFile } from 'node:fs/promises'
import { hostname } from 'node:os'
import { setTimeout as sleep } from 'node:timers/promises'
import type { FastifyInstance } from 'fastify'
import type { Logger } from 'pino'
import { buildApp } from './app.js'
import { type Config, ConfigError, loadConfig } from './config.js'
import { requestsInFlight } from './http/observability.js'
import { createDemoTenant, generateAdminToken, startBanner } from './modules/tenants/bootstrap.js'
import { openDatabase } from './platform/database.js'
import { TIMED_OUT, withDeadline } from './platform/deadline.js'
import { openInvalidation } from './platform/invalidation.js'
import { Lifecycle } from './platform/lifecycle.js'
import { createLogger } from './platform/logger.js'
import { registry } from './platform/metrics.js'
import { createOutbound } from './platform/outbound/outbound.js'
import type { Platform } from './platform/platform.js'
import { PUSH_JOB, pushMetrics } from './platform/pushgateway.js'
import { openRedis } from './platform/redis.js'
import { loadSecrets } from './platform/secrets.js'
import { completeStartup } from './platform/startup.js'

const CLOSE_TIMEOUT_MS = 5000
/**
 * One Ctrl-C reaches the process more than once: the terminal signals the whole process group, and npm and
 * tsx relay the signal again. A SIGINT this soon after the one that began the shutdown is that same keypress,
 * not a second one.
 */
const SAME_KEYPRESS_MS = 300
/** The exit code of a process ended by SIGINT, as a shell reports it: 128 + 2. */
const INTERRUPTED_EXIT_CODE = 130

type DrainOutcome = { outcome: 'drained' } | { outcome: 'timeout'; inFlight: number }

function readConfig(): Config {
  try {
    return loadConfig()
  } catch (err) {
    if (!(err instanceof ConfigError)) throw err
    process.stderr.write(`${err.message}\n`)
    process.exit(1)
  }
}

/** Waits for in-flight requests to finish, at most graceMs; then cuts the remaining connections. */
async function drain(app: FastifyInstance, graceMs: number): Promise<DrainOutcome> {
  app.log.info({ inFlight: requestsInFlight(), graceMs }, 'no longer accepting connections; draining')
  const closed = app.close()
  if ((await withDeadline(closed, graceMs)) !== TIMED_OUT) return { outcome: 'drained' }
  const inFlight = requestsInFlight()
  app.server.closeAllConnections()
  await closed
  return { outcome: 'timeout', inFlight }
}

/** The final snapshot: always to the log, and to METRICS_SNAPSHOT_PATH and the Pushgateway when set. */
async function writeMetricsSnapshot(log: Logger, config: Config): Promise<void> {
  const snapshot = await registry.metrics()
  log.info({ metrics: snapshot }, 'final metrics snapshot')
  if (config.metricsSnapshotPath !== undefined) {
    try {
      await writeFile(config.metricsSnapshotPath, snapshot)
    } catch (err) {
      log.error({ err }, 'could not write the metrics snapshot')
    }
  }
  if (config.metricsPushgatewayUrl !== undefined) {
    const target = { url: config.metricsPushgatewayUrl, job: PUSH_JOB, instance: hostname() }
    const outcome = await pushMetrics(target, snapshot)
    if (outcome.pushed) log.info({ url: outcome.url }, 'final metrics snapshot pushed')
    else log.warn({ url: outcome.url, error: outcome.error }, 'could not push the final metrics snapshot')
  }
}

/** Closing a connection to a dependency that stopped answering must not keep the process alive. */
async function closeWithin(log: Logger, ms: number, closing: (Promise<void> | undefined)[]): Promise<void> {
  if ((await withDeadline(Promise.allSettled(closing), ms)) === TIMED_OUT)
    log.warn({ timeoutMs: ms }, 'database or redis did not close in time')
}

async function main(): Promise<void> {
  const configured = readConfig()
  // Only embedded mode may start without ADMIN_TOKEN (config.ts): it gets one for this run, shown below.
  const generatedAdminToken = configured.adminToken === undefined ? generateAdminToken() : undefined
  const config: Config = Object.freeze({
    ...configured,
    adminToken: configured.adminToken ?? generatedAdminToken,
  })
  const log = createLogger({ level: config.logLevel })
  const secrets = loadSecrets(config)
  const lifecycle = new Lifecycle()
  const database = await openDatabase({ databaseUrl: config.databaseUrl, dataDir: config.dataDir, log })
  const redis = config.redisUrl === undefined ? undefined : openRedis(config.redisUrl, log)
  const invalidation = openInvalidation({ redis, keyPrefix: config.redisKeyPrefix, log })
  const outbound = createOutbound({
    redis: redis?.client,
    keyPrefix: config.redisKeyPrefix,
    log,
    settings: config.outbound,
  })
  const platform: Platform = { config, log, database, redis, secrets, invalidation, lifecycle, outbound }
  const app = await buildApp(platform)
  const startup = new AbortController()

  let shutdownBeganAt = 0
  const shutdown = async (signal: NodeJS.Signals): Promise<void> => {
    // A process that never became ready had no traffic routed to it: nothing to wait for before closing.
    const wasServing = lifecycle.phase === 'started'
    if (!lifecycle.beginShutdown()) {
      // A person pressing Ctrl-C again does not want to wait; an orchestrator repeating SIGTERM does.
      if (signal === 'SIGINT' && Date.now() - shutdownBeganAt >= SAME_KEYPRESS_MS) {
        log.warn(
          { signal, inFlight: requestsInFlight() },
          'second SIGINT: exiting now; requests in flight and work not yet finished may be cut',
        )
        log.flush()
        process.exit(INTERRUPTED_EXIT_CODE)
      }
      log.warn({ signal }, 'shutdown already in progress; signal ignored')
      return
    }
    shutdownBeganAt = Date.now()
    startup.abort()
    const readinessDelayMs = wasServing ? config.shutdownReadinessDelayMs : 0
    log.info({ signal, readinessDelayMs }, 'shutdown started; readiness is 503')
    await sleep(readinessDelayMs)
    const result = await drain(app, config.shutdownGraceMs)
    log.info(result, result.outcome === 'drained' ? 'shutdown drained' : 'shutdown timed out')
    await writeMetricsSnapshot(log, config)
    await closeWithin(log, CLOSE_TIMEOUT_MS, [database.close(), invalidation.close(), redis?.close()])
    log.flush()
    process.exit(result.outcome === 'drained' ? 0 : 1)
  }
  process.on('SIGTERM', (signal) => void shutdown(signal))
  process.on('SIGINT', (signal) => void shutdown(signal))

  const address = await app.listen({ port: config.port, host: config.host })
  log.info({ address, mode: database.mode }, `listening on ${address}`)
  try {
    await completeStartup(platform, startup.signal)
    if (database.mode === 'embedded') {
      const demo = await createDemoTenant(app)
      // For the human at the terminal: stderr, beside the JSON log lines on stdout and never in them.
      process.stderr.write(startBanner({ address, generatedAdminToken, demo }))
    }
  } catch (err) {
    if (startup.signal.aborted) return
    throw err
  }
}

process.on('unhandledRejection', (reason) => {
  process.stderr.write(`unhandled rejection: ${reason instanceof Error ? reason.stack : String(reason)}\n`)
  process.exitCode = 1
})

main().catch((err: unknown) => {
  // A configuration error found after loading (an encryption key that does not decrypt the stored secrets) is
  // fatal, and said in its own words rather than as a stack.
  if (err instanceof ConfigError) process.stderr.write(`${err.message}\n`)
  else process.stderr.write(`start-up failed: ${err instanceof Error ? err.stack : String(err)}\n`)
  process.exit(1)
})
