// Remote configuration of devices: GET /v1/config as a device polls it, the admin API that sets it, and the CLI.
import { randomUUID } from 'node:crypto'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { adminApi } from '../../helpers/admin-api.js'
import { startTestApp, type TestApp } from '../../helpers/app.js'
import { runCliOn } from '../../helpers/cli.js'

const DEFAULTS = {
  syncEnabled: true,
  minFlushIntervalSec: 5,
  maxBatchSize: 100,
  retryCap: 300,
  maintenanceMode: false,
  minSdkVersion: null,
}
const NOTHING_SET = Object.fromEntries(Object.keys(DEFAULTS).map((field) => [field, null]))

describe('device configuration', () => {
  let t: TestApp
  const { admin, createTenant, createSource, createKey, expectProblem } = adminApi(() => t)
  beforeAll(async () => {
    t = await startTestApp()
  })
  afterAll(() => t.close())

  /** A tenant with a source `till` and an API key of the ingest scope only. */
  async function fixture() {
    const tenantId = await createTenant()
    const sourceId = await createSource(tenantId, { name: 'till', kind: 'sdk' })
    const { key } = await createKey(tenantId, { name: 'device', scopes: ['ingest'] })
    return { tenantId, sourceId, key }
  }

  function poll(key: string, query = '', headers: Record<string, string> = {}) {
    return t.app.inject({
      url: `/v1/config${query}`,
      headers: { authorization: `Bearer ${key}`, ...headers },
    })
  }

  it('answers the defaults when nothing is set, to a key of any scope, with a strong ETag', async () => {
    const { key } = await fixture()
    const res = await poll(key)
    expect(res.statusCode).toBe(200)
    expect(res.json()).toEqual(DEFAULTS)
    expect(res.headers.etag).toMatch(/^"[A-Za-z0-9_-]+"$/)
    expect((await poll(key, '?source=till')).json()).toEqual(DEFAULTS)
    expect((await t.app.inject('/v1/config')).statusCode).toBe(401)
  })

  it('answers 304 without a body to a poll that sends the current ETag, and 200 once it changed', async () => {
    const { tenantId, key } = await fixture()
    const first = await poll(key)
    const etag = String(first.headers.etag)
    const unchanged = await poll(key, '', { 'if-none-match': etag })
    expect(unchanged.statusCode).toBe(304)
    expect(unchanged.body).toBe('')
    expect(unchanged.headers.etag).toBe(etag)
    expect((await poll(key, '', { 'if-none-match': `"other", W/${etag}` })).statusCode).toBe(304)

    const patched = await admin('PATCH', `/v1/admin/tenants/${tenantId}/device-config`, { retryCap: 60 })
    expect(patched.statusCode).toBe(200)
    const changed = await poll(key, '', { 'if-none-match': etag })
    expect(changed.statusCode).toBe(200)
    expect(changed.json()).toEqual({ ...DEFAULTS, retryCap: 60 })
    expect(changed.headers.etag).not.toBe(etag)

    // Setting it back gives back the same configuration, so the same tag.
    await admin('PATCH', `/v1/admin/tenants/${tenantId}/device-config`, { retryCap: null })
    expect((await poll(key, '', { 'if-none-match': etag })).statusCode).toBe(304)
  })

  it('applies the tenant settings, then the source overrides, field by field; null clears an override', async () => {
    const { tenantId, sourceId, key } = await fixture()
    const tenantLevel = await admin('PATCH', `/v1/admin/tenants/${tenantId}/device-config`, {
      maxBatchSize: 50,
      minSdkVersion: '1.2.0',
      syncEnabled: false,
    })
    expect(tenantLevel.json()).toEqual({
      settings: { ...NOTHING_SET, maxBatchSize: 50, minSdkVersion: '1.2.0', syncEnabled: false },
      effective: { ...DEFAULTS, maxBatchSize: 50, minSdkVersion: '1.2.0', syncEnabled: false },
      updatedAt: expect.any(String),
    })
    const sourcePath = `/v1/admin/tenants/${tenantId}/sources/${sourceId}/device-config`
    const sourceLevel = await admin('PATCH', sourcePath, { syncEnabled: true, maintenanceMode: true })
    expect(sourceLevel.statusCode).toBe(200)
    expect(sourceLevel.json().settings).toEqual({ ...NOTHING_SET, syncEnabled: true, maintenanceMode: true })

    const tenantWide = { ...DEFAULTS, maxBatchSize: 50, minSdkVersion: '1.2.0', syncEnabled: false }
    expect((await poll(key)).json()).toEqual(tenantWide)
    expect((await poll(key, '?source=till')).json()).toEqual({
      ...tenantWide,
      syncEnabled: true,
      maintenanceMode: true,
    })

    // A later patch leaves the fields it does not name alone; null clears one.
    await admin('PATCH', sourcePath, { syncEnabled: null })
    expect((await poll(key, '?source=till')).json()).toEqual({ ...tenantWide, maintenanceMode: true })
    expect((await admin('GET', sourcePath)).json()).toMatchObject({
      settings: { ...NOTHING_SET, maintenanceMode: true },
      effective: { ...tenantWide, maintenanceMode: true },
    })
    await admin('PATCH', `/v1/admin/tenants/${tenantId}/device-config`, { minSdkVersion: null })
    expect((await poll(key)).json()).toEqual({ ...tenantWide, minSdkVersion: null })
  })

  it('answers 404 for a source the tenant does not have, on the poll and on the admin routes', async () => {
    const mine = await fixture()
    const other = await fixture()
    expectProblem(await poll(mine.key, '?source=nope'), 404, 'not-found')
    // Another tenant's source of the same name is not this tenant's: its overrides never leak.
    await admin('PATCH', `/v1/admin/tenants/${other.tenantId}/sources/${other.sourceId}/device-config`, {
      retryCap: 10,
    })
    expect((await poll(mine.key, '?source=till')).json()).toEqual(DEFAULTS)
    expectProblem(
      await admin('GET', `/v1/admin/tenants/${mine.tenantId}/sources/${other.sourceId}/device-config`),
      404,
      'not-found',
    )
    expectProblem(
      await admin('PATCH', `/v1/admin/tenants/${mine.tenantId}/sources/${other.sourceId}/device-config`, {
        retryCap: 1,
      }),
      404,
      'not-found',
    )
    expectProblem(await admin('GET', `/v1/admin/tenants/${randomUUID()}/device-config`), 404, 'not-found')
  })

  it.each([
    ['a batch size over 500', { maxBatchSize: 501 }],
    ['a batch size of 0', { maxBatchSize: 0 }],
    ['a negative flush interval', { minFlushIntervalSec: -1 }],
    ['a retry cap of 0', { retryCap: 0 }],
    ['a version that is not x.y.z', { minSdkVersion: '1.2' }],
    ['a version with a leading zero', { minSdkVersion: '01.2.3' }],
    ['a string for a boolean', { syncEnabled: 'yes' }],
    ['an unknown field', { flushEverything: true }],
  ])('refuses %s with 422 and stores nothing', async (_case, body) => {
    const { tenantId, key } = await fixture()
    expectProblem(
      await admin('PATCH', `/v1/admin/tenants/${tenantId}/device-config`, body),
      422,
      'validation-failed',
    )
    expect((await poll(key)).json()).toEqual(DEFAULTS)
  })

  it('is set and shown through the CLI', async () => {
    const { tenantId, sourceId, key } = await fixture()
    const cli = (...argv: string[]) => runCliOn(t.database.url, argv)
    const set = await cli('device-config:set', tenantId, '--max-batch-size', '20', '--sync-enabled', 'false')
    expect(set, set.stderr).toMatchObject({ code: 0 })
    const overridden = await cli(
      'device-config:set',
      tenantId,
      '--source',
      sourceId,
      '--min-sdk-version',
      '2.0.1',
      '--json',
    )
    expect(overridden.code).toBe(0)
    expect(JSON.parse(overridden.stdout).effective).toEqual({
      ...DEFAULTS,
      maxBatchSize: 20,
      syncEnabled: false,
      minSdkVersion: '2.0.1',
    })
    const shown = await cli('device-config:show', tenantId)
    expect(shown.stdout).toMatch(/maxBatchSize\s+20 \(set here\)/)
    expect(shown.stdout).toMatch(/retryCap\s+300\n/)
    // What the CLI set is what the tenant's devices get.
    expect((await poll(key, '?source=till')).json()).toMatchObject({
      maxBatchSize: 20,
      minSdkVersion: '2.0.1',
    })

    const refused = await cli('device-config:set', tenantId, '--max-batch-size', '9000')
    expect(refused.code).toBe(2)
    expect(refused.stderr).toContain('maxBatchSize')
  })
})
