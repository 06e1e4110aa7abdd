// Seeding for the read API tests: tenants with API keys, and rows written straight into the tables the
// ingest pipeline fills. Plus small helpers to call the API with a key and to walk a list page by page.
import { expect } from 'vitest'
import { stores } from '../../src/db/schema.js'
import type { Database } from '../../src/platform/database.js'
import { startTestApp, type TestApp } from './app.js'
import { createApiKey, createTenant as createTenantFixture } from './tenants.js'

export interface SeededTenant {
  readonly id: string
  /** An API key of the tenant with the `read` scope. */
  readonly key: string
}

/** A tenant whose key has the `read` scope only. */
export async function createTenant(db: Database, name: string): Promise<SeededTenant> {
  const { tenantId } = await createTenantFixture(db, { name })
  return { id: tenantId, key: await createApiKey(db, tenantId, ['read']) }
}

/** The internal id of a new store of the tenant. */
export async function createStore(db: Database, tenantId: string, code: string): Promise<string> {
  const [store] = await db.insert(stores).values({ tenantId, code }).returning({ id: stores.id })
  return store!.id
}

export interface ReadTestApp {
  readonly t: TestApp
  readonly db: Database
  readonly a: SeededTenant
  readonly b: SeededTenant
}

/** The real app on a fresh database, with two tenants A and B that each hold a read key. */
export async function startReadApp(): Promise<ReadTestApp> {
  const t = await startTestApp()
  const db = t.platform.database.db
  return { t, db, a: await createTenant(db, 'Tenant A'), b: await createTenant(db, 'Tenant B') }
}

export interface ListPage {
  data: Record<string, unknown>[]
  nextCursor: string | null
}

/** GET with the key as a bearer token. */
export function get(t: TestApp, key: string, url: string) {
  return t.app.inject({ method: 'GET', url, headers: { authorization: `Bearer ${key}` } })
}

/** One page of a list, which must answer 200. */
export async function getPage(t: TestApp, key: string, url: string): Promise<ListPage> {
  const res = await get(t, key, url)
  expect(res.statusCode, res.body).toBe(200)
  return res.json() as ListPage
}

/** Follows nextCursor until it is null; returns every page. */
export async function walkPages(t: TestApp, key: string, url: string, limit: number): Promise<ListPage[]> {
  const pages: ListPage[] = []
  const separator = url.includes('?') ? '&' : '?'
  let cursor: string | null = null
  do {
    const after: string = cursor === null ? '' : `&after=${cursor}`
    const page = await getPage(t, key, `${url}${separator}limit=${limit}${after}`)
    pages.push(page)
    cursor = page.nextCursor
  } while (cursor !== null && pages.length < 1000)
  return pages
}
