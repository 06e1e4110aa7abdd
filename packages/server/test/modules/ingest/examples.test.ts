// The examples a new user pastes first: the README's ingest example and the start banner's. Each must store its
// event whichever runs first, and a batch that stores nothing must say so.
import { readFileSync } from 'node:fs'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { startBanner } from '../../../src/modules/tenants/bootstrap.js'
import { startTestApp, type TestApp } from '../../helpers/app.js'
import { ingest } from '../../helpers/ingest.js'
import { createTenant } from '../../helpers/tenants.js'

const README = readFileSync(new URL('../../../../../README.md', import.meta.url), 'utf8')

/** The JSON bodies of the README's `curl … /v1/ingest/demo` examples. */
function readmeIngestBodies(): string[] {
  const blocks = README.match(/curl -X POST \S*\/v1\/ingest\/demo[^`]*?-d '([^']+)'/g) ?? []
  return blocks.map((block) => /-d '([^']+)'/.exec(block)?.[1] ?? '')
}

/** The body of the banner's ingest curl, as a fresh start prints it. */
function bannerBody(): string {
  const banner = startBanner({
    address: 'http://0.0.0.0:3000',
    demo: { tenantId: 't', sourceName: 'demo', apiKey: 'pos_KEY' },
  })
  return /\/v1\/ingest\/demo .* -d '(.+)'$/m.exec(banner)?.[1] ?? ''
}

describe('the first examples', () => {
  let t: TestApp
  beforeAll(async () => {
    t = await startTestApp()
  })
  afterAll(() => t.close())

  it('finds the README example and the banner example', () => {
    expect(readmeIngestBodies().length).toBeGreaterThan(0)
    expect(JSON.parse(bannerBody()).events).toHaveLength(1)
  })

  it.each([
    ['the banner first', () => [bannerBody(), ...readmeIngestBodies()]],
    ['the README first', () => [...readmeIngestBodies(), bannerBody()]],
  ])('stores every example on the demo source, %s', async (_order, bodies) => {
    const { key } = await createTenant(t.platform.database.db, { name: 'demo', source: 'demo' })
    for (const body of bodies()) {
      const res = await ingest(t.app, { key, source: 'demo', body })
      expect(res.statusCode, res.body).toBe(201)
      expect(res.json()).toMatchObject({ accepted: JSON.parse(body).events.length, duplicates: 0 })
      expect(res.json().detail).toBeUndefined()
    }
  })

  it('says plainly that nothing was stored when every event was a duplicate', async () => {
    const { key } = await createTenant(t.platform.database.db, { name: 'demo', source: 'demo' })
    const body = bannerBody()
    expect((await ingest(t.app, { key, source: 'demo', body })).statusCode).toBe(201)
    const again = await ingest(t.app, { key, source: 'demo', body })
    expect(again.statusCode).toBe(201)
    expect(again.json()).toMatchObject({ accepted: 0, duplicates: 1, eventIds: [] })
    expect(again.json().detail).toMatch(/^Nothing new was stored\. Its one event was stored before/)
  })
})
