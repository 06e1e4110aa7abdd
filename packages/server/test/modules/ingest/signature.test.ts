import { randomUUID } from 'node:crypto'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { signPayload, verifySignature } from '../../../src/modules/ingest/signature.js'
import { startTestApp, type TestApp } from '../../helpers/app.js'
import { ingest, productUpserted } from '../../helpers/ingest.js'
import { createTenant, type TenantFixture } from '../../helpers/tenants.js'

const CURRENT = 'whsec_current_0123456789abcdef'
const PREVIOUS = 'whsec_previous_0123456789abcdef'

describe('signed sources', () => {
  let t: TestApp
  let a: TenantFixture
  beforeAll(async () => {
    t = await startTestApp()
    a = await createTenant(t.platform.database.db, { signingSecrets: [CURRENT, PREVIOUS] })
  })
  afterAll(() => t.close())

  const now = () => Math.floor(Date.now() / 1000)

  it('accepts a request signed with the current or the previous secret', async () => {
    expect(
      (await ingest(t.app, { key: a.key, events: [productUpserted('S1')], signWith: CURRENT })).statusCode,
    ).toBe(201)
    expect(
      (await ingest(t.app, { key: a.key, events: [productUpserted('S2')], signWith: PREVIOUS })).statusCode,
    ).toBe(201)
  })

  it('answers 401 when the signature is missing, 403 when it is wrong, malformed or expired', async () => {
    const events = [productUpserted('S3')]
    const missing = await ingest(t.app, { key: a.key, events })
    expect(missing.statusCode).toBe(401)
    expect(missing.json().type).toBe('/problems/signature-required')
    const wrong = await ingest(t.app, { key: a.key, events, signWith: 'whsec_wrong_secret_000000000' })
    expect(wrong.statusCode).toBe(403)
    expect(wrong.json().type).toBe('/problems/signature-invalid')
    const malformed = await ingest(t.app, { key: a.key, events, headers: { 'x-signature': 'sha256=abc' } })
    expect(malformed.statusCode).toBe(403)
    const expired = await ingest(t.app, { key: a.key, events, signWith: CURRENT, signedAt: now() - 301 })
    expect(expired.statusCode).toBe(403)
    const future = await ingest(t.app, { key: a.key, events, signWith: CURRENT, signedAt: now() + 301 })
    expect(future.statusCode).toBe(403)
  })

  it('checks the signature before the idempotency key: an unsigned replay never gets a 2xx', async () => {
    const idempotencyKey = randomUUID()
    const events = [productUpserted('S4')]
    expect((await ingest(t.app, { key: a.key, events, idempotencyKey, signWith: CURRENT })).statusCode).toBe(
      201,
    )
    expect((await ingest(t.app, { key: a.key, events, idempotencyKey })).statusCode).toBe(401)
    expect(
      (await ingest(t.app, { key: a.key, events, idempotencyKey, signWith: 'whsec_forged_0000000000000' }))
        .statusCode,
    ).toBe(403)
    // Even without an Idempotency-Key, the missing signature is what is reported.
    expect((await ingest(t.app, { key: a.key, events, idempotencyKey: null })).statusCode).toBe(401)
    const replay = await ingest(t.app, { key: a.key, events, idempotencyKey, signWith: CURRENT })
    expect(replay.statusCode).toBe(201)
    expect(replay.headers['idempotent-replayed']).toBe('true')
  })

  it('signs the exact bytes: a re-serialised body does not verify', () => {
    const body = Buffer.from('{"events":[]}')
    const t0 = now()
    const header = signPayload(CURRENT, t0, '{"events": []}')
    expect(verifySignature(header, [CURRENT], body, t0)).toBe('mismatch')
  })
})
