// The service's settings: every one comes from an environment variable, is validated once at start-up,
// and yields a typed, frozen Config. A bad value is reported by name with what was expected.
import { resolve } from 'node:path'
import { fileURLToPath } from 'node:url'

export const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const
export type LogLevel = (typeof LOG_LEVELS)[number]

/** The resilience policy of every outbound HTTP call (platform/outbound). */
export interface OutboundSettings {
  /** Upper bound of one attempt, from connecting until the (bounded) body is read. */
  readonly timeoutMs: number
  /** Attempts of one call of the layer, the first one included. */
  readonly retryMaxAttempts: number
  /** Backoff before retry n is random in [0, min(retryMaxDelayMs, retryBaseDelayMs * 2^(n-1))]. */
  readonly retryBaseDelayMs: number
  /** Cap of every wait between attempts; a longer Retry-After ends the call for the caller to postpone. */
  readonly retryMaxDelayMs: number
  /** Retries allowed per target over a rolling minute, as a percentage of its calls. */
  readonly retryBudgetPercent: number
  /** Retries a target may always make per rolling minute, however few its calls. */
  readonly retryBudgetMinPerMinute: number
  /** The breaker opens when failures reach this percentage of the calls in its window... */
  readonly breakerFailurePercent: number
  /** ...and the window holds at least this many calls. */
  readonly breakerMinimumCalls: number
  readonly breakerWindowMs: number
  /** How long an open breaker refuses calls before it lets one probe through. */
  readonly breakerOpenMs: number
  /** Successful probes in a row that close a half-open breaker. */
  readonly breakerCloseAfterProbes: number
  /** How long the layer waits for Redis before the per-process breaker decides. */
  readonly redisTimeoutMs: number
}

/** Outbound webhooks (modules/webhooks). */
export interface WebhookSettings {
  /** Allow `http:` endpoint URLs (local development and tests); otherwise only `https:`. */
  readonly allowHttp: boolean
  /** Allow targets on loopback, private, link-local and metadata addresses (tests, local development). */
  readonly allowPrivateTargets: boolean
  /** Delay before each attempt of a delivery, in ms, the first one included; its length is the attempts. */
  readonly retryScheduleMs: readonly number[]
  /** Upper bound of one attempt. */
  readonly timeoutMs: number
  /** How often each replica's dispatcher looks for work when it found none. */
  readonly pollIntervalMs: number
  /** How long a replica holds a delivery it took; another replica takes it once the lease expired. */
  readonly leaseMs: number
  /** Attempts one replica makes at the same time. */
  readonly concurrency: number
  /** The fewest attempts in flight while delivery yields to ingest (at most `concurrency`: then it never yields). */
  readonly minConcurrency: number
  /** An endpoint whose deliveries all failed for this long is disabled. */
  readonly disableAfterFailingMs: number
  /** false: this replica serves the API and ingest but delivers nothing (other replicas deliver). */
  readonly dispatcherEnabled: boolean
  /** Succeeded and failed deliveries whose last attempt is older than this are deleted, with their attempts. */
  readonly retentionMs: number
}

/** POS connectors (modules/connectors): the inbox processor and reconciliation. */
export interface ConnectorSettings {
  /** How often each replica looks for inbox rows and reconciliations when it found none. */
  readonly pollIntervalMs: number
  /** How long a replica holds an inbox row or a reconciliation it took; another takes it once expired. */
  readonly leaseMs: number
  /** Each connector source is reconciled this often (0: only on demand). */
  readonly reconcileIntervalMs: number
  /** A webhook whose provider API failed waits this long before its next attempt, doubling each time. */
  readonly retryBaseDelayMs: number
  /** Failed attempts after which a webhook is a dead letter (an open breaker spends none). */
  readonly maxAttempts: number
  /**
   * Provider webhooks accepted per minute per connector source, for the whole fleet (they are not limited
   * per client IP: providers send bursts from few addresses).
   */
  readonly webhookRateLimitMax: number
}

