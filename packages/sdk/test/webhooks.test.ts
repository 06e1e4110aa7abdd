// verifyWebhook against what the Standard Webhooks library and the server's own signer produce.
import { Webhook } from 'standardwebhooks'
import { describe, expect, it } from 'vitest'
import { signatureHeader } from '../../server/src/modules/webhooks/signature.js'
import { verifyWebhook } from '../src/index.js'

const secret = `whsec_${Buffer.alloc(24, 9).toString('base64')}`
const other = `whsec_${Buffer.alloc(24, 3).toString('base64')}`
const body = JSON.stringify({ type: 'order.created', data: { orderId: 'A-1', total: '12.50' } })

function signed(withSecret = secret, at = new Date()) {
  const id = 'msg_2x0w5t'
  const signature = new Webhook(withSecret).sign(id, at, body)
  return {
    'webhook-id': id,
    'webhook-timestamp': String(Math.floor(at.getTime() / 1000)),
    'webhook-signature': signature,
  }
}

describe('verifyWebhook', () => {
  it('accepts what the standardwebhooks library signs, as a record or as Headers', async () => {
    const headers = signed()
    expect(await verifyWebhook(secret, headers, body)).toBe(true)
    expect(await verifyWebhook(secret, new Headers(headers), body)).toBe(true)
    // And the library agrees with the SDK about the same delivery.
    expect(() => new Webhook(secret).verify(body, headers)).not.toThrow()
  })

  it("accepts the server's signatures during a rotation (two, space separated)", async () => {
    const now = Math.floor(Date.now() / 1000)
    const headers = {
      'webhook-id': 'msg_1',
      'webhook-timestamp': String(now),
      'webhook-signature': signatureHeader([other, secret], 'msg_1', now, body),
    }
    expect(await verifyWebhook(secret, headers, body)).toBe(true)
    expect(await verifyWebhook(other, headers, body)).toBe(true)
  })

  it('refuses a changed body, a changed id, another secret, an old timestamp and missing headers', async () => {
    const headers = signed()
    expect(await verifyWebhook(secret, headers, body.replace('12.50', '1.25'))).toBe(false)
    expect(await verifyWebhook(secret, { ...headers, 'webhook-id': 'msg_other' }, body)).toBe(false)
    expect(await verifyWebhook(other, headers, body)).toBe(false)
    const old = signed(secret, new Date(Date.now() - 10 * 60_000))
    expect(await verifyWebhook(secret, old, body)).toBe(false)
    expect(await verifyWebhook(secret, { 'webhook-id': 'msg_1' }, body)).toBe(false)
  })
})
