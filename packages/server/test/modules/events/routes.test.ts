import pg from 'pg'
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest'
import { events } from '../../../src/db/schema.js'
import type { Database } from '../../../src/platform/database.js'
import type { TestApp } from '../../helpers/app.js'
import {
  createTenant,
  getPage,
  type ListPage,
  type SeededTenant,
  startReadApp,
} from '../../helpers/read-seed.js'

const OCCURRED = new Date('2024-07-01T10:00:00.000Z')

async function addEvent(db: Database, tenantId: string, eventId: string, payload: unknown = { n: 1 }) {
  await db.insert(events).values({
    tenantId,
    sourceName: 'till',
    eventId,
    type: 'order.upserted',
    payload,
    occurredAt: OCCURRED,
  })
}

const INSERT_EVENT = `INSERT INTO events (tenant_id, source_name, event_id, type, payload, occurred_at)
  VALUES ($1, 'till', $2, 'order.upserted', '{}', now())`

const ids = (page: ListPage) => page.data.map((item) => item.id)

describe('GET /v1/events', () => {
  let t: TestApp
  let db: Database
  let a: SeededTenant
  let b: SeededTenant
  const clients: pg.Client[] = []

  /** A connection of its own, to hold a transaction open while the API reads. */
  async function connect(): Promise<pg.Client> {
    const client = new pg.Client({ connectionString: t.database.url })
    await client.connect()
    clients.push(client)
    return client
  }

  function feedUrl(after: string | null, limit?: number): string {
    const query = [after === null ? '' : `after=${after}`, limit === undefined ? '' : `limit=${limit}`]
    return `/v1/events?${query.filter(Boolean).join('&')}`
  }

  /**
   * Reads the feed until it shows `expected`. An event becomes readable once every older transaction of the
   * PostgreSQL server has ended, and other test files run transactions on the same server meanwhile.
   */
  function feedShows(key: string, after: string | null, expected: string[]): Promise<ListPage> {
    return vi.waitFor(
      async () => {
        const page = await getPage(t, key, feedUrl(after))
        expect(ids(page)).toEqual(expected)
        return page
      },
      { timeout: 10_000, interval: 10 },
    )
  }

  beforeAll(async () => {
    ;({ t, db, a, b } = await startReadApp())
    await addEvent(db, a.id, 'A-1', { order: { id: 'ORD-1', total: { amount: 1250, currency: 'EUR' } } })
    await addEvent(db, b.id, 'B-1')
    for (const id of ['A-2', 'A-3', 'A-4', 'A-5']) await addEvent(db, a.id, id)
    await addEvent(db, b.id, 'B-2')
  })
  afterAll(async () => {
    await Promise.allSettled(clients.map((client) => client.end()))
    await t.close()
  })

  it('lists the events of the tenant in the order they became visible, with their payload', async () => {
    const page = await feedShows(a.key, null, ['A-1', 'A-2', 'A-3', 'A-4', 'A-5'])
    expect(page.data[0]).toEqual({
      id: 'A-1',
      source: 'till',
      type: 'order.upserted',
      occurredAt: '2024-07-01T10:00:00.000Z',
      receivedAt: expect.stringMatching(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/),
      data: { order: { id: 'ORD-1', total: { amount: 1250, currency: 'EUR' } } },
    })
  })

  it("shows another tenant none of this tenant's events", async () => {
    await feedShows(b.key, null, ['B-1', 'B-2'])
  })

  it('walks every event exactly once across pages, and always hands out a cursor to read on from', async () => {
    await feedShows(a.key, null, ['A-1', 'A-2', 'A-3', 'A-4', 'A-5'])
    const pages: ListPage[] = []
    let cursor: string | null = null
    do {
      const page = await getPage(t, a.key, feedUrl(cursor, 2))
      pages.push(page)
      expect(page.nextCursor).toEqual(expect.any(String))
      cursor = page.nextCursor
    } while (pages.at(-1)!.data.length === 2)
    expect(pages.map(ids)).toEqual([['A-1', 'A-2'], ['A-3', 'A-4'], ['A-5']])

    // Caught up: an empty page keeps the place, and the next event is read from it.
    const empty = await getPage(t, a.key, feedUrl(cursor))
    expect(empty).toEqual({ data: [], nextCursor: cursor })
    await addEvent(db, a.id, 'A-6')
    await feedShows(a.key, cursor, ['A-6'])
  })

  it('hands a tenant without events a cursor from which its first event is read', async () => {
    const c = await createTenant(db, 'Tenant without events yet')
    const empty = await getPage(t, c.key, '/v1/events')
    expect(empty).toEqual({ data: [], nextCursor: expect.any(String) })
    await addEvent(db, c.id, 'C-1')
    await feedShows(c.key, empty.nextCursor, ['C-1'])
  })

  it('never skips an event whose transaction commits after a later one', async () => {
    const tenant = await createTenant(db, 'Tenant with a slow writer')
    await addEvent(db, tenant.id, 'FIRST')
    const slow = await connect()
    const fast = await connect()

    await slow.query('BEGIN')
    await slow.query(INSERT_EVENT, [tenant.id, 'SLOW']) // takes the lower seq, commits last
    await fast.query(INSERT_EVENT, [tenant.id, 'FAST']) // committed at once

    // FAST is committed, yet it is not shown: the cursor must not pass SLOW while SLOW may still commit.
    const before = await vi.waitFor(
      async () => {
        const page = await getPage(t, tenant.key, '/v1/events')
        expect(ids(page)).toContain('FIRST')
        return page
      },
      { timeout: 10_000, interval: 10 },
    )
    expect(ids(before)).toEqual(['FIRST'])

    await slow.query('COMMIT')
    await feedShows(tenant.key, before.nextCursor, ['SLOW', 'FAST'])
  })

  it('lists an event by its transaction first, even when its seq is higher', async () => {
    const tenant = await createTenant(db, 'Tenant with a long transaction')
    const early = await connect()
    const late = await connect()

    await early.query('BEGIN')
    await early.query('SELECT pg_current_xact_id()') // the transaction takes its id now
    await late.query(INSERT_EVENT, [tenant.id, 'LATER-TX'])
    await early.query(INSERT_EVENT, [tenant.id, 'EARLIER-TX']) // a higher seq than LATER-TX
    const held = await getPage(t, tenant.key, '/v1/events')
    expect(ids(held)).toEqual([])

    await early.query('COMMIT')
    await feedShows(tenant.key, held.nextCursor, ['EARLIER-TX', 'LATER-TX'])
  })

  it('never shows an event whose transaction rolled back, and is not held up by it afterwards', async () => {
    const tenant = await createTenant(db, 'Tenant with a rollback')
    const aborted = await connect()
    const other = await connect()

    await aborted.query('BEGIN')
    await aborted.query(INSERT_EVENT, [tenant.id, 'ROLLED-BACK'])
    await other.query(INSERT_EVENT, [tenant.id, 'KEPT'])
    expect(ids(await getPage(t, tenant.key, '/v1/events'))).toEqual([])

    await aborted.query('ROLLBACK')
    await feedShows(tenant.key, null, ['KEPT'])
  })
})