export interface Config {
  readonly port: number
  readonly host: string
  /** PostgreSQL connection string; when absent the service runs on embedded PGlite under dataDir. */
  readonly databaseUrl: string | undefined
  readonly dataDir: string
  readonly redisUrl: string | undefined
  /** Prefix of every key the service writes to Redis, so deployments can share one Redis. */
  readonly redisKeyPrefix: string
  /** Bearer token for the admin API; absent only in embedded mode, where one is generated at start. */
  readonly adminToken: string | undefined
  /**
   * 32 bytes in base64, the key secrets at rest are encrypted under (platform/secrets.ts); absent only in
   * embedded mode, which keeps a generated one in DATA_DIR.
   */
  readonly encryptionKey: string | undefined
  /** The key before the current one, still used to decrypt while values move to the current key. */
  readonly encryptionKeyPrevious: string | undefined
  readonly logLevel: LogLevel
  readonly readinessTimeoutMs: number
  readonly shutdownGraceMs: number
  readonly shutdownReadinessDelayMs: number
  readonly metricsSnapshotPath: string | undefined
  /** Prometheus Pushgateway the final metrics snapshot is also pushed to at shutdown. */
  readonly metricsPushgatewayUrl: string | undefined
  readonly migrateOnStart: boolean
  /** Largest request body accepted, in bytes; larger ones get 413. */
  readonly bodyLimitBytes: number
  /** How long a client has to send a whole request, headers and body; then 408 and the connection closes. */
  readonly requestTimeoutMs: number
  /** How long idempotency keys are kept at least; POS devices may sync days late. */
  readonly idempotencyTtlHours: number
  /** Group-commit transactions an ingest replica writes at the same time (PostgreSQL mode). */
  readonly ingestWriteConcurrency: number
  /** With a group commit being written, another starts beside it only once this many events wait. */
  readonly ingestWriteOverlapEvents: number
  /** Requests per window for each API key, unless its tenant has an override. */
  readonly rateLimitMax: number
  readonly rateLimitWindowMs: number
  /** Requests per window for each client IP without valid credentials. */
  readonly rateLimitAnonymousMax: number
  /** How long a rate limit check waits for Redis before the per-process limiter decides. */
  readonly rateLimitRedisTimeoutMs: number
  /** Take the client IP from X-Forwarded-For (behind a load balancer). */
  readonly trustProxy: boolean
  readonly outbound: OutboundSettings
  readonly webhooks: WebhookSettings
  readonly connectors: ConnectorSettings
  /** How long a dashboard session lasts after sign-in with the admin token. */
  readonly dashboardSessionTtlMs: number
  /** Where the built dashboard is; by default packages/dashboard/dist of this checkout. */
  readonly dashboardDir: string | undefined
}

export class ConfigError extends Error {
  constructor(readonly problems: readonly string[]) {
    super(`Invalid configuration:\n${problems.map((p) => `  - ${p}`).join('\n')}`)
    this.name = 'ConfigError'
  }
}

type Env = Readonly<Record<string, string | undefined>>

/** The environment being read, and the problems found so far. */
interface Reader {
  readonly env: Env
  readonly problems: string[]
}

function raw(r: Reader, name: string): string | undefined {
  const value = r.env[name]
  return value === undefined || value.trim() === '' ? undefined : value.trim()
}

function fail(r: Reader, name: string, expected: string, got: string): undefined {
  r.problems.push(`${name} must be ${expected} (got ${JSON.stringify(got)})`)
  return undefined
}

function integer(r: Reader, name: string, fallback: number, min: number, max: number): number {
  const value = raw(r, name)
  if (value === undefined) return fallback
  const parsed = /^-?\d+$/.test(value) ? Number(value) : Number.NaN
  if (!Number.isSafeInteger(parsed) || parsed < min || parsed > max) {
    fail(r, name, `an integer from ${min} to ${max}`, value)
    return fallback
  }
  return parsed
}

/** A duration in milliseconds that is a whole number of seconds (Redis windows expire in seconds). */
function wholeSeconds(r: Reader, name: string, fallback: number): number {
  const value = integer(r, name, fallback, 1000, 86_400_000)
  if (value % 1000 === 0) return value
  fail(r, name, 'a whole number of seconds in milliseconds, e.g. 60000', String(value))
  return fallback
}

