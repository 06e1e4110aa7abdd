// Builds the very app production runs, against a fresh PostgreSQL database (and the real Redis when asked),
// with its log lines captured so tests can read them.
import { mkdtempSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { Writable } from 'node:stream'
import { type App, buildApp } from '../../src/app.js'
import { type Config, loadConfig } from '../../src/config.js'
import { openDatabase } from '../../src/platform/database.js'
import { openInvalidation } from '../../src/platform/invalidation.js'
import { Lifecycle } from '../../src/platform/lifecycle.js'
import { createLogger } from '../../src/platform/logger.js'
import { createOutbound } from '../../src/platform/outbound/outbound.js'
import type { Platform } from '../../src/platform/platform.js'
import { openRedis } from '../../src/platform/redis.js'
import { loadSecrets } from '../../src/platform/secrets.js'
import { completeStartup } from '../../src/platform/startup.js'
import { createTestDatabase, type TestDatabase } from './database.js'
import { recordResponses } from './response-record.js'
import { TEST_ENCRYPTION_KEY } from './secrets.js'

export const REDIS_URL = process.env.TEST_REDIS_URL ?? 'redis://127.0.0.1:6379'
export const ADMIN_TOKEN = 'test-admin-token-0123456789'

/** Log lines written by the app, parsed. */
export class CapturedLogs extends Writable {
  readonly lines: Record<string, unknown>[] = []
  readonly raw: string[] = []

  override _write(chunk: Buffer, _encoding: string, done: () => void): void {
    for (const line of chunk.toString('utf8').split('\n')) {
      if (line.trim() === '') continue
      this.raw.push(line)
      this.lines.push(JSON.parse(line) as Record<string, unknown>)
    }
    done()
  }

  text(): string {
    return this.raw.join('\n')
  }
}

export interface TestApp {
  readonly app: App
  readonly platform: Platform
  readonly config: Config
  readonly database: TestDatabase
  readonly logs: CapturedLogs
  /** Completes once start-up has finished (it runs in the background, as in production). */
  readonly started: Promise<void>
  close(): Promise<void>
}

export interface TestAppOptions {
  readonly redis?: boolean
  readonly env?: Record<string, string>
  /** Wait for start-up before returning (default true). */
  readonly waitForStartup?: boolean
  /** Run on embedded PGlite in a fresh temporary DATA_DIR instead of PostgreSQL. */
  readonly embedded?: boolean
  /** Extra routes a test needs to exercise a request-level plugin; added before the app is ready. */
  readonly routes?: (app: App) => void
  /** Reach PostgreSQL on this port of the same host, e.g. through a stall proxy (test/helpers/stall-proxy.ts). */
  readonly databasePort?: number
}

export async function startTestApp(options: TestAppOptions = {}): Promise<TestApp> {
  const database = await createTestDatabase()
  const databaseUrl = new URL(database.url)
  if (options.databasePort !== undefined) databaseUrl.port = String(options.databasePort)
  const config = loadConfig({
    ...(options.embedded
      ? { DATA_DIR: mkdtempSync(join(tmpdir(), 'pos-embedded-')) }
      : { DATABASE_URL: databaseUrl.toString() }),
    ADMIN_TOKEN,
    ENCRYPTION_KEY: TEST_ENCRYPTION_KEY,
    LOG_LEVEL: 'debug',
    // Each app counts its rate limits under its own Redis keys, so test files never share a bucket.
    ...(options.redis ? { REDIS_URL, REDIS_KEY_PREFIX: `test:${database.name}:` } : {}),
    ...options.env,
  })
  const logs = new CapturedLogs()
  const log = createLogger({ level: config.logLevel, destination: logs })
  const db = await openDatabase({ databaseUrl: config.databaseUrl, dataDir: config.dataDir, log })
  const redis = config.redisUrl ? openRedis(config.redisUrl, log) : undefined
  const secrets = loadSecrets(config)
  const invalidation = openInvalidation({ redis, keyPrefix: config.redisKeyPrefix, log })
  const platform: Platform = {
    config,
    log,
    database: db,
    redis,
    secrets,
    invalidation,
    lifecycle: new Lifecycle(),
    outbound: createOutbound({
      redis: redis?.client,
      keyPrefix: config.redisKeyPrefix,
      log,
      settings: config.outbound,
    }),
  }
  const app = await buildApp(platform)
  // Routes a test adds for itself are not part of the API, so their answers are not checked against its document.
  const testRoutes = new Set<string>()
  app.addHook('onRoute', (route) => {
    testRoutes.add(route.url)
  })
  options.routes?.(app)
  recordResponses(app, testRoutes)
  await app.ready()
  const aborted = new AbortController()
  const started = completeStartup(platform, aborted.signal)
  started.catch(() => undefined)
  if (options.waitForStartup ?? true) await started
  return {
    app,
    platform,
    config,
    database,
    logs,
    started,
    async close() {
      aborted.abort()
      await app.close()
      await Promise.allSettled([db.close(), invalidation.close(), redis?.close()])
      await database.drop()
    },
  }
}
