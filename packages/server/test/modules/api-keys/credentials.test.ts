import { createHash } from 'node:crypto'
import { sql } from 'drizzle-orm'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { adminApi } from '../../helpers/admin-api.js'
import { startTestApp, type TestApp } from '../../helpers/app.js'

// What the admin API changes of API keys, as the request path sees it: through authenticate(), whose answers
// are cached for a few seconds; a change made through this process must show at once.
describe('credentials managed through the admin API', () => {
  let t: TestApp
  let tenantId: string
  const { admin } = adminApi(() => t)
  beforeAll(async () => {
    t = await startTestApp()
    tenantId = (await admin('POST', '/v1/admin/tenants', { name: 'acme' })).json().id
  })
  afterAll(() => t.close())

  async function createKey(scopes?: string[]): Promise<{ id: string; key: string }> {
    const res = await admin('POST', `/v1/admin/tenants/${tenantId}/api-keys`, {
      name: 'till',
      ...(scopes && { scopes }),
    })
    expect(res.statusCode).toBe(201)
    return res.json()
  }

  describe('an API key', () => {
    it('authenticates, from creation on, as its tenant with its scopes', async () => {
      const { id, key } = await createKey(['ingest', 'read'])
      expect(await t.app.apiKeys.authenticate(key)).toEqual({
        tenantId,
        apiKeyId: id,
        scopes: ['ingest', 'read'],
        rateLimit: null,
      })
    })

    it('stops authenticating right after it is revoked, although it was just cached', async () => {
      const { id, key } = await createKey()
      expect(await t.app.apiKeys.authenticate(key)).toBeDefined()
      expect((await admin('POST', `/v1/admin/tenants/${tenantId}/api-keys/${id}/revoke`)).statusCode).toBe(
        200,
      )
      expect(await t.app.apiKeys.authenticate(key)).toBeUndefined()
    })

    it('stops authenticating right after it is deleted', async () => {
      const { id, key } = await createKey()
      expect(await t.app.apiKeys.authenticate(key)).toBeDefined()
      expect((await admin('DELETE', `/v1/admin/tenants/${tenantId}/api-keys/${id}`)).statusCode).toBe(204)
      expect(await t.app.apiKeys.authenticate(key)).toBeUndefined()
    })

    it('is not stored: its row holds the prefix and the SHA-256, nowhere the key or its secret part', async () => {
      const { id, key } = await createKey()
      const result = await t.platform.database.db.execute<{ row: string }>(
        sql`SELECT row_to_json(k)::text AS row FROM api_keys k WHERE id = ${id}`,
      )
      const row = result.rows[0]?.row ?? ''
      expect(JSON.parse(row)).toMatchObject({
        prefix: key.slice(0, 16),
        key_hash: createHash('sha256').update(key).digest('hex'),
      })
      expect(row).not.toContain(key)
      expect(row).not.toContain(key.slice(16))
    })

    it('is kept out of the log (after all of the above)', async () => {
      expect(t.logs.text()).not.toContain('pos_')
    })
  })
})