function oneOf<T extends string>(r: Reader, name: string, choices: readonly T[], fallback: T): T {
  const value = raw(r, name)
  if (value === undefined) return fallback
  if ((choices as readonly string[]).includes(value)) return value as T
  fail(r, name, `one of ${choices.join(', ')}`, value)
  return fallback
}

function boolean(r: Reader, name: string, fallback: boolean): boolean {
  const value = raw(r, name)?.toLowerCase()
  if (value === undefined) return fallback
  if (value === 'true' || value === '1') return true
  if (value === 'false' || value === '0') return false
  fail(r, name, 'true or false', value)
  return fallback
}

function url(r: Reader, name: string, protocols: readonly string[]): string | undefined {
  const value = raw(r, name)
  if (value === undefined) return undefined
  let protocol: string
  try {
    protocol = new URL(value).protocol
  } catch {
    // Never echo a connection string: it may carry a password.
    r.problems.push(
      `${name} must be a URL with scheme ${protocols.join(' or ')} (the value given is not a URL)`,
    )
    return undefined
  }
  if (!protocols.includes(protocol)) {
    r.problems.push(`${name} must be a URL with scheme ${protocols.join(' or ')} (got scheme ${protocol})`)
    return undefined
  }
  return value
}

/** A 32-byte key in base64 (either alphabet), as `openssl rand -base64 32` prints it. Never echoed. */
function encryptionKey(r: Reader, name: string): string | undefined {
  const value = raw(r, name)
  if (value === undefined) return undefined
  if (/^[A-Za-z0-9+/_-]{43}=?$/.test(value) && Buffer.from(value, 'base64').length === 32) return value
  r.problems.push(
    `${name} must be 32 bytes in base64, e.g. from openssl rand -base64 32 (the value given is not)`,
  )
  return undefined
}

function outboundSettings(r: Reader): OutboundSettings {
  const settings: OutboundSettings = {
    timeoutMs: integer(r, 'OUTBOUND_TIMEOUT_MS', 10_000, 1, 600_000),
    retryMaxAttempts: integer(r, 'OUTBOUND_RETRY_MAX_ATTEMPTS', 3, 1, 10),
    retryBaseDelayMs: integer(r, 'OUTBOUND_RETRY_BASE_DELAY_MS', 250, 1, 60_000),
    retryMaxDelayMs: integer(r, 'OUTBOUND_RETRY_MAX_DELAY_MS', 10_000, 1, 600_000),
    retryBudgetPercent: integer(r, 'OUTBOUND_RETRY_BUDGET_PERCENT', 10, 0, 100),
    retryBudgetMinPerMinute: integer(r, 'OUTBOUND_RETRY_BUDGET_MIN_PER_MINUTE', 2, 0, 1_000_000),
    breakerFailurePercent: integer(r, 'OUTBOUND_BREAKER_FAILURE_PERCENT', 50, 1, 100),
    breakerMinimumCalls: integer(r, 'OUTBOUND_BREAKER_MINIMUM_CALLS', 10, 1, 1_000_000),
    breakerWindowMs: integer(r, 'OUTBOUND_BREAKER_WINDOW_MS', 60_000, 1000, 3_600_000),
    breakerOpenMs: integer(r, 'OUTBOUND_BREAKER_OPEN_MS', 30_000, 100, 3_600_000),
    breakerCloseAfterProbes: integer(r, 'OUTBOUND_BREAKER_CLOSE_AFTER_PROBES', 2, 1, 100),
    redisTimeoutMs: integer(r, 'OUTBOUND_REDIS_TIMEOUT_MS', 250, 1, 10_000),
  }
  if (settings.retryMaxDelayMs < settings.retryBaseDelayMs) {
    r.problems.push('OUTBOUND_RETRY_MAX_DELAY_MS must not be below OUTBOUND_RETRY_BASE_DELAY_MS')
  }
  return Object.freeze(settings)
}

