import { randomBytes } from 'node:crypto'
import { fileURLToPath } from 'node:url'
import { describe, expect, it } from 'vitest'
import { ConfigError, loadConfig } from '../src/config.js'

function problemsOf(env: Record<string, string>): readonly string[] {
  try {
    loadConfig(env)
  } catch (err) {
    if (err instanceof ConfigError) return err.problems
    throw err
  }
  return []
}

describe('configuration', () => {
  it('defaults to embedded mode on port 3000 with the documented settings', () => {
    const config = loadConfig({})
    expect(config).toMatchObject({
      port: 3000,
      host: '0.0.0.0',
      databaseUrl: undefined,
      dataDir: fileURLToPath(new URL('../../../.data', import.meta.url)),
      redisUrl: undefined,
      logLevel: 'info',
      shutdownGraceMs: 15_000,
      migrateOnStart: true,
      ingestWriteConcurrency: 1,
      ingestWriteOverlapEvents: 1000,
    })
    expect(loadConfig({ INGEST_WRITE_CONCURRENCY: '2', INGEST_WRITE_OVERLAP_EVENTS: '0' })).toMatchObject({
      ingestWriteConcurrency: 2,
      ingestWriteOverlapEvents: 0,
    })
  })

  it('keeps the embedded database at the repository root, and reads a relative DATA_DIR from where npm ran', () => {
    expect(loadConfig({ DATA_DIR: '/srv/pos' }).dataDir).toBe('/srv/pos')
    expect(loadConfig({ DATA_DIR: 'db', INIT_CWD: '/home/me/pos' }).dataDir).toBe('/home/me/pos/db')
    expect(loadConfig({ DATA_DIR: 'db' }).dataDir).toBe(`${process.cwd()}/db`)
  })

  it('reads every variable from the environment', () => {
    const config = loadConfig({
      PORT: '8080',
      HOST: '127.0.0.1',
      DATABASE_URL: 'postgres://u@db:5432/pos',
      REDIS_URL: 'redis://cache:6379',
      ADMIN_TOKEN: 'a-long-enough-admin-token',
      ENCRYPTION_KEY: 'AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=',
      ENCRYPTION_KEY_PREVIOUS: 'HxwdHh8AAQIDBAUGBwgJCgsMDQ4PEBESExQVFhcYGRo=',
      LOG_LEVEL: 'warn',
      READINESS_TIMEOUT_MS: '250',
      SHUTDOWN_GRACE_MS: '2000',
      SHUTDOWN_READINESS_DELAY_MS: '0',
      METRICS_SNAPSHOT_PATH: '/tmp/metrics.prom',
      MIGRATE_ON_START: 'false',
    })
    expect(config).toMatchObject({
      port: 8080,
      host: '127.0.0.1',
      databaseUrl: 'postgres://u@db:5432/pos',
      redisUrl: 'redis://cache:6379',
      logLevel: 'warn',
      readinessTimeoutMs: 250,
      shutdownGraceMs: 2000,
      shutdownReadinessDelayMs: 0,
      metricsSnapshotPath: '/tmp/metrics.prom',
      migrateOnStart: false,
      encryptionKey: 'AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=',
      encryptionKeyPrevious: 'HxwdHh8AAQIDBAUGBwgJCgsMDQ4PEBESExQVFhcYGRo=',
    })
  })

  it('names each bad variable and what it expects', () => {
    const problems = problemsOf({
      PORT: 'eighty',
      LOG_LEVEL: 'loud',
      SHUTDOWN_GRACE_MS: '-1',
      MIGRATE_ON_START: 'maybe',
    })
    expect(problems).toEqual([
      'PORT must be an integer from 0 to 65535 (got "eighty")',
      'LOG_LEVEL must be one of fatal, error, warn, info, debug, trace, silent (got "loud")',
      'SHUTDOWN_GRACE_MS must be an integer from 0 to 3600000 (got "-1")',
      'MIGRATE_ON_START must be true or false (got "maybe")',
    ])
  })

  it('has documented defaults for the outbound policy and reads each from the environment', () => {
    expect(loadConfig({}).outbound).toEqual({
      timeoutMs: 10_000,
      retryMaxAttempts: 3,
      retryBaseDelayMs: 250,
      retryMaxDelayMs: 10_000,
      retryBudgetPercent: 10,
      retryBudgetMinPerMinute: 2,
      breakerFailurePercent: 50,
      breakerMinimumCalls: 10,
      breakerWindowMs: 60_000,
      breakerOpenMs: 30_000,
      breakerCloseAfterProbes: 2,
      redisTimeoutMs: 250,
    })
    const outbound = loadConfig({
      OUTBOUND_TIMEOUT_MS: '5000',
      OUTBOUND_RETRY_MAX_ATTEMPTS: '5',
      OUTBOUND_RETRY_BASE_DELAY_MS: '100',
      OUTBOUND_RETRY_MAX_DELAY_MS: '30000',
      OUTBOUND_RETRY_BUDGET_PERCENT: '20',
      OUTBOUND_RETRY_BUDGET_MIN_PER_MINUTE: '0',
      OUTBOUND_BREAKER_FAILURE_PERCENT: '25',
      OUTBOUND_BREAKER_MINIMUM_CALLS: '50',
      OUTBOUND_BREAKER_WINDOW_MS: '10000',
      OUTBOUND_BREAKER_OPEN_MS: '5000',
      OUTBOUND_BREAKER_CLOSE_AFTER_PROBES: '3',
      OUTBOUND_REDIS_TIMEOUT_MS: '50',
    }).outbound
    expect(outbound).toEqual({
      timeoutMs: 5000,
      retryMaxAttempts: 5,
      retryBaseDelayMs: 100,
      retryMaxDelayMs: 30_000,
      retryBudgetPercent: 20,
      retryBudgetMinPerMinute: 0,
      breakerFailurePercent: 25,
      breakerMinimumCalls: 50,
      breakerWindowMs: 10_000,
      breakerOpenMs: 5000,
      breakerCloseAfterProbes: 3,
      redisTimeoutMs: 50,
    })
    expect(Object.isFrozen(outbound)).toBe(true)
  })

  it('refuses outbound settings that would retry without end or cap below the first wait', () => {
    expect(
      problemsOf({
        OUTBOUND_RETRY_MAX_ATTEMPTS: '0',
        OUTBOUND_TIMEOUT_MS: '0',
        OUTBOUND_RETRY_BASE_DELAY_MS: '500',
        OUTBOUND_RETRY_MAX_DELAY_MS: '100',
      }),
    ).toEqual([
      'OUTBOUND_TIMEOUT_MS must be an integer from 1 to 600000 (got "0")',
      'OUTBOUND_RETRY_MAX_ATTEMPTS must be an integer from 1 to 10 (got "0")',
      'OUTBOUND_RETRY_MAX_DELAY_MS must not be below OUTBOUND_RETRY_BASE_DELAY_MS',
    ])
  })

  it('has documented defaults for webhook delivery and retention and reads each from the environment', () => {
    expect(loadConfig({}).webhooks).toMatchObject({
      concurrency: 256,
      dispatcherEnabled: true,
      retentionMs: 30 * 86_400_000,
    })
    expect(
      loadConfig({
        WEBHOOK_CONCURRENCY: '16',
        WEBHOOK_DISPATCHER_ENABLED: 'false',
        WEBHOOK_RETENTION_DAYS: '7',
      }).webhooks,
    ).toMatchObject({ concurrency: 16, dispatcherEnabled: false, retentionMs: 7 * 86_400_000 })
    expect(problemsOf({ WEBHOOK_CONCURRENCY: '0', WEBHOOK_RETENTION_DAYS: '0' })).toEqual([
      'WEBHOOK_CONCURRENCY must be an integer from 1 to 4096 (got "0")',
      'WEBHOOK_RETENTION_DAYS must be an integer from 1 to 3650 (got "0")',
    ])
  })

  it('has the documented webhook schedule, timeout, target policy and disabling, and reads each', () => {
    expect(loadConfig({}).webhooks).toMatchObject({
      // At once, then 5 s, 5 min, 30 min, 2 h, 5 h, 10 h and 10 h.
      retryScheduleMs: [0, 5, 300, 1800, 7200, 18_000, 36_000, 36_000].map((s) => s * 1000),
      timeoutMs: 10_000,
      allowHttp: false,
      allowPrivateTargets: false,
      disableAfterFailingMs: 5 * 86_400_000,
    })
    expect(
      loadConfig({
        WEBHOOK_RETRY_SCHEDULE: '0, 1,2',
        WEBHOOK_TIMEOUT_MS: '1500',
        WEBHOOK_ALLOW_HTTP: 'true',
        WEBHOOK_ALLOW_PRIVATE_TARGETS: 'true',
        WEBHOOK_DISABLE_AFTER_FAILING_HOURS: '1',
      }).webhooks,
    ).toMatchObject({
      retryScheduleMs: [0, 1000, 2000],
      timeoutMs: 1500,
      allowHttp: true,
      allowPrivateTargets: true,
      disableAfterFailingMs: 3_600_000,
    })
    expect(problemsOf({ WEBHOOK_RETRY_SCHEDULE: '0,5m' })).toEqual([
      'WEBHOOK_RETRY_SCHEDULE must be a comma-separated list of 1 to 20 delays in whole seconds, e.g. 0,5,300 (got "0,5m")',
    ])
  })

  it('requires ADMIN_TOKEN and ENCRYPTION_KEY in PostgreSQL mode', () => {
    expect(problemsOf({ DATABASE_URL: 'postgres://u@db/pos' })).toEqual([
      'ADMIN_TOKEN is required when DATABASE_URL is set (only embedded mode generates one)',
      'ENCRYPTION_KEY is required when DATABASE_URL is set (only embedded mode generates one): 32 bytes in base64, e.g. from openssl rand -base64 32',
    ])
    expect(problemsOf({ ADMIN_TOKEN: 'short' })).toEqual(['ADMIN_TOKEN must be at least 16 characters long'])
  })

  it('never echoes a connection string, which may hold a password', () => {
    const problems = problemsOf({
      DATABASE_URL: 'mysql://user:hunter2@db/pos',
      ADMIN_TOKEN: 'x'.repeat(16),
      ENCRYPTION_KEY: randomBytes(32).toString('base64'),
    })
    expect(problems).toEqual([
      'DATABASE_URL must be a URL with scheme postgres: or postgresql: (got scheme mysql:)',
    ])
    expect(problems.join()).not.toContain('hunter2')
    expect(problemsOf({ REDIS_URL: 'not a url with secret' }).join()).not.toContain('secret')
  })

  it('wants ENCRYPTION_KEY and ENCRYPTION_KEY_PREVIOUS as 32 bytes of base64, and never echoes them', () => {
    const short = randomBytes(16).toString('base64')
    const long = `${randomBytes(32).toString('base64')}AA`
    for (const value of [short, long, 'not base64 at all, but long enough for 32 b']) {
      const problems = problemsOf({ ENCRYPTION_KEY: value, ENCRYPTION_KEY_PREVIOUS: value })
      expect(problems).toEqual([
        'ENCRYPTION_KEY must be 32 bytes in base64, e.g. from openssl rand -base64 32 (the value given is not)',
        'ENCRYPTION_KEY_PREVIOUS must be 32 bytes in base64, e.g. from openssl rand -base64 32 (the value given is not)',
      ])
      expect(problems.join()).not.toContain(value)
    }
    // Either base64 alphabet, with or without padding.
    expect(problemsOf({ ENCRYPTION_KEY: randomBytes(32).toString('base64url') })).toEqual([])
    expect(problemsOf({ ENCRYPTION_KEY: randomBytes(32).toString('base64').slice(0, 43) })).toEqual([])
  })
})
