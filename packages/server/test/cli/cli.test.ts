import { execFile } from 'node:child_process'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { type DatabaseHandle, openDatabase } from '../../src/platform/database.js'
import { createLogger } from '../../src/platform/logger.js'
import { migrate } from '../../src/platform/migrations.js'
import { type CliResult, runCliOn } from '../helpers/cli.js'
import { createTestDatabase, type TestDatabase } from '../helpers/database.js'
import { TEST_ENCRYPTION_KEY } from '../helpers/secrets.js'
import { freshServices } from '../helpers/tenants.js'

const serverDir = new URL('../../', import.meta.url).pathname
const NO_SUCH_ID = '00000000-0000-4000-8000-000000000000'
const SECRET = 'a-signing-secret-of-some-length'

// The environment of every run has DATABASE_URL and ENCRYPTION_KEY (for signing secrets) and no ADMIN_TOKEN:
// the CLI must not need one.
describe('the admin CLI', () => {
  let database: TestDatabase
  let handle: DatabaseHandle
  beforeAll(async () => {
    database = await createTestDatabase()
    handle = await openDatabase({
      databaseUrl: database.url,
      dataDir: '',
      log: createLogger({ level: 'silent' }),
    })
    await migrate(handle.db)
  })
  afterAll(async () => {
    await handle.close()
    await database.drop()
  })

  const cli = (...argv: string[]) => runCliOn(database.url, argv)

  async function json<T>(...argv: string[]): Promise<T> {
    const result = await cli(...argv, '--json')
    expect(result, result.stderr).toMatchObject({ code: 0, stderr: '' })
    return JSON.parse(result.stdout) as T
  }

  /** What the request path sees: fresh services, with nothing cached. */
  const fresh = () => freshServices(handle.db)

  describe('as a child process, the way `npm run cli --` runs it', () => {
    function spawnCli(...args: string[]): Promise<CliResult> {
      return new Promise((resolve) => {
        execFile(
          process.execPath,
          ['--import', 'tsx', 'src/cli/index.ts', ...args],
          {
            cwd: serverDir,
            env: {
              PATH: process.env.PATH ?? '',
              DATABASE_URL: database.url,
              ENCRYPTION_KEY: TEST_ENCRYPTION_KEY,
            },
          },
          (error, stdout, stderr) => resolve({ code: error ? Number(error.code) : 0, stdout, stderr }),
        )
      })
    }

    it('creates a tenant and a key that authenticates, lists keys, and revokes the key', async () => {
      const created = await spawnCli('tenant:create', 'Corner Café', '--json')
      expect(created).toMatchObject({ code: 0, stderr: '' })
      const tenant = JSON.parse(created.stdout)
      expect(tenant).toEqual({
        id: expect.any(String),
        name: 'Corner Café',
        rateLimit: null,
        createdAt: expect.any(String),
      })

      const keyRun = await spawnCli('key:create', tenant.id, 'till 1', '--scopes', 'ingest,read')
      expect(keyRun).toMatchObject({ code: 0, stderr: '' })
      expect(keyRun.stdout).toContain('shown only now')
      const key = /^pos_\S{32}$/m.exec(keyRun.stdout)?.[0] ?? ''
      const principal = await fresh().apiKeys.authenticate(key)
      expect(principal).toMatchObject({ tenantId: tenant.id, scopes: ['ingest', 'read'] })

      const [listed, revoked] = await Promise.all([
        spawnCli('key:list', tenant.id),
        spawnCli('key:revoke', tenant.id, principal?.apiKeyId ?? ''),
      ])
      expect(listed.stdout).toMatch(
        new RegExp(`^${principal?.apiKeyId}\\s+till 1\\s+${key.slice(0, 16)}\\s`, 'm'),
      )
      expect(listed.stdout).not.toContain(key)
      expect(revoked).toMatchObject({ code: 0, stdout: expect.stringMatching(/^Revoked API key "till 1"/) })
      expect(await fresh().apiKeys.authenticate(key)).toBeUndefined()
    })

    it('exits 2 with the usage on stderr for an unknown command, and 1 for an unknown id', async () => {
      const [unknownCommand, unknownTenant] = await Promise.all([
        spawnCli('tenant:explode'),
        spawnCli('source:list', NO_SUCH_ID),
      ])
      expect(unknownCommand).toMatchObject({ code: 2, stdout: '' })
      expect(unknownCommand.stderr).toMatch(
        /^error: unknown command tenant:explode\n\nusage: npm run cli -- /,
      )
      expect(unknownTenant).toMatchObject({ code: 1, stdout: '', stderr: `error: No tenant ${NO_SUCH_ID}\n` })
    })
  })

  it('creates, lists and deletes sources, signed or not, never printing a secret', async () => {
    const tenant = await json<{ id: string }>('tenant:create', 'acme')
    const signed = await json<{ id: string }>(
      'source:create',
      tenant.id,
      'shop-1',
      'shopify',
      '--signing-secret',
      SECRET,
    )
    expect(signed).toMatchObject({ name: 'shop-1', kind: 'shopify', signed: true })
    expect((await fresh().sources.findSource(tenant.id, 'shop-1'))?.signingSecrets).toEqual([SECRET])

    const unsigned = await cli('source:create', tenant.id, 'web', 'sdk')
    expect(unsigned).toMatchObject({
      code: 0,
      stdout: expect.stringMatching(/^Created unsigned sdk source "web": /),
    })

    const listed = await cli('source:list', tenant.id)
    expect(listed.stdout).toMatch(new RegExp(`^${signed.id}\\s+shop-1\\s+shopify\\s+yes\\s+\\S+$`, 'm'))
    expect(listed.stdout).toMatch(/^\S+\s+web\s+sdk\s+no\s+\S+$/m)
    expect(listed.stdout + unsigned.stdout + JSON.stringify(signed)).not.toContain(SECRET)

    expect(await cli('source:delete', tenant.id, signed.id)).toMatchObject({
      code: 0,
      stdout: `Deleted source ${signed.id}\n`,
    })
    expect(
      (await json<{ data: { name: string }[] }>('source:list', tenant.id)).data.map((s) => s.name),
    ).toEqual(['web'])
    expect(await fresh().sources.findSource(tenant.id, 'shop-1')).toBeUndefined()
  })

  it('lists tenants, and keys with their revocation time, as tables or JSON', async () => {
    const tenant = await json<{ id: string }>('tenant:create', 'listed')
    const key = await json<{ id: string; key: string; scopes: string[] }>(
      'key:create',
      tenant.id,
      'backoffice',
    )
    expect(key.scopes).toEqual(['ingest', 'read', 'write', 'webhooks'])
    expect((await cli('tenant:list')).stdout).toMatch(new RegExp(`^${tenant.id}\\s+listed\\s+\\S+$`, 'm'))
    expect((await cli('key:list', tenant.id)).stdout).toMatch(
      /^ID\s+NAME\s+PREFIX\s+SCOPES\s+CREATED\s+REVOKED$/m,
    )

    await cli('key:revoke', tenant.id, key.id)
    const keys = await json<{ data: { id: string; revokedAt: string | null }[] }>('key:list', tenant.id)
    expect(keys.data).toEqual([expect.objectContaining({ id: key.id, revokedAt: expect.any(String) })])
    expect(JSON.stringify(keys)).not.toContain(key.key)
  })

  it('sets a tenant rate limit and returns it to the default', async () => {
    const tenant = await json<{ id: string }>('tenant:create', 'Limited')
    const limited = await json<{ rateLimit: unknown }>(
      'tenant:rate-limit',
      tenant.id,
      '--max',
      '120',
      '--window-ms',
      '60000',
    )
    expect(limited.rateLimit).toEqual({ max: 120, windowMs: 60_000 })
    const text = await cli('tenant:rate-limit', tenant.id)
    expect(text).toMatchObject({ code: 0, stdout: expect.stringContaining("the service's default") })
    expect((await cli('tenant:rate-limit', tenant.id, '--max', '5')).code).toBe(2)
    const bad = await cli('tenant:rate-limit', tenant.id, '--max', '120', '--window-ms', '1500')
    expect(bad.code).toBe(2)
    expect(bad.stderr).toContain('windowMs')
  })

  it('shows the usage with exit code 0 for help', async () => {
    const help = await cli('help')
    expect(help).toMatchObject({ code: 0, stderr: '' })
    for (const command of [
      'tenant:create <name>',
      'tenant:list',
      'key:create <tenantId> <name> [--scopes ingest,read]',
      'key:list <tenantId>',
      'key:revoke <tenantId> <keyId>',
      'source:create <tenantId> <name> <kind> [--signing-secret SECRET] [--signature-key VALUE]',
      'source:list <tenantId>',
      'source:delete <tenantId> <sourceId>',
    ]) {
      expect(help.stdout).toContain(`  ${command}`)
    }
  })

  it.each([
    ['no command', []],
    ['a missing argument', ['key:create', NO_SUCH_ID]],
    ['an extra argument', ['tenant:list', 'extra']],
    ['an unknown option', ['tenant:list', '--all']],
    ['an option without its value', ['key:create', NO_SUCH_ID, 'k', '--scopes']],
    ['an unknown scope', ['key:create', NO_SUCH_ID, 'k', '--scopes', 'ingest,admin']],
    ['an empty tenant name', ['tenant:create', '']],
    ['a source name that is not a slug', ['source:create', NO_SUCH_ID, 'Shop', 'sdk']],
    ['an unknown source kind', ['source:create', NO_SUCH_ID, 'shop', 'clover']],
    ['a short signing secret', ['source:create', NO_SUCH_ID, 'shop', 'sdk', '--signing-secret', 'short']],
  ])('answers %s with the usage on stderr and exit code 2', async (_case, argv) => {
    const result = await cli(...argv)
    expect(result).toMatchObject({ code: 2, stdout: '' })
    expect(result.stderr).toMatch(/^error: .+\n\nusage: npm run cli -- <command>/)
  })

  it('refuses the reserved source name api with exit code 2', async () => {
    const tenant = await json<{ id: string }>('tenant:create', 'reserved')
    const result = await cli('source:create', tenant.id, 'api', 'sdk')
    expect(result).toMatchObject({
      code: 2,
      stdout: '',
      stderr: expect.stringContaining('"api" is reserved'),
    })
  })

  it('answers unknown or malformed ids and duplicate names with an error and exit code 1', async () => {
    const tenant = await json<{ id: string }>('tenant:create', 'errors')
    await json('source:create', tenant.id, 'till', 'sdk')
    expect(await cli('key:list', NO_SUCH_ID)).toEqual({
      code: 1,
      stdout: '',
      stderr: `error: No tenant ${NO_SUCH_ID}\n`,
    })
    expect(await cli('key:create', 'not-a-uuid', 'k')).toMatchObject({
      code: 1,
      stderr: 'error: No tenant not-a-uuid\n',
    })
    expect(await cli('key:revoke', tenant.id, NO_SUCH_ID)).toMatchObject({
      code: 1,
      stderr: /^error: No API key/,
    })
    expect(await cli('source:delete', tenant.id, 'nope')).toMatchObject({
      code: 1,
      stderr: /^error: No source/,
    })
    expect(await cli('source:create', tenant.id, 'till', 'custom')).toMatchObject({
      code: 1,
      stderr: expect.stringContaining('already has a source named "till"'),
    })
  })
})
