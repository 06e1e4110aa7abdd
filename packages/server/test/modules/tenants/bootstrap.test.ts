import { mkdtempSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterEach, describe, expect, it } from 'vitest'
import { localUrl, startBanner } from '../../../src/modules/tenants/bootstrap.js'
import { openDatabase } from '../../../src/platform/database.js'
import { createLogger } from '../../../src/platform/logger.js'
import { type ServerProcess, startServerProcess } from '../../helpers/server-process.js'
import { freshServices } from '../../helpers/tenants.js'
import { waitFor } from '../../helpers/wait.js'

interface Listing {
  readonly data: { readonly id: string; readonly [field: string]: unknown }[]
}

/** GET of an admin listing with the given admin token. */
async function adminList(url: string, adminToken: string): Promise<Listing> {
  const res = await fetch(url, { headers: { authorization: `Bearer ${adminToken}` } })
  expect(res.status).toBe(200)
  return (await res.json()) as Listing
}

/** Resolves once the server has written text to stderr that the predicate accepts. */
async function stderrWhen(server: ServerProcess, accept: (text: string) => boolean): Promise<string> {
  const accepted = () => {
    const text = server.stderr()
    return accept(text) ? text : undefined
  }
  try {
    return await waitFor(accepted, { description: `stderr output that ${accept} accepts`, timeoutMs: 60_000 })
  } catch (err) {
    throw new Error(`${(err as Error).message}; stderr so far: ${server.stderr()}`, { cause: err })
  }
}

describe('the start banner', () => {
  it('shows a wildcard listening address as localhost', () => {
    expect(localUrl('http://0.0.0.0:3000')).toBe('http://localhost:3000')
    expect(localUrl('http://[::]:8080')).toBe('http://localhost:8080')
    expect(localUrl('http://127.0.0.1:4000')).toBe('http://127.0.0.1:4000')
  })

  it('is empty when nothing was generated', () => {
    expect(startBanner({ address: 'http://0.0.0.0:3000' })).toBe('')
  })

  it('holds ready-to-paste curl commands for the demo key', () => {
    const banner = startBanner({
      address: 'http://0.0.0.0:3000',
      demo: { tenantId: 't', sourceName: 'demo', apiKey: 'pos_KEY' },
      now: new Date('2025-01-02T03:04:05.678Z'),
      eventId: 'demo-0a1b2c3d',
    })
    const events = {
      events: [
        {
          id: 'demo-0a1b2c3d',
          type: 'product.upserted',
          occurredAt: '2025-01-02T03:04:05.678Z',
          data: { sku: 'SKU-1', name: 'Coffee', price: { amount: 350, currency: 'EUR' } },
        },
      ],
    }
    expect(banner).toContain(
      "curl -X POST http://localhost:3000/v1/ingest/demo -H 'Authorization: Bearer pos_KEY' " +
        "-H 'Content-Type: application/json' -H 'Idempotency-Key: demo-0a1b2c3d' " +
        `-d '${JSON.stringify(events)}'\n`,
    )
    expect(banner).toContain("curl http://localhost:3000/v1/products -H 'Authorization: Bearer pos_KEY'\n")
    // How to get a new key, both ways.
    expect(banner).toContain('curl -X POST http://localhost:3000/v1/admin/tenants/t/api-keys')
    expect(banner).toContain('npm run cli -- key:create t demo\n')
    expect(banner).not.toContain('Admin token')
  })
})

// The real server on a fresh embedded database, as `npm start` runs it the first time, then once more.
describe('the first start on the embedded database', () => {
  let server: ServerProcess | undefined
  afterEach(() => server?.kill())

  async function start(dataDir: string): Promise<{ server: ServerProcess; url: string }> {
    server = startServerProcess({ DATA_DIR: dataDir, SHUTDOWN_READINESS_DELAY_MS: '0' })
    return { server, url: await server.url() }
  }

  async function stop(s: ServerProcess): Promise<void> {
    s.child.kill('SIGTERM')
    expect(await s.exited).toBe(0)
  }

  it('creates the demo tenant and shows its key once; a second start creates and shows nothing new', async () => {
    const dataDir = mkdtempSync(join(tmpdir(), 'pos-bootstrap-'))
    const first = await start(dataDir)
    const banner = await stderrWhen(first.server, (text) => text.includes('/v1/products'))

    const adminToken = /^ {4}([A-Za-z0-9_-]{43})$/m.exec(banner)?.[1] ?? ''
    const apiKey = /^ {4}(pos_[A-Za-z0-9_-]{32})$/m.exec(banner)?.[1] ?? ''
    expect(adminToken).not.toBe('')
    expect(apiKey).not.toBe('')
    const ingest = /^ {4}curl -X POST (\S+) -H 'Authorization: Bearer (\S+)' .* -d '(.+)'$/m.exec(banner)
    expect(ingest?.slice(1, 3)).toEqual([`${first.url}/v1/ingest/demo`, apiKey])
    const body = JSON.parse(ingest?.[3] ?? '')
    expect(body.events[0]).toMatchObject({
      id: expect.stringMatching(/^demo-[0-9a-f]{8}$/),
      type: 'product.upserted',
      data: { sku: 'SKU-1' },
    })
    expect(Math.abs(Date.parse(body.events[0].occurredAt) - Date.now())).toBeLessThan(60_000)
    expect(banner).toContain(`curl ${first.url}/v1/products -H 'Authorization: Bearer ${apiKey}'`)

    // Secrets go to the terminal, never into the log.
    const log = JSON.stringify(first.server.lines)
    expect(log).not.toContain(apiKey)
    expect(log).not.toContain(adminToken)

    // The generated admin token opens the admin API, and shows the demo tenant with its source.
    const tenants = await adminList(`${first.url}/v1/admin/tenants`, adminToken)
    expect(tenants.data).toEqual([expect.objectContaining({ name: 'demo' })])
    const tenantId = tenants.data[0]?.id
    const sources = await adminList(`${first.url}/v1/admin/tenants/${tenantId}/sources`, adminToken)
    expect(sources.data).toEqual([expect.objectContaining({ name: 'demo', kind: 'sdk', signed: false })])
    expect(
      (await fetch(`${first.url}/v1/admin/tenants`, { headers: { authorization: 'Bearer wrong' } })).status,
    ).toBe(401)
    await stop(first.server)

    // The printed key is the demo tenant's, with every scope.
    const database = await openDatabase({
      databaseUrl: undefined,
      dataDir,
      log: createLogger({ level: 'silent' }),
    })
    try {
      // Authentication reads no secret: any key will do.
      expect(await freshServices(database.db).apiKeys.authenticate(apiKey)).toMatchObject({
        tenantId,
        scopes: ['ingest', 'read', 'write', 'webhooks'],
      })
    } finally {
      await database.close()
    }

    // Second start: a new admin token for this run, but no new tenant and no key.
    const second = await start(dataDir)
    const again = await stderrWhen(second.server, (text) => text.includes('Admin token'))
    const newAdminToken = /^ {4}([A-Za-z0-9_-]{43})$/m.exec(again)?.[1] ?? ''
    expect(newAdminToken).not.toBe(adminToken)
    expect(again).not.toContain('pos_')
    expect(again).not.toContain('/v1/ingest')
    expect((await adminList(`${second.url}/v1/admin/tenants`, newAdminToken)).data).toEqual(tenants.data)
    await stop(second.server)
  }, 120_000)
})
