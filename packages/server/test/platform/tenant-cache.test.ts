// The per-tenant credentials cache on its own, over the process-local invalidation (the Redis one delivers to
// this process the same way: test/platform/invalidation.test.ts).
import { randomUUID } from 'node:crypto'
import { describe, expect, it } from 'vitest'
import { processLocalInvalidation } from '../../src/platform/invalidation.js'
import {
  CREDENTIALS_CHANNEL,
  publishCredentialsChange,
  TenantCache,
} from '../../src/platform/tenant-cache.js'

interface Row {
  readonly tenantId: string
  readonly name: string
}

describe('TenantCache', () => {
  const tenantA = randomUUID()
  const tenantB = randomUUID()

  function cacheOf(invalidation = processLocalInvalidation()) {
    const cache = new TenantCache<Row | null>(invalidation)
    const fill = (key: string, value: Row | null, tenantId?: string) =>
      cache.load(
        key,
        async () => value,
        (row) => row?.tenantId ?? tenantId,
      )
    return { invalidation, cache, fill }
  }

  it('serves what a lookup answered, a known absence included', async () => {
    const { cache, fill } = cacheOf()
    expect(cache.get('a')).toBeUndefined()
    await fill('a', { tenantId: tenantA, name: 'a' })
    await fill('gone', null, tenantA)
    expect(cache.get('a')).toEqual({ tenantId: tenantA, name: 'a' })
    expect(cache.get('gone')).toBeNull()
  })

  it("drops a tenant's entries, and only its, as soon as a change to it is published", async () => {
    const { invalidation, cache, fill } = cacheOf()
    await fill('a', { tenantId: tenantA, name: 'a' })
    await fill('a-none', null, tenantA)
    await fill('b', { tenantId: tenantB, name: 'b' })
    await fill('unknown', null)
    // Upper case, as an admin may type it: PostgreSQL matches ids case-insensitively.
    void publishCredentialsChange(invalidation, tenantA.toUpperCase())
    expect(cache.get('a')).toBeUndefined()
    expect(cache.get('a-none')).toBeUndefined()
    expect(cache.get('b')).toEqual({ tenantId: tenantB, name: 'b' })
    expect(cache.get('unknown')).toBeNull()
  })

  it('drops everything on a message that names no tenant, and when told to', async () => {
    const { invalidation, cache, fill } = cacheOf()
    await fill('a', { tenantId: tenantA, name: 'a' })
    await invalidation.publish(CREDENTIALS_CHANNEL, 'not-a-tenant-id')
    expect(cache.get('a')).toBeUndefined()
    await fill('b', { tenantId: tenantB, name: 'b' })
    cache.dropAll()
    expect(cache.get('b')).toBeUndefined()
  })

  it('answers, but does not keep, a lookup that overlapped a drop', async () => {
    const { invalidation, cache } = cacheOf()
    let answer: (row: Row) => void = () => undefined
    const pending = cache.load(
      'a',
      () => new Promise<Row>((resolve) => (answer = resolve)),
      (row) => row?.tenantId,
    )
    // The change commits and is published while the lookup is still reading the old row.
    await publishCredentialsChange(invalidation, tenantB)
    answer({ tenantId: tenantA, name: 'old' })
    expect(await pending).toEqual({ tenantId: tenantA, name: 'old' })
    expect(cache.get('a')).toBeUndefined()
  })
})