/** Standard Webhooks' usual schedule: at once, then 5 s, 5 min, 30 min, 2 h, 5 h, 10 h and 10 h. */
export const DEFAULT_WEBHOOK_RETRY_SCHEDULE = '0,5,300,1800,7200,18000,36000,36000'

function retrySchedule(r: Reader, name: string): number[] {
  const value = raw(r, name) ?? DEFAULT_WEBHOOK_RETRY_SCHEDULE
  const parts = value.split(',').map((part) => part.trim())
  if (parts.length > 0 && parts.length <= 20 && parts.every((part) => /^\d{1,6}$/.test(part)))
    return parts.map((part) => Number(part) * 1000)
  fail(r, name, 'a comma-separated list of 1 to 20 delays in whole seconds, e.g. 0,5,300', value)
  return DEFAULT_WEBHOOK_RETRY_SCHEDULE.split(',').map((part) => Number(part) * 1000)
}

function webhookSettings(r: Reader): WebhookSettings {
  return Object.freeze({
    allowHttp: boolean(r, 'WEBHOOK_ALLOW_HTTP', false),
    allowPrivateTargets: boolean(r, 'WEBHOOK_ALLOW_PRIVATE_TARGETS', false),
    retryScheduleMs: Object.freeze(retrySchedule(r, 'WEBHOOK_RETRY_SCHEDULE')),
    timeoutMs: integer(r, 'WEBHOOK_TIMEOUT_MS', 10_000, 100, 600_000),
    pollIntervalMs: integer(r, 'WEBHOOK_POLL_INTERVAL_MS', 1000, 10, 60_000),
    leaseMs: integer(r, 'WEBHOOK_LEASE_MS', 120_000, 1000, 3_600_000),
    concurrency: integer(r, 'WEBHOOK_CONCURRENCY', 256, 1, 4096),
    minConcurrency: integer(r, 'WEBHOOK_MIN_CONCURRENCY', 8, 1, 4096),
    disableAfterFailingMs: integer(r, 'WEBHOOK_DISABLE_AFTER_FAILING_HOURS', 120, 1, 24 * 365) * 3_600_000,
    dispatcherEnabled: boolean(r, 'WEBHOOK_DISPATCHER_ENABLED', true),
    retentionMs: integer(r, 'WEBHOOK_RETENTION_DAYS', 30, 1, 3650) * 86_400_000,
  })
}

function connectorSettings(r: Reader): ConnectorSettings {
  return Object.freeze({
    pollIntervalMs: integer(r, 'CONNECTOR_POLL_INTERVAL_MS', 1000, 10, 60_000),
    leaseMs: integer(r, 'CONNECTOR_LEASE_MS', 120_000, 1000, 3_600_000),
    reconcileIntervalMs: integer(r, 'RECONCILE_INTERVAL_MINUTES', 60, 0, 7 * 24 * 60) * 60_000,
    retryBaseDelayMs: integer(r, 'CONNECTOR_RETRY_BASE_DELAY_MS', 5000, 10, 3_600_000),
    maxAttempts: integer(r, 'CONNECTOR_MAX_ATTEMPTS', 10, 1, 100),
    webhookRateLimitMax: integer(r, 'CONNECTOR_WEBHOOK_RATE_LIMIT_MAX', 6000, 1, 10_000_000),
  })
}

/**
 * The repository's root (the npm workspace): three folders above this file, whether it runs as
 * packages/server/src/config.ts (tsx) or packages/server/dist/config.js (npm start).
 */
const REPOSITORY_ROOT = fileURLToPath(new URL('../../../', import.meta.url))

/**
 * Where the embedded database lives: `.data` at the repository's root by default, where a user looks, not in
 * packages/server where npm runs the server. A relative DATA_DIR is taken from the folder the user ran npm in
 * (INIT_CWD, which npm sets), or else from the current one.
 */
function dataDirectory(r: Reader): string {
  const given = raw(r, 'DATA_DIR')
  if (given === undefined) return resolve(REPOSITORY_ROOT, '.data')
  return resolve(raw(r, 'INIT_CWD') ?? process.cwd(), given)
}

