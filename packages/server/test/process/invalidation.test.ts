// Revocation across replicas: two real server processes share one PostgreSQL database and one Redis. A change
// made on A (or through the CLI, a third process) must reach B within 100 ms of the change's answer, although B
// had the credential cached for AUTH_CACHE_TTL_MS (5 s); B must then refuse it.
//
// When B heard the change is read from B's own log line for the invalidation, stamped by the same clock as the
// test's: the time to B's first refusal also holds one whole request to B, which alone can take over 100 ms on a
// busy machine. That end-to-end time is in every assertion message.
import { execFile } from 'node:child_process'
import { randomUUID } from 'node:crypto'
import { eq } from 'drizzle-orm'
import pino from 'pino'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { apiKeys } from '../../src/db/schema.js'
import { signPayload } from '../../src/modules/ingest/signature.js'
import { type DatabaseHandle, openDatabase } from '../../src/platform/database.js'
import { migrate } from '../../src/platform/migrations.js'
import { ADMIN_TOKEN, REDIS_URL } from '../helpers/app.js'
import { createTestDatabase, type TestDatabase } from '../helpers/database.js'
import { productUpserted } from '../helpers/ingest.js'
import { TEST_ENCRYPTION_KEY } from '../helpers/secrets.js'
import { type ServerProcess, startServerProcess } from '../helpers/server-process.js'
import { createTenant } from '../helpers/tenants.js'

const serverDir = new URL('../../', import.meta.url).pathname
/** The bound this feature promises; without invalidation the other replica would answer from cache for 5 s. */
const PROPAGATION_BOUND_MS = 100
const OLD_SECRET = 'the-old-signing-secret-0123456789'
const NEW_SECRET = 'the-new-signing-secret-0123456789'

/** Sends `request` until it is answered with `status`; says what it got, with the ms since `since`. */
async function answeredWith(
  status: number,
  since: number,
  request: () => Promise<Response>,
): Promise<string> {
  const answers: string[] = []
  for (;;) {
    const res = await request()
    await res.body?.cancel()
    const elapsedMs = Date.now() - since
    answers.push(`${res.status} at ${elapsedMs} ms`)
    if (res.status === status) return answers.join(', ')
    // Longer than the cache TTL: even an entry no message dropped has expired by then.
    if (elapsedMs > 10_000) throw new Error(`not ${status} after 10 s: ${answers.slice(-3).join(', ')}`)
  }
}

