// Validation errors as a person reads them: one error per field, naming the field as it is written in the
// request (`events[0].type`) and saying what it must be.
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { fieldName } from '../../src/http/validation.js'
import { ADMIN_TOKEN, startTestApp, type TestApp } from '../helpers/app.js'
import { ingest } from '../helpers/ingest.js'
import { createTenant, type TenantFixture } from '../helpers/tenants.js'

const EVENT = { id: 'e-1', type: 'product.upserted', occurredAt: '2026-11-28T10:15:00Z' }
const PRODUCT = { sku: 'SKU-1', name: 'Coffee', price: { amount: 350, currency: 'EUR' } }

describe('validation errors', () => {
  let t: TestApp
  let a: TenantFixture
  beforeAll(async () => {
    t = await startTestApp()
    a = await createTenant(t.platform.database.db)
  })
  afterAll(() => t.close())

  async function refusal(events: object[]) {
    const res = await ingest(t.app, { key: a.key, body: JSON.stringify({ events }) })
    expect(res.statusCode).toBe(422)
    return res.json() as { detail: string; errors: { pointer: string; message: string }[] }
  }

  it('answers an unknown event type with one error that lists the allowed types', async () => {
    const body = await refusal([{ ...EVENT, type: 'order.upserted', data: PRODUCT }])
    expect(body.errors).toEqual([
      expect.objectContaining({
        pointer: '/events/0/type',
        message: expect.stringMatching(/^must be one of: /),
      }),
    ])
    expect(body.detail).toBe(
      'events[0].type must be one of: product.upserted, product.deleted, inventory.adjusted, inventory.counted, ' +
        'order.created, order.updated, order.completed, order.canceled, refund.created',
    )
  })

  it.each([
    [
      'a time that is not RFC 3339',
      [{ ...EVENT, occurredAt: 'yesterday', data: PRODUCT }],
      'events[0].occurredAt must be a date-time (RFC 3339, e.g. 2026-11-28T10:15:00Z)',
    ],
    [
      'a missing field of the data',
      [EVENT, { ...EVENT, id: 'e-2', data: { sku: 'S', name: 'n' } }].map((e) => ({ data: PRODUCT, ...e })),
      'events[1].data.price is required',
    ],
    [
      'an amount that is not a whole number',
      [{ ...EVENT, data: { ...PRODUCT, price: { amount: 3.5, currency: 'EUR' } } }],
      'events[0].data.price.amount must be a whole number',
    ],
    [
      'a field the data does not have',
      [{ ...EVENT, data: { ...PRODUCT, colour: 'red' } }],
      'events[0].data.colour is not a field of this object',
    ],
    ['an empty batch', [], 'events must hold at least 1 item'],
    ['an empty event id', [{ ...EVENT, id: '', data: PRODUCT }], 'events[0].id must not be empty'],
  ])('names the field and says what it must be: %s', async (_case, events, detail) => {
    const body = await refusal(events)
    expect(body.detail).toBe(detail)
    expect(body.errors).toHaveLength(1)
  })

  it('names a query parameter as one', async () => {
    const res = await t.app.inject({
      url: '/v1/products?limit=0',
      headers: { authorization: `Bearer ${a.key}` },
    })
    expect(res.statusCode).toBe(400)
    expect(res.json().detail).toBe('query parameter limit must be 1 or more')
  })

  it('says "x or null" once for a field that may be null, not one error per form', async () => {
    const tenant = await t.app.inject({
      method: 'POST',
      url: '/v1/admin/tenants',
      headers: { authorization: `Bearer ${ADMIN_TOKEN}` },
      payload: { name: 'acme' },
    })
    const res = await t.app.inject({
      method: 'PATCH',
      url: `/v1/admin/tenants/${tenant.json().id}/device-config`,
      headers: { authorization: `Bearer ${ADMIN_TOKEN}` },
      payload: { maxBatchSize: 'many' },
    })
    expect(res.statusCode).toBe(422)
    expect(res.json().errors).toEqual([
      { location: 'body', pointer: '/maxBatchSize', message: 'must be a whole number, or must be null' },
    ])
  })

  it('turns JSON pointers into field names', () => {
    expect(fieldName('/events/12/data/lineItems/0/unitPrice')).toBe('events[12].data.lineItems[0].unitPrice')
    expect(fieldName('/a~1b/c~0d')).toBe('a/b.c~d')
    expect(fieldName('')).toBe('')
  })
})
