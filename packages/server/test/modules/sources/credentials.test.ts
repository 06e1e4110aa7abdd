import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { adminApi } from '../../helpers/admin-api.js'
import { startTestApp, type TestApp } from '../../helpers/app.js'

// What the admin API changes of sources, as the request path sees it: through findSource(), whose answers are
// cached for a few seconds; a change made through this process must show at once.
describe('credentials managed through the admin API', () => {
  let t: TestApp
  let tenantId: string
  const { admin } = adminApi(() => t)
  beforeAll(async () => {
    t = await startTestApp()
    tenantId = (await admin('POST', '/v1/admin/tenants', { name: 'acme' })).json().id
  })
  afterAll(() => t.close())

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
      return (await t.app.sources.findSource(tenantId, name))?.signingSecrets
    }

    it('is found by name once created, even when a lookup just missed it', async () => {
      expect(await t.app.sources.findSource(tenantId, 'late')).toBeUndefined()
      const id = await createSource('late', first)
      expect(await t.app.sources.findSource(tenantId, 'late')).toEqual({
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
      expect(await t.app.sources.findSource(tenantId, 'doomed')).toBeDefined()
      expect((await admin('DELETE', `/v1/admin/tenants/${tenantId}/sources/${id}`)).statusCode).toBe(204)
      expect(await t.app.sources.findSource(tenantId, 'doomed')).toBeUndefined()
    })

    it('keeps its secret out of the log when storing it fails', async () => {
      const { repository } = t.app.sources
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

    it('keeps its secrets out of the log (after all of the above)', async () => {
      expect(t.logs.text()).not.toContain('signing-secret-000')
    })
  })
})
