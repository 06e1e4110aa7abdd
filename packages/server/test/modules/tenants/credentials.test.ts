import { createHash } from 'node:crypto'
import { sql } from 'drizzle-orm'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { ADMIN_TOKEN, startTestApp, type TestApp } from '../../helpers/app.js'

// What the admin API changes, as the request path sees it: API keys through authenticate(), sources through
// findSource(). Both are cached for a few seconds; a change made through this process must show at once.
describe('credentials managed through the admin API', () => {
  let t: TestApp
  let tenantId: string
  beforeAll(async () => {
    t = await startTestApp()
    tenantId = (await admin('POST', '/v1/admin/tenants', { name: 'acme' })).json().id
  })
  afterAll(() => t.close())

  function admin(method: 'GET' | 'POST' | 'DELETE', url: string, body?: object) {
    return t.app.inject({
      method,
      url,
      headers: { authorization: `Bearer ${ADMIN_TOKEN}` },
      ...(body === undefined ? {} : { payload: body }),
    })
  }

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
      expect(await t.app.tenants.authenticate(key)).toEqual({
        tenantId,
        apiKeyId: id,
        scopes: ['ingest', 'read'],
        rateLimit: null,
      })
    })

    it('stops authenticating right after it is revoked, although it was just cached', async () => {
      const { id, key } = await createKey()
      expect(await t.app.tenants.authenticate(key)).toBeDefined()
      expect((await admin('POST', `/v1/admin/tenants/${tenantId}/api-keys/${id}/revoke`)).statusCode).toBe(
        200,
      )
      expect(await t.app.tenants.authenticate(key)).toBeUndefined()
    })

    it('stops authenticating right after it is deleted', async () => {
      const { id, key } = await createKey()
      expect(await t.app.tenants.authenticate(key)).toBeDefined()
      expect((await admin('DELETE', `/v1/admin/tenants/${tenantId}/api-keys/${id}`)).statusCode).toBe(204)
      expect(await t.app.tenants.authenticate(key)).toBeUndefined()
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
  })

  describe('a source', () => {
    const first = 'first-signing-secret-0001'
    const second = 'second-signing-secret-0002'
    const third = 'third-signing-secret-0003'

    async function createSource(name: string, signingSecret?: string): Promise<string> {
      const res = await admin('POST', `/v1/admin/tenants/${tenantId}/sources`, {
        name,
        kind: 'custom',
        ...(signingSecret && { signingSecret }),
      })
      expect(res.statusCode).toBe(201)
      return res.json().id
    }

    async function secretsOf(name: string): Promise<readonly string[] | undefined> {
      return (await t.app.tenants.findSource(tenantId, name))?.signingSecrets
    }

    it('is found by name once created, even when a lookup just missed it', async () => {
      expect(await t.app.tenants.findSource(tenantId, 'late')).toBeUndefined()
      const id = await createSource('late', first)
      expect(await t.app.tenants.findSource(tenantId, 'late')).toEqual({
        id,
        tenantId,
        name: 'late',
        kind: 'custom',
        signingSecrets: [first],
      })
    })

    it('keeps the previous secret valid through a rotation, at most two, until it is retired', async () => {
      const id = await createSource('rotating', first)
      const base = `/v1/admin/tenants/${tenantId}/sources/${id}`
      expect(await secretsOf('rotating')).toEqual([first])

      await admin('POST', `${base}/rotate-secret`, { signingSecret: second })
      expect(await secretsOf('rotating')).toEqual([second, first])

      await admin('POST', `${base}/rotate-secret`, { signingSecret: third })
      expect(await secretsOf('rotating')).toEqual([third, second])

      expect((await admin('POST', `${base}/retire-previous-secret`)).json().signed).toBe(true)
      expect(await secretsOf('rotating')).toEqual([third])
      // Retiring again leaves the current secret alone.
      await admin('POST', `${base}/retire-previous-secret`)
      expect(await secretsOf('rotating')).toEqual([third])
    })

    it('that was unsigned becomes signed by a rotation', async () => {
      const id = await createSource('unsigned')
      expect(await secretsOf('unsigned')).toEqual([])
      const res = await admin('POST', `/v1/admin/tenants/${tenantId}/sources/${id}/rotate-secret`, {
        signingSecret: first,
      })
      expect(res.json().signed).toBe(true)
      expect(await secretsOf('unsigned')).toEqual([first])
    })

    it('is no longer found right after it is deleted', async () => {
      const id = await createSource('doomed', first)
      expect(await t.app.tenants.findSource(tenantId, 'doomed')).toBeDefined()
      expect((await admin('DELETE', `/v1/admin/tenants/${tenantId}/sources/${id}`)).statusCode).toBe(204)
      expect(await t.app.tenants.findSource(tenantId, 'doomed')).toBeUndefined()
    })

    it('keeps its secret out of the log when storing it fails', async () => {
      const { repository } = t.app.tenants
      await createSource('failing', first)
      // A NUL character is the one thing PostgreSQL text refuses; the API never lets one through. A secret
      // with one is stored (encrypted); a name with one fails the insert, whose parameters hold the secret.
      const failures = [
        repository.createSource(tenantId, { name: 'broken\u0000', kind: 'sdk', signingSecrets: [second] }),
      ]
      for (const failure of failures) {
        const err = await failure.then(
          () => expect.unreachable('storing a NUL character succeeded'),
          (e: unknown) => e as Error,
        )
        // Drizzle's error quotes every parameter; the logger must serialise it without them.
        t.app.log.error({ err }, 'storing a source failed')
        const logged = t.logs.lines.findLast((line) => line.msg === 'storing a source failed')
        expect(logged?.err).toMatchObject({ type: 'DatabaseError', code: expect.stringMatching(/^22/) })
        expect(JSON.stringify(logged)).not.toContain(second)
        expect(JSON.stringify(logged)).not.toContain('v1:')
      }
      expect(await secretsOf('failing')).toEqual([first])
    })

    it('keeps its secrets, and API keys, out of the log (after all of the above)', async () => {
      expect(t.logs.text()).not.toContain('signing-secret-000')
      expect(t.logs.text()).not.toContain('pos_')
    })
  })
})