describe('invalidation of cached credentials across real server processes', () => {
  let database: TestDatabase
  let handle: DatabaseHandle
  let tenantId: string
  let a: string
  let b: string
  const servers: ServerProcess[] = []
  // One deployment of two replicas, alone under its prefix: no other test's message reaches it.
  const keyPrefix = `test:${randomUUID()}:`

  beforeAll(async () => {
    database = await createTestDatabase()
    handle = await openDatabase({ databaseUrl: database.url, dataDir: '', log: pino({ level: 'silent' }) })
    await migrate(handle.db)
    tenantId = (await createTenant(handle.db)).tenantId
    const env = {
      DATABASE_URL: database.url,
      ADMIN_TOKEN,
      REDIS_URL,
      REDIS_KEY_PREFIX: keyPrefix,
      SHUTDOWN_READINESS_DELAY_MS: '0',
      // B logs each invalidation it receives at debug: that line says when it dropped its entries.
      LOG_LEVEL: 'debug',
    }
    servers.push(startServerProcess(env), startServerProcess(env))
    const urls = await Promise.all(
      servers.map(async (server) => {
        // Generous: two servers start at once on a machine that may be busy.
        const listening = await server.waitForLine((line) => typeof line.address === 'string', 90_000)
        await server.waitForLine((line) => line.msg === 'start-up complete', 30_000)
        await server.waitForLine((line) => line.msg === 'receiving cache invalidations')
        return listening.address as string
      }),
    )
    a = urls[0]!
    b = urls[1]!
  }, 150_000)
  afterAll(async () => {
    for (const server of servers) {
      server.child.kill('SIGTERM')
      await server.exited
    }
    await handle?.close()
    await database?.drop()
  })

  function admin(url: string, method: 'POST' | 'DELETE', path: string, body?: object): Promise<Response> {
    return fetch(`${url}/v1/admin/tenants/${tenantId}${path}`, {
      method,
      headers: {
        authorization: `Bearer ${ADMIN_TOKEN}`,
        ...(body && { 'content-type': 'application/json' }),
      },
      ...(body && { body: JSON.stringify(body) }),
    })
  }

  async function createKey(): Promise<{ id: string; key: string }> {
    const res = await admin(a, 'POST', '/api-keys', { name: 'till' })
    expect(res.status).toBe(201)
    return (await res.json()) as { id: string; key: string }
  }

  /**
   * Makes a change that publishes an invalidation (`change` resolves once A or the CLI has answered), and
   * resolves with how many ms after that answer B logged receiving it (negative: before the answer arrived).
   */
  async function reachesB(change: () => Promise<void>): Promise<{ changedAt: number; heardMs: number }> {
    const replica = servers[1]!
    // Every earlier change's line was waited for, so the first such line from here on is this change's.
    const seen = replica.lines.length
    await change()
    const changedAt = Date.now()
    const heard = await replica.waitForLine(
      (line) => line.msg === 'cache invalidation received' && replica.lines.indexOf(line) >= seen,
    )
    return { changedAt, heardMs: Date.parse(String(heard.time)) - changedAt }
  }

  const read = (url: string, key: string) =>
    fetch(`${url}/v1/products`, { headers: { authorization: `Bearer ${key}` } })

  it("refuses on B a key revoked through A's admin API within 100 ms", async () => {
    const { id, key } = await createKey()
    expect((await read(b, key)).status).toBe(200)

    const { changedAt, heardMs } = await reachesB(async () => {
      expect((await admin(a, 'POST', `/api-keys/${id}/revoke`)).status).toBe(200)
    })
    const answers = await answeredWith(401, changedAt, () => read(b, key))
    expect(heardMs, `B heard it ${heardMs} ms after A answered; then answered ${answers}`).toBeLessThan(
      PROPAGATION_BOUND_MS,
    )
  })

  it('(the control) still accepts on B, from its cache, a key revoked behind its back in the database', async () => {
    const { id, key } = await createKey()
    expect((await read(b, key)).status).toBe(200)
    await handle.db.update(apiKeys).set({ revokedAt: new Date() }).where(eq(apiKeys.id, id))
    // Nothing was published: B answers from the entry it cached a moment ago (the TTL is 5 s).
    expect((await read(b, key)).status).toBe(200)
  })

  it('refuses on B a request signed with a secret rotated and retired on A within 100 ms', async () => {
    const { key } = await createKey()
    let sourceId = ''
    await reachesB(async () => {
      const created = await admin(a, 'POST', '/sources', {
        name: 'till',
        kind: 'sdk',
        signingSecret: OLD_SECRET,
      })
      expect(created.status).toBe(201)
      sourceId = ((await created.json()) as { id: string }).id
    })
    const ingest = (url: string, secret: string) => {
      const body = JSON.stringify({ events: [productUpserted(`SKU-${randomUUID()}`)] })
      return fetch(`${url}/v1/ingest/till`, {
        method: 'POST',
        headers: {
          authorization: `Bearer ${key}`,
          'content-type': 'application/json',
          'idempotency-key': randomUUID(),
          'x-signature': signPayload(secret, Math.floor(Date.now() / 1000), body),
        },
        body,
      })
    }
    expect((await ingest(b, OLD_SECRET)).status).toBe(201)

    const rotation = await reachesB(async () => {
      const rotated = await admin(a, 'POST', `/sources/${sourceId}/rotate-secret`, {
        signingSecret: NEW_SECRET,
      })
      expect(rotated.status).toBe(200)
    })
    expect(rotation.heardMs).toBeLessThan(PROPAGATION_BOUND_MS)
    const { changedAt, heardMs } = await reachesB(async () => {
      expect((await admin(a, 'POST', `/sources/${sourceId}/retire-previous-secret`)).status).toBe(200)
    })
    const answers = await answeredWith(403, changedAt, () => ingest(b, OLD_SECRET))
    expect(heardMs, `B heard it ${heardMs} ms after A answered; then answered ${answers}`).toBeLessThan(
      PROPAGATION_BOUND_MS,
    )
    expect((await ingest(b, NEW_SECRET)).status).toBe(201)
  })

  it('refuses on B a key revoked through the CLI, a process of its own, within 100 ms', async () => {
    const { id, key } = await createKey()
    expect((await read(b, key)).status).toBe(200)

    const { changedAt, heardMs } = await reachesB(async () => {
      const cli = await new Promise<{ code: number; stderr: string }>((resolve) => {
        execFile(
          process.execPath,
          ['--import', 'tsx', 'src/cli/index.ts', 'key:revoke', tenantId, id],
          {
            cwd: serverDir,
            env: {
              PATH: process.env.PATH ?? '',
              DATABASE_URL: database.url,
              REDIS_URL,
              REDIS_KEY_PREFIX: keyPrefix,
              ENCRYPTION_KEY: TEST_ENCRYPTION_KEY,
            },
          },
          (error, _stdout, stderr) => resolve({ code: error ? Number(error.code) : 0, stderr }),
        )
      })
      expect(cli).toEqual({ code: 0, stderr: '' })
    })
    const answers = await answeredWith(401, changedAt, () => read(b, key))
    expect(heardMs, `B heard it ${heardMs} ms after the CLI exited; then answered ${answers}`).toBeLessThan(
      PROPAGATION_BOUND_MS,
    )
  })
})