export function loadConfig(env: Env = process.env): Config {
  const r: Reader = { env, problems: [] }
  const databaseUrl = url(r, 'DATABASE_URL', ['postgres:', 'postgresql:'])
  const adminToken = raw(r, 'ADMIN_TOKEN')
  if (adminToken !== undefined && adminToken.length < 16) {
    r.problems.push('ADMIN_TOKEN must be at least 16 characters long')
  }
  if (adminToken === undefined && raw(r, 'DATABASE_URL') !== undefined) {
    r.problems.push('ADMIN_TOKEN is required when DATABASE_URL is set (only embedded mode generates one)')
  }
  if (raw(r, 'ENCRYPTION_KEY') === undefined && raw(r, 'DATABASE_URL') !== undefined) {
    r.problems.push(
      'ENCRYPTION_KEY is required when DATABASE_URL is set (only embedded mode generates one): 32 bytes in base64, e.g. from openssl rand -base64 32',
    )
  }
  const config: Config = {
    port: integer(r, 'PORT', 3000, 0, 65535),
    host: raw(r, 'HOST') ?? '0.0.0.0',
    databaseUrl,
    dataDir: dataDirectory(r),
    redisUrl: url(r, 'REDIS_URL', ['redis:', 'rediss:']),
    redisKeyPrefix: raw(r, 'REDIS_KEY_PREFIX') ?? 'pos:',
    adminToken,
    encryptionKey: encryptionKey(r, 'ENCRYPTION_KEY'),
    encryptionKeyPrevious: encryptionKey(r, 'ENCRYPTION_KEY_PREVIOUS'),
    logLevel: oneOf(r, 'LOG_LEVEL', LOG_LEVELS, 'info'),
    readinessTimeoutMs: integer(r, 'READINESS_TIMEOUT_MS', 1000, 1, 60_000),
    shutdownGraceMs: integer(r, 'SHUTDOWN_GRACE_MS', 15_000, 0, 3_600_000),
    shutdownReadinessDelayMs: integer(r, 'SHUTDOWN_READINESS_DELAY_MS', 5000, 0, 600_000),
    metricsSnapshotPath: raw(r, 'METRICS_SNAPSHOT_PATH'),
    metricsPushgatewayUrl: url(r, 'METRICS_PUSHGATEWAY_URL', ['http:', 'https:']),
    migrateOnStart: boolean(r, 'MIGRATE_ON_START', true),
    bodyLimitBytes: integer(r, 'BODY_LIMIT_BYTES', 1024 * 1024, 1024, 64 * 1024 * 1024),
    requestTimeoutMs: integer(r, 'REQUEST_TIMEOUT_MS', 60_000, 100, 3_600_000),
    idempotencyTtlHours: integer(r, 'IDEMPOTENCY_TTL_HOURS', 168, 1, 24 * 365),
    ingestWriteConcurrency: integer(r, 'INGEST_WRITE_CONCURRENCY', 1, 1, 64),
    ingestWriteOverlapEvents: integer(r, 'INGEST_WRITE_OVERLAP_EVENTS', 1000, 0, 1_000_000),
    rateLimitMax: integer(r, 'RATE_LIMIT_MAX', 6000, 1, 10_000_000),
    rateLimitWindowMs: wholeSeconds(r, 'RATE_LIMIT_WINDOW_MS', 60_000),
    rateLimitAnonymousMax: integer(r, 'RATE_LIMIT_ANONYMOUS_MAX', 300, 1, 10_000_000),
    rateLimitRedisTimeoutMs: integer(r, 'RATE_LIMIT_REDIS_TIMEOUT_MS', 50, 1, 10_000),
    trustProxy: boolean(r, 'TRUST_PROXY', false),
    outbound: outboundSettings(r),
    webhooks: webhookSettings(r),
    connectors: connectorSettings(r),
    dashboardSessionTtlMs: integer(r, 'DASHBOARD_SESSION_TTL_MINUTES', 480, 1, 7 * 24 * 60) * 60_000,
    dashboardDir: raw(r, 'DASHBOARD_DIR'),
  }
  if (r.problems.length > 0) throw new ConfigError(r.problems)
  return Object.freeze(config)
}
