import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { type DatabaseHandle, openDatabase } from '../../../src/platform/database.js'
import { createLogger } from '../../../src/platform/logger.js'
import { migrate } from '../../../src/platform/migrations.js'
import { runCliOn } from '../../helpers/cli.js'
import { createTestDatabase, type TestDatabase } from '../../helpers/database.js'
import { createTenant } from '../../helpers/tenants.js'

describe('the webhook CLI commands', () => {
  let database: TestDatabase
  let handle: DatabaseHandle
  let tenantId: string
  beforeAll(async () => {
    database = await createTestDatabase()
    handle = await openDatabase({
      databaseUrl: database.url,
      dataDir: '',
      log: createLogger({ level: 'silent' }),
    })
    await migrate(handle.db)
    tenantId = (await createTenant(handle.db)).tenantId
  })
  afterAll(async () => {
    await handle.close()
    await database.drop()
  })

  const cli = (...argv: string[]) => runCliOn(database.url, argv)

  it('creates an endpoint (printing its secret once), lists it and deletes it', async () => {
    const created = await cli(
      'webhook:create',
      tenantId,
      'https://93.184.215.14/hooks',
      '--event-types',
      'order.created,refund.created',
      '--json',
    )
    expect(created.code, created.stderr).toBe(0)
    const endpoint = JSON.parse(created.stdout)
    expect(endpoint).toMatchObject({ eventTypes: ['order.created', 'refund.created'] })
    expect(endpoint.secret).toMatch(/^whsec_/)

    const listed = await cli('webhook:list', tenantId)
    expect(listed.stdout).toContain(endpoint.id)
    expect(listed.stdout).not.toContain('whsec_')

    expect((await cli('webhook:delete', tenantId, endpoint.id)).code).toBe(0)
    expect((await cli('webhook:list', tenantId)).stdout).toBe('(none)\n')
    expect((await cli('webhook:delete', tenantId, endpoint.id)).code).toBe(1)
  })

  it('refuses a private target and unknown event types', async () => {
    const privateTarget = await cli('webhook:create', tenantId, 'https://10.0.0.1/hooks')
    expect(privateTarget.code).toBe(1)
    expect(privateTarget.stderr).toMatch(/private/)
    const unknownType = await cli(
      'webhook:create',
      tenantId,
      'https://93.184.215.14/hooks',
      '--event-types',
      'nope',
    )
    expect(unknownType.code).toBe(2)
  })
})
