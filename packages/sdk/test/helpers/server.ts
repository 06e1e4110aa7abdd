// A real server process (the server package's own test helpers start it) on a fresh PostgreSQL database, on a
// fixed loopback port so that it can be stopped and started again under a device that keeps its base URL, and
// a tenant, a source with a signing secret and an API key made through the admin API (more sources on
// request).
import pg from 'pg'
import { createTestDatabase, type TestDatabase } from '../../../server/test/helpers/database.js'
import { freePort } from '../../../server/test/helpers/private-redis.js'
import { type ServerProcess, startServerProcess } from '../../../server/test/helpers/server-process.js'

export { waitFor } from '../../../server/test/helpers/wait.js'
export { freePort }

const ADMIN_TOKEN = 'sdk-test-admin-token-0123456789'

export interface DeviceServer {
  readonly url: string
  readonly database: TestDatabase
  readonly apiKey: string
  readonly signingSecret: string
  readonly source: string
  /**
   * Changes the device configuration (GET /v1/config) through the admin API: the tenant's settings, or the
   * overrides of the device's source. A field given replaces the stored one, null clears it.
   */
  setDeviceConfig(level: 'tenant' | 'source', patch: Record<string, unknown>): Promise<void>
  /** Adds a source of kind `sdk` to the tenant through the admin API, signed only when a secret is given. */
  createSource(name: string, options?: { signingSecret?: string }): Promise<void>
  /** Starts the server (again) on the same port and database; resolves once it is ready. */
  start(): Promise<void>
  /** Stops it with the signal given; resolves when the process has exited. */
  stop(signal: 'SIGTERM' | 'SIGKILL'): Promise<void>
  query<T extends pg.QueryResultRow>(sql: string, params?: unknown[]): Promise<T[]>
  close(): Promise<void>
}

export async function startDeviceServer(options: { signingSecret?: string } = {}): Promise<DeviceServer> {
  const database = await createTestDatabase()
  const port = await freePort()
  const url = `http://127.0.0.1:${port}`
  let server: ServerProcess | undefined

  async function start(): Promise<void> {
    server = startServerProcess({
      DATABASE_URL: database.url,
      ADMIN_TOKEN,
      PORT: String(port),
      LOG_LEVEL: 'info',
      SHUTDOWN_READINESS_DELAY_MS: '0',
    })
    await server.url()
    await server.waitForLine((line) => line.msg === 'start-up complete', 60_000)
  }

  async function stop(signal: 'SIGTERM' | 'SIGKILL'): Promise<void> {
    const running = server
    server = undefined
    if (running === undefined) return
    running.child.kill(signal)
    await running.exited
  }

  async function admin(path: string, body: object, method = 'POST'): Promise<Record<string, unknown>> {
    const response = await fetch(`${url}${path}`, {
      method,
      headers: { authorization: `Bearer ${ADMIN_TOKEN}`, 'content-type': 'application/json' },
      body: JSON.stringify(body),
    })
    if (response.status !== (method === 'POST' ? 201 : 200))
      throw new Error(`${path} answered ${response.status}: ${await response.text()}`)
    return (await response.json()) as Record<string, unknown>
  }

  await start()
  const tenant = await admin('/v1/admin/tenants', { name: 'Device tests' })
  const source = 'till'
  const signingSecret = options.signingSecret ?? 'sdk-signing-secret-0123456789abcdef'
  const created = await admin(`/v1/admin/tenants/${tenant.id}/sources`, {
    name: source,
    kind: 'sdk',
    signingSecret,
  })
  const key = await admin(`/v1/admin/tenants/${tenant.id}/api-keys`, { name: 'till' })

  return {
    url,
    database,
    apiKey: key.key as string,
    signingSecret,
    source,
    async setDeviceConfig(level, patch) {
      const at = level === 'tenant' ? '' : `/sources/${created.id}`
      await admin(`/v1/admin/tenants/${tenant.id}${at}/device-config`, patch, 'PATCH')
    },
    async createSource(name, { signingSecret: secret } = {}) {
      await admin(`/v1/admin/tenants/${tenant.id}/sources`, {
        name,
        kind: 'sdk',
        ...(secret === undefined ? {} : { signingSecret: secret }),
      })
    },
    start,
    stop,
    // A connection per query, closed before it resolves: a pool's end() resolves before its connections have
    // closed, and the DROP DATABASE … WITH (FORCE) of close() would cut them, an uncaught error in the test.
    async query<T extends pg.QueryResultRow>(sql: string, params: unknown[] = []) {
      const client = new pg.Client({ connectionString: database.url })
      await client.connect()
      try {
        return (await client.query<T>(sql, params)).rows
      } finally {
        await client.end()
      }
    },
    async close() {
      await stop('SIGTERM')
      await database.drop()
    },
  }
}
